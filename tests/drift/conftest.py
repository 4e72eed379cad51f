"""Helpers for drift tests: outcomes and curves written to a real store."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

OUTCOME_COLUMNS = [
    "outcome_id", "rule", "version", "spec_hash", "study", "task", "order_seed", "mode",
    "compute_saved", "regret", "killed_best", "false_prune_rate", "audit_false_prune_rate",
    "trials_pruned", "n_trials", "steps_run", "cost_spent", "cost_full", "lib_versions", "created_at",
]  # fmt: skip

T0 = datetime(2026, 1, 1)


def insert_outcomes(store, rows: list[dict]) -> None:
    """Insert outcome rows; missing columns get neutral defaults, ``i`` sets id, study and time."""
    full = []
    for row in rows:
        i = row.pop("i")
        base = {
            "outcome_id": f"o{i:05d}", "rule": "median", "version": 1, "spec_hash": "h",
            "study": f"s{i:05d}", "task": "task-a", "order_seed": 0, "mode": "replay",
            "compute_saved": 0.5, "regret": 0.0, "killed_best": False, "false_prune_rate": None,
            "audit_false_prune_rate": None, "trials_pruned": 0, "n_trials": 10, "steps_run": 0,
            "cost_spent": 0.0, "cost_full": 0.0, "lib_versions": None,
            "created_at": T0 + timedelta(minutes=i),
        }  # fmt: skip
        full.append(base | row)
    frame = pd.DataFrame(full, columns=OUTCOME_COLUMNS)
    frame["audit_false_prune_rate"] = frame["audit_false_prune_rate"].astype("float64")
    frame["false_prune_rate"] = frame["false_prune_rate"].astype("float64")
    frame["lib_versions"] = frame["lib_versions"].astype("object")
    store.register("new_outcomes", frame)
    try:
        store.execute("INSERT INTO outcomes SELECT * FROM new_outcomes")
    finally:
        store.unregister("new_outcomes")


@pytest.fixture
def outcomes():
    return insert_outcomes
