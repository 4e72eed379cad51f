"""Report benchmark: the cross-task report on a store with every LCDB accuracy task and a grid of outcomes.

Builds (once; reused while the file exists) a store holding all 248 LCDB accuracy
tasks, a grid of rule versions replayed over every study under several trial
orders by the real replay engine (``policy_store.replay.evaluate``), per-trial
decisions for the studies of a few tasks, a recalibration-made rule version with
its drift event and job, and per-task recommendations from a nearest-neighbour
baseline with its comparison table (see :func:`nearest_neighbour_recommendations`),
then times the report and measures its files. Targets:
the report in under 30 s, ``report.html`` under 5 MB.

    python benchmarks/report.py                                   # builds /tmp/policy-store-report-bench.duckdb
    python benchmarks/report.py --store PATH --orders 3 --jobs 2 --out /tmp/report-bench
    python benchmarks/report.py --store /tmp/report-bench-decisions.duckdb --decision-tasks 248   # ~0.5 M decisions
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
from policy_store.reports import report

from policy_store import PolicyStore

# Rule versions of the outcome grid: Optuna's defaults and the usual knobs around them.
GRID = {
    "median": [{"n_startup_trials": 5}, {"n_startup_trials": 5, "n_warmup_steps": 2},
               {"n_startup_trials": 5, "n_warmup_steps": 4}, {"n_startup_trials": 10, "n_warmup_steps": 2}],
    "percentile": [{"percentile": 25.0}, {"percentile": 25.0, "n_warmup_steps": 2},
                   {"percentile": 75.0, "n_warmup_steps": 2}],
    "successive_halving": [{}, {"reduction_factor": 2}, {"reduction_factor": 3, "min_early_stopping_rate": 1}],
    "hyperband": [{}, {"reduction_factor": 2}],
}


def grid_refs(store: PolicyStore) -> list[str]:
    from policy_store.rules import add_rule_version

    refs = []
    for strategy, variants in GRID.items():
        for i, params in enumerate(variants):
            v = add_rule_version(store, f"{strategy}-{i}", {"strategy": strategy, "params": params},
                                 created_by="benchmarks/report.py", reason="outcome grid for the report benchmark")
            refs.append(v.ref)
    return refs


def provenance(store: PolicyStore) -> None:
    """A drift event, the recalibration job that handled it and the rule version it made."""
    from policy_store.drift.events import DriftEvent, record_event
    from policy_store.drift.jobs import finish_job, start_job

    from policy_store.rules import add_rule_version
    from policy_store.store import utcnow

    job = start_job(store, "recalibrate", trigger="benchmark")
    now = utcnow()
    event = DriftEvent.create(monitor="killed_best:ADWIN", rule="median-0", version=1, scope="all", statistic=0.21,
                              threshold=0.1, window_start=now - timedelta(hours=2), window_end=now,
                              at_outcome="benchmark", detected_at=now, job_id=job.job_id)
    record_event(store, event)
    add_rule_version(store, "median-0", {"strategy": "median", "params": {"n_startup_trials": 5, "n_warmup_steps": 3}},
                     created_by=f"recalibration {job.job_id}", source="recalibration",
                     reason="killed-best rate drifted (ADWIN); re-tuned on the latest studies",
                     drift_event_id=event.event_id, job_id=job.job_id)
    finish_job(store, job, "succeeded", watermark=None, result={"promoted": ["median-0@2"]})


def nearest_neighbour_recommendations(store: PolicyStore, lam: float = 20.0, k: int = 5) -> None:
    """Fill sections 3 and 6 at full scale without fitting the meta-learner (minutes of its own replay):
    per task, an auto-sklearn-style baseline recommends the best rule of its nearest task (min-max scaled OpenML
    meta-features, L1), recorded as model ``benchmark-nn``, with its in-sample comparison as the evaluation.
    """
    import hashlib
    import json

    from policy_store.store import utcnow

    cells = store.fetch_df(
        "SELECT task, rule || '@' || CAST(version AS VARCHAR) AS ref, any_value(spec_hash) AS spec_hash, "
        "avg(compute_saved) AS saved, avg(regret) FILTER (WHERE NOT isnan(regret)) AS regret, "
        "avg(CAST(killed_best AS DOUBLE)) AS killed FROM outcomes GROUP BY ALL")
    cells["utility"] = cells["saved"] - lam * cells["regret"]
    table = cells.set_index(["task", "ref"])
    best = cells.loc[cells.groupby("task")["utility"].idxmax()].set_index("task")["ref"]
    overall = cells.groupby("ref")[["saved", "regret", "killed", "utility"]].mean()
    feats = store.fetch_df("SELECT task, feature, value FROM meta_features WHERE source = 'openml'").pivot_table(
        index="task", columns="feature", values="value")
    feats = ((feats - feats.min()) / (feats.max() - feats.min()).replace(0, 1)).fillna(0.5)
    specs = dict(store.execute("SELECT rule || '@' || CAST(version AS VARCHAR), spec FROM rule_versions").fetchall())
    now, rows, chosen = utcnow(), [], {}
    for task in best.index:
        if task in feats.index:
            dist = (feats.drop(index=task) - feats.loc[task]).abs().sum(axis=1).nsmallest(k)
            ref = best[dist.index[0]]
            neighbours = [{"task": t, "distance": round(float(d), 4), "best_rule": best.get(t)}
                          for t, d in dist.items()]
            expected = table.loc[[(t, ref) for t in dist.index if (t, ref) in table.index]]
        else:
            ref, neighbours = overall["utility"].idxmax(), []
            expected = cells[cells["ref"] == ref]
        chosen[task] = ref
        rid = hashlib.sha256(f"benchmark-nn|{task}".encode()).hexdigest()[:16]
        rows.append([rid, task, "benchmark-nn", "{}", specs[ref],
                     json.dumps({"compute_saved": float(expected["saved"].mean()),
                                 "regret": float(expected["regret"].mean())}), json.dumps(neighbours), now])
    store.execute("DELETE FROM recommendations WHERE model_id = 'benchmark-nn'")
    store.execute("DELETE FROM meta_models WHERE model_id = 'benchmark-nn'")
    store.register("_recs", pd.DataFrame(rows, columns=["recommendation_id", "task", "model_id", "inputs", "spec",
                                                        "expected", "neighbours", "created_at"]))
    store.execute("INSERT INTO recommendations SELECT * FROM _recs")
    store.unregister("_recs")

    def method(name: str, picks: pd.Series) -> dict:
        m = table.loc[list(picks.items()), ["saved", "regret", "killed", "utility"]].mean()
        return {"method": name, "compute_saved": m["saved"], "regret": m["regret"], "killed_best_rate": m["killed"],
                "utility": m["utility"]}

    tasks = best.index
    const = lambda ref: pd.Series(ref, index=tasks)  # noqa: E731
    methods = [method("MedianPruner() (median-0)", const("median-0@1")),
               method("SuccessiveHalvingPruner() (successive_halving-0)", const("successive_halving-0@1")),
               method("HyperbandPruner() (hyperband-0)", const("hyperband-0@1")),
               method(f"best single rule ({overall['utility'].idxmax()})", const(overall["utility"].idxmax())),
               method("nearest-neighbour task's best rule", pd.Series(chosen)),
               method("per-task oracle", best)]
    evaluation = {"lambda": lam, "tasks": len(tasks), "note": "in-sample benchmark baseline, not the meta-learner",
                  "methods": methods}
    store.execute("INSERT INTO meta_models VALUES (?, ?, ?, ?, ?, ?, ?)",
                  ["benchmark-nn", "(none)", "0" * 64, "{}", "{}", json.dumps(evaluation), now])


def build_store(path: Path, orders: int, jobs: int, decision_tasks: int) -> None:
    from policy_store.datasets import lcdb

    from policy_store.replay import evaluate

    with PolicyStore(path) as store:
        t = time.perf_counter()
        print(lcdb.ingest(store, metric="accuracy", progress=True).summary())
        refs = grid_refs(store)
        t1 = time.perf_counter()
        ev = evaluate(store, refs, orders=orders, n_jobs=jobs, progress=True)
        print(f"outcome grid: {len(refs)} rule versions x {ev.outcomes['study'].nunique()} studies x {orders} orders "
              f"= {ev.inserted} outcomes in {time.perf_counter() - t1:.0f} s")
        tasks = [r[0] for r in store.execute("SELECT task FROM tasks ORDER BY task LIMIT ?",
                                             [decision_tasks]).fetchall()]
        evaluate(store, refs[:4], tasks=tasks, orders=1, n_jobs=jobs, record_decisions=True)
        provenance(store)
        nearest_neighbour_recommendations(store)
        print(f"store built in {time.perf_counter() - t:.0f} s: {store.row_counts()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=Path(tempfile.gettempdir()) / "policy-store-report-bench.duckdb")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "policy-store-report-bench")
    parser.add_argument("--orders", type=int, default=3, help="trial orders per study in the outcome grid")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="replay workers")
    parser.add_argument("--decision-tasks", type=int, default=3,
                        help="tasks whose studies get per-trial decisions of 4 rule versions (248: every task)")
    parser.add_argument("--add-recommendations", action="store_true",
                        help="add the nearest-neighbour recommendations to an existing store (done when building)")
    args = parser.parse_args()
    if not args.store.exists():
        build_store(args.store, args.orders, args.jobs, args.decision_tasks)
    elif args.add_recommendations:
        with PolicyStore(args.store) as store:
            nearest_neighbour_recommendations(store)
    with PolicyStore(args.store, read_only=True) as store:
        counts = store.row_counts()
        t = time.perf_counter()
        files = report(store, args.out)
        seconds = time.perf_counter() - t
    size = files.html.stat().st_size
    print(f"store: {counts['tasks']} tasks, {counts['studies']} studies, {counts['rule_versions']} rule versions, "
          f"{counts['outcomes']} outcomes, {counts['decisions']} decisions")
    print(f"report (library call): {seconds:.2f} s; report.html {size / 1e6:.2f} MB, report.md "
          f"{files.markdown.stat().st_size / 1e3:.0f} kB, {len(files.csv)} CSV files "
          f"({sum(p.stat().st_size for p in files.csv) / 1e6:.2f} MB)")
    cli = shutil.which("policy-store")
    from policy_store.cli.main import COMMAND_MODULES

    if cli and "report_cmd" in COMMAND_MODULES:
        t = time.perf_counter()
        done = subprocess.run([cli, "--store", str(args.store), "report", "--out", str(args.out)],
                              capture_output=True, text=True)
        print(f"`policy-store report` (new process, imports included): {time.perf_counter() - t:.2f} s, "
              f"exit {done.returncode} {done.stderr.strip()[:200]}")
    ok = seconds < 30 and size < 5e6
    print("targets (< 30 s, < 5 MB):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
