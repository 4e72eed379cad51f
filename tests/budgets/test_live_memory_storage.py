"""The live pruner's memory and step seconds on an RDB storage: one small write per report, read back by ingest."""

from __future__ import annotations

import json

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
sqlalchemy = pytest.importorskip("sqlalchemy")

from policy_store import PolicyStore  # noqa: E402
from policy_store.curves import load_study_curves  # noqa: E402
from policy_store.ingest import ingest_optuna  # noqa: E402
from policy_store.integrations import StorePruner  # noqa: E402
from policy_store.rules import add_rule_version  # noqa: E402
from policy_store.trial_resources import BLOCK, COST_ATTR, MEMORY_ATTR, step_value  # noqa: E402

LENGTHS = [3, BLOCK + 8]   # the second trial crosses into a second block
SPEC = {"strategy": "threshold", "params": {"upper": 1e9},   # never prunes: every trial reports every step
        "safeguards": {"study_budget_seconds": 1e9}}          # a time budget: seconds are recorded too


def test_each_report_writes_two_blocks_of_bounded_size_and_ingest_reads_them_back(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    path = str(tmp_path / "store.duckdb")
    with PolicyStore(path) as store:
        add_rule_version(store, "timed", SPEC, created_by="test")
    pruner = StorePruner(path, task="t", rule="timed", spool_dir=tmp_path / "spool")
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=url, pruner=pruner)
    writes: list[list[int]] = []   # per report: [SQL writes, bytes of their parameters]
    counting = [False]

    @sqlalchemy.event.listens_for(study._storage._backend.engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        if counting[0] and statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            writes[-1][0] += 1
            writes[-1][1] += len(json.dumps(parameters, default=str))

    for number, length in enumerate(LENGTHS):
        trial = study.ask()
        for step in range(length):
            trial.report(float(number + step), step)
            writes.append([0, 0])
            counting[0] = True
            assert not trial.should_prune()
            counting[0] = False
        study.tell(trial, float(number))
    pruner.close()

    w = np.array(writes)
    assert (w[:, 0] == 2).all(), "one memory and one seconds attribute per report"
    size = w[LENGTHS[0]:, 1]          # the long trial's reports, by step
    assert size[BLOCK] < size[BLOCK - 1] / 8, "a new block starts small: the write does not grow with the trial"
    assert size.max() == size[:BLOCK].max(), "no write is bigger than a full block"
    assert len(pruner._budget._running) == 1, "only the trial that ran last is kept; the others ended"

    recorded = optuna.load_study(study_name="s", storage=url).trials
    with PolicyStore(path) as store:
        ingest_optuna(store, url, task="t")
        c = load_study_curves(store, "s")
    for row, (t, length) in enumerate(zip(recorded, LENGTHS, strict=True)):
        assert c.trial_numbers[row] == t.number
        assert c.memory[row, :length].tolist() == [step_value(t.user_attrs, MEMORY_ATTR, s) for s in range(length)]
        assert c.cost[row, :length].tolist() == [step_value(t.user_attrs, COST_ATTR, s) for s in range(length)]
    assert (c.memory[c.present] > 0).all() and (c.cost[c.present] >= 0).all()
