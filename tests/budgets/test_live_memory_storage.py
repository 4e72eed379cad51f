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
from policy_store.trial_resources import COST_ATTR, MEMORY_ATTR, step_attr  # noqa: E402

TRIALS, STEPS = 2, 20
SPEC = {"strategy": "threshold", "params": {"upper": 1e9},   # never prunes: every trial reports every step
        "safeguards": {"study_budget_seconds": 1e9}}          # a time budget: seconds are recorded too


def test_each_report_writes_two_small_attributes_and_ingest_reads_them_back(tmp_path):
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

    for number in range(TRIALS):
        trial = study.ask()
        for step in range(STEPS):
            trial.report(float(number + step), step)
            writes.append([0, 0])
            counting[0] = True
            assert not trial.should_prune()
            counting[0] = False
        study.tell(trial, float(number))
    pruner.close()

    w = np.array(writes)
    assert (w[:, 0] == 2).all(), "one memory and one seconds attribute per report"
    assert w[:, 1].max() <= w[0, 1] + 8, "the same size at the last report as at the first (only digits grow)"
    assert len(pruner._budget._running) == 1, "only the trial that ran last is kept; the others ended"

    recorded = optuna.load_study(study_name="s", storage=url).trials
    with PolicyStore(path) as store:
        ingest_optuna(store, url, task="t")
        c = load_study_curves(store, "s")
    for row, t in zip(c.trial_numbers, recorded, strict=True):
        assert row == t.number
        assert c.memory[row].tolist() == [t.user_attrs[step_attr(MEMORY_ATTR, s)] for s in range(STEPS)]
        assert c.cost[row].tolist() == [t.user_attrs[step_attr(COST_ATTR, s)] for s in range(STEPS)]
    assert (c.memory > 0).all() and (c.cost >= 0).all()
