"""Names with control characters never reach the store through the live path: refused at should_prune time."""

from __future__ import annotations

import json

import optuna
import pytest

from policy_store import InvalidInputError, PolicyStore
from policy_store.check import check_store
from policy_store.integrations import SpoolWriter, StorePruner, absorb_spool

BAD = {"NUL": "run\x00", "newline": "run\n7", "ESC": "run\x1b[2J", "tab": "run\t7", "C1": "run\x9b"}


def _objective(trial):
    value = 1.0
    for step in range(4):
        value *= 1 - trial.suggest_float("rate", 0.1, 0.9) / 2
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


@pytest.mark.parametrize("kind", list(BAD))
def test_a_study_name_with_a_control_character_is_refused_at_should_prune(store_path, tmp_path, kind):
    spool = tmp_path / "spool"
    pruner = StorePruner(store_path, task="t", rule="median", spool_dir=spool)
    study = optuna.create_study(study_name=BAD[kind], pruner=pruner)
    with pytest.raises(InvalidInputError, match="control character") as caught:
        study.optimize(_objective, n_trials=3)
    assert caught.value.field == "study"
    pruner.close()
    assert [p.read_bytes() for p in spool.glob("*")] == []  # not one decision spooled


@pytest.mark.parametrize("kind", list(BAD))
def test_a_task_name_with_a_control_character_is_refused_before_the_study_runs(store_path, tmp_path, kind):
    with pytest.raises(InvalidInputError, match="control character") as caught:
        StorePruner(store_path, task=BAD[kind], rule="median", spool_dir=tmp_path / "spool")
    assert caught.value.field == "task"


def test_a_forged_spool_line_with_a_control_character_is_refused_by_absorb(store_path, tmp_path):
    spool = tmp_path / "spool"
    writer = SpoolWriter(spool)
    with PolicyStore(store_path, read_only=True) as store:
        spec_hash = store.scalar("SELECT spec_hash FROM rule_versions WHERE rule = 'median'")
    writer.append({"decision_id": "d", "study": "s", "trial": "0", "trial_number": 0, "step": 0, "value": 0.5,
                   "threshold": None, "ref_size": 0, "verdict": "continue", "reason": "r", "rule": "median",
                   "version": 1, "spec_hash": spec_hash, "decided_at": "2026-01-01T00:00:00"})
    writer.close()
    line = json.loads(writer.path.read_text())
    writer.path.write_text(json.dumps({**line, "study": "s\u001b[31m"}) + "\n")  # forged after the writer's check
    with PolicyStore(store_path) as store:
        with pytest.raises(InvalidInputError, match="control character") as caught:
            absorb_spool(store, spool)
        assert caught.value.field == "study"
        assert store.scalar("SELECT count(*) FROM decisions") == 0
        assert check_store(store).ok
