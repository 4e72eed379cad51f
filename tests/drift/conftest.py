"""Helpers for drift tests: outcomes and curves written to a real store."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from policy_store import PolicyStore
from policy_store.ingest import ingest_frame
from policy_store.replay import evaluate
from policy_store.rules import add_rule_version

OUTCOME_COLUMNS = [
    "outcome_id", "rule", "version", "spec_hash", "study", "task", "order_seed", "mode",
    "compute_saved", "regret", "killed_best", "false_prune_rate", "audit_false_prune_rate",
    "trials_pruned", "n_trials", "steps_run", "cost_spent", "cost_full", "lib_versions", "created_at",
]  # fmt: skip

T0 = datetime(2026, 1, 1)


def insert_outcomes(store, rows: list[dict]) -> None:
    """Insert outcome rows (and their studies); missing columns get neutral defaults, ``i`` sets id, study and time.

    Rule ``median`` (version 1, made at ``T0 - 1 day``) and task ``task-a`` are created if missing;
    study ``s<i>`` is ingested at ``T0 + i minutes``, so every study is in version 1's window.
    """
    if not store.scalar("SELECT count(*) FROM rule_versions WHERE rule = 'median'"):
        add_rule_version(store, "median", {"strategy": "median"}, created_by="test")
        store.execute("UPDATE rule_versions SET created_at = ? WHERE rule = 'median'", [T0 - timedelta(days=1)])
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
        store.execute("INSERT INTO tasks SELECT DISTINCT task, 'accuracy', 'maximize', ? FROM new_outcomes "
                      "WHERE task NOT IN (SELECT task FROM tasks)", [T0])
        store.execute("INSERT INTO studies SELECT study, any_value(task), 'h', 10, 100, 'test', min(created_at) "
                      "FROM new_outcomes WHERE study NOT IN (SELECT study FROM studies) GROUP BY study")
    finally:
        store.unregister("new_outcomes")


@pytest.fixture
def outcomes():
    return insert_outcomes


N_TRIALS, N_STEPS = 8, 10


def studies(prefix: str, n: int, *, late_bloomer: bool | float, seed: int, dip: int = 2) -> pd.DataFrame:
    """Loss curves (minimised). With ``late_bloomer`` the last trial looks worst until step ``dip``, then best.

    A float ``late_bloomer`` is the chance that a study has one (a stable mix, no change).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        levels = rng.uniform(0.5, 1.0, N_TRIALS)
        bloomer = rng.random() < late_bloomer
        for t in range(N_TRIALS):
            for k in range(N_STEPS):
                value = levels[t] - 0.01 * k
                if bloomer and t == N_TRIALS - 1:
                    value = 2.0 if k < dip else 0.1
                rows.append({"task": f"task-{prefix}", "study": f"{prefix}-{s:03d}", "trial": t, "step": k,
                             "value": value})  # fmt: skip
    return pd.DataFrame(rows)


def ingest_and_evaluate(store, frame: pd.DataFrame, rule: str = "median") -> None:
    """Each study ingested on its own (so each has its own ingestion time), then the rule's outcomes."""
    for _, one in frame.groupby("study", sort=True):
        ingest_frame(store, one, direction="minimize")
    evaluate(store, rule, studies=sorted(frame["study"].unique()), orders=1)


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    """Store files built once: rule median@1 evaluated on task a, and then also on the drifted task b."""
    root = tmp_path_factory.mktemp("drift-templates")
    with PolicyStore(root / "a.duckdb") as store:
        add_rule_version(store, "median", {"strategy": "median"}, created_by="test", reason="baseline")
        ingest_and_evaluate(store, studies("a", 80, late_bloomer=False, seed=0))
    shutil.copy(root / "a.duckdb", root / "ab.duckdb")
    with PolicyStore(root / "ab.duckdb") as store:
        ingest_and_evaluate(store, studies("b", 60, late_bloomer=True, seed=1))
    return root


def store_from(templates, name: str, tmp_path) -> str:
    path = tmp_path / "store.duckdb"
    shutil.copy(templates / f"{name}.duckdb", path)
    return str(path)
