"""A small store with something in every report section, including hostile names.

Outcomes and decisions are written as rows (seeded), not replayed: the report reads tables, and its
tests should not depend on the replay engine (the benchmark runs the real replay).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest
from policy_store.drift.events import DriftEvent, record_event

from policy_store import PolicyStore
from policy_store.ingest import ingest_frame
from policy_store.rules import add_rule_version
from policy_store.store import utcnow

EVIL = "<script>alert(1)</script>"


def _frame() -> pd.DataFrame:
    """Two tasks (one named like an injection) x 3 studies x 8 trials x 6 steps of maximised accuracy."""
    import numpy as np

    rng = np.random.default_rng(7)
    rows = []
    for task in ("tabular/a", EVIL):
        for s in range(3):
            for t in range(8):
                top = rng.uniform(0.6, 0.95)
                speed = rng.uniform(0.3, 1.5)
                for k in range(6):
                    rows.append({"task": task, "study": f"{task}|study-{s}", "trial": f"trial-{t}", "step": k,
                                 "value": top * (1 - np.exp(-speed * (k + 1))), "cost_seconds": 1.0,
                                 "direction": "maximize"})
    return pd.DataFrame(rows)


def fill(store: PolicyStore) -> None:
    ingest_frame(store, _frame())
    versions = [
        add_rule_version(store, "median", {"strategy": "median", "params": {"n_startup_trials": 2}},
                         created_by="alice", reason="Optuna default"),
        add_rule_version(store, "median", {"strategy": "median", "params": {"n_startup_trials": 2,
                                                                            "n_warmup_steps": 2}},
                         created_by=f"bob {EVIL}", reason=f"noisy early steps {EVIL}"),
        add_rule_version(store, "pct", {"strategy": "percentile", "params": {"percentile": 30.0}},
                         created_by="carol", reason="aggressive"),
    ]
    _outcomes_and_decisions(store, versions)
    now = utcnow()
    event = DriftEvent.create(monitor=f"regret:{EVIL}", rule="pct", version=1, scope="all", statistic=0.2,
                              threshold=0.1, window_start=now - timedelta(hours=1), window_end=now, at_outcome="o",
                              detected_at=now, job_id="job-1")
    record_event(store, event)
    store.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  ["job-1", "recalibrate", "succeeded", "cron", now, now + timedelta(seconds=5), None, "{}"])
    add_rule_version(store, "pct", {"strategy": "percentile", "params": {"percentile": 20.0, "n_startup_trials": 2}},
                     created_by="recalibration job-1", source="recalibration", reason="regret drifted",
                     drift_event_id=event.event_id, job_id="job-1")
    evaluation = {"lambda": 20, "methods": [
        {"method": "MedianPruner()", "compute_saved": 0.436, "regret": 0.0081, "killed_best_rate": 0.29},
        {"method": f"meta-learned {EVIL}", "compute_saved": 0.62, "regret": 0.004, "killed_best_rate": 0.1}]}
    store.execute("INSERT INTO meta_models VALUES (?, ?, ?, ?, ?, ?, ?)",
                  ["model-1", "/tmp/model.pkl", "0" * 64, "{}", "{}", json.dumps(evaluation), now])
    spec = store.scalar("SELECT spec FROM rule_versions WHERE rule = 'median' AND version = 2")
    store.execute("INSERT INTO recommendations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  ["rec-1", EVIL, "model-1", "{}", spec, json.dumps({"compute_saved": 0.3, "regret": 0.01}),
                   json.dumps([{"task": "tabular/a", "distance": 0.25}]), now])


def _outcomes_and_decisions(store: PolicyStore, versions) -> None:
    """Per version x study x order (0, 1): one outcome; per trial of order 0: one decision."""
    import numpy as np

    rng = np.random.default_rng(11)
    now = utcnow()
    outcomes, decisions = [], []
    studies = store.fetch_dicts("SELECT study, task FROM studies ORDER BY study")
    for i, v in enumerate(versions):
        for s in studies:
            for order in (0, 1):
                saved = 0.2 + 0.2 * i + rng.uniform(0, 0.1)
                outcomes.append([f"{v.spec_hash}|{s['study']}|{order}", v.rule, v.version, v.spec_hash, s["study"],
                                 s["task"], order, "replay", saved, float(rng.uniform(0, 0.01) * (i + 1)),
                                 bool(rng.random() < 0.2 * i), float(rng.uniform(0, 0.3)), float("nan"),
                                 int(3 + i), 8, 40, 40.0, 48.0, "{}", now])
            for t in range(8):
                prune = t >= 2 and rng.random() < 0.3 + 0.2 * i
                step = int(rng.integers(1, 4)) if prune else 5
                decisions.append([f"{v.spec_hash}|{s['study']}|{t}", s["study"], f"trial-{t}", t, step,
                                  float(rng.uniform(0.3, 0.9)), 0.5 if prune else float("nan"), 2 if prune else 0,
                                  "prune" if prune else "continue", v.spec.strategy if prune else "ran to the end",
                                  v.rule, v.version, v.spec_hash, "replay", 0, now])
    for table, rows in (("outcomes", outcomes), ("decisions", decisions)):
        columns = [r[0] for r in store.execute("SELECT column_name FROM information_schema.columns "
                                               "WHERE table_name = ? ORDER BY ordinal_position", [table]).fetchall()]
        store.register("_rows", pd.DataFrame(rows, columns=columns))
        store.execute(f"INSERT INTO {table} SELECT * FROM _rows")  # noqa: S608 - constant table names
        store.unregister("_rows")


@pytest.fixture(scope="package")
def report_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("report-store") / "store.duckdb"
    with PolicyStore(path) as store:
        fill(store)
    return path
