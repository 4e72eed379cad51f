"""Shared store benchmark: the DuckLake (PostgreSQL catalog) against the embedded file, and grids on Dask.

Side by side in one run:

1. ingest throughput: ``--batches`` ingest calls of ``--studies-per-batch`` synthetic studies (20 trials x 25
   steps each) into a new embedded file and into a new lake;
2. ``StorePruner`` on each: p50/p99 wall time of ``should_prune`` over one Optuna study (``--trials`` x 20
   steps, median rule), plus the time of ``finish`` (the one write: curves, decisions, live outcome);
3. grid replay: ``--rules`` rule versions x LCDB accuracy studies x 1 order, locally in this process
   (n_jobs=1) and on a ``distributed.LocalCluster`` with 2 single-threaded workers; outcome tables compared;
   the projection of 50 rules x 248 tasks x 25 seed pairs on 1/8/64 workers uses the measured cost per
   (rule, study) replay.

Without ``--lake`` a private PostgreSQL is started as the ``postgres`` user in a temporary folder (as the
tests do). Usage::

    python benchmarks/lake.py --lcdb /tmp/lcdbdl/lcdb-0.1.0.tar.gz
    python benchmarks/lake.py --lake 'ducklake:postgres:dbname=bench host=/tmp/pg?data_path=/tmp/bench-lake'
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from policy_store import PolicyStore
from policy_store.ingest import ingest_frame
from policy_store.rules import add_rule_version

MEDIAN = {"strategy": "median", "params": {"n_startup_trials": 5, "n_warmup_steps": 2}}


@contextlib.contextmanager
def private_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL with one database ``bench``; yields its lake location (data under the temp dir)."""
    bindir = Path(subprocess.run(["pg_config", "--bindir"], check=True, capture_output=True, text=True).stdout.strip())
    root = Path(tempfile.mkdtemp(prefix="ps-bench-"))
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if os.geteuid() == 0:
        os.chown(root, pwd.getpwnam("postgres").pw_uid, -1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run([*as_pg, str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--no-sync",
                    "--auth-local=trust"], **run)
    subprocess.run([*as_pg, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w", "-o",
                    f"-k {root} -p {port} -c listen_addresses='' -c fsync=off -c synchronous_commit=off",
                    "start"], **run)
    try:
        subprocess.run([str(bindir / "psql"), "-q", "-h", str(root), "-p", str(port), "-U", "postgres", "-c",
                        "CREATE DATABASE bench"], **run)
        data = Path(tempfile.mkdtemp(prefix="ps-bench-lake-"))
        yield f"ducklake:postgres:dbname=bench host={root} port={port} user=postgres?data_path={data}"
        shutil.rmtree(data, ignore_errors=True)
    finally:
        subprocess.run([*as_pg, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def synthetic(batch: int, n_studies: int, n_trials: int = 20, n_steps: int = 25) -> pd.DataFrame:
    rng = np.random.default_rng(batch)
    study, trial, step = np.meshgrid(np.arange(n_studies), np.arange(n_trials), np.arange(n_steps), indexing="ij")
    base = rng.uniform(0.2, 1.0, size=(n_studies, n_trials, 1))
    value = (base / (step + 1) + rng.normal(0, 0.01, size=step.shape)).ravel()
    return pd.DataFrame({"task": f"bench-{batch % 4}", "study": [f"b{batch}-s{s}" for s in study.ravel()],
                         "trial": trial.ravel(), "step": step.ravel(), "value": value, "cost_seconds": 0.1})


def bench_ingest(location: str, batches: int, per_batch: int) -> dict:
    frames = [synthetic(b, per_batch) for b in range(batches)]
    times = []
    with PolicyStore(location) as store:
        for frame in frames:
            t0 = time.perf_counter()
            ingest_frame(store, frame)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ingest_frame(store, frames[0])
        noop = time.perf_counter() - t0
    points = sum(len(f) for f in frames)
    return {"points": points, "seconds": sum(times), "points_per_s": points / sum(times),
            "call_p50_s": float(np.median(times)), "noop_s": noop}


def bench_pruner(location: str, n_trials: int, spool: str) -> dict:
    import optuna

    from policy_store.integrations import StorePruner

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with PolicyStore(location) as store:
        add_rule_version(store, "bench-median", MEDIAN, created_by="benchmark")
    t0 = time.perf_counter()
    pruner = StorePruner(location, task="bench-live", rule="bench-median@1", spool_dir=spool)
    setup = time.perf_counter() - t0
    study = optuna.create_study(study_name=f"live-{Path(spool).name}", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(0))
    times: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        base = trial.suggest_float("x", 0.2, 1.0)
        for step in range(20):
            trial.report(base / (step + 1), step)
            t = time.perf_counter_ns()
            verdict = trial.should_prune()
            times.append(time.perf_counter_ns() - t)
            if verdict:
                raise optuna.TrialPruned()
        return base / 20

    study.optimize(objective, n_trials=n_trials)
    t0 = time.perf_counter()
    pruner.finish(study)
    finish = time.perf_counter() - t0
    us = np.array(times) / 1e3
    return {"calls": len(times), "p50_us": float(np.percentile(us, 50)), "p99_us": float(np.percentile(us, 99)),
            "setup_s": setup, "finish_s": finish}


def bench_grid(lcdb: str | None, n_rules: int) -> dict:
    """Wall and CPU seconds of the grid, locally and on LocalCluster(2); CPU is what a busy shared box does not
    inflate, so the projection uses the local CPU cost per replay."""
    from distributed import Client, LocalCluster

    sys.path.insert(0, str(Path(__file__).parent))
    from replay import excerpt_curves, fifty_rules, lcdb_curves

    from policy_store.parallel import parallel_backend
    from policy_store.replay import replay_outcomes

    t0 = time.perf_counter()
    curves = lcdb_curves(lcdb) if lcdb else excerpt_curves()
    load = time.perf_counter() - t0
    specs = fifty_rules()[:n_rules]
    t0, c0 = time.perf_counter(), time.process_time()
    local, _ = replay_outcomes(curves, specs, [0], n_jobs=1)
    t_local, cpu_local = time.perf_counter() - t0, time.process_time() - c0
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster) as probe, parallel_backend("dask", cluster.scheduler_address):
        before = probe.run(time.process_time)
        t0 = time.perf_counter()
        remote, _ = replay_outcomes(curves, specs, [0], n_jobs=-1, chunk_size=max(len(curves) // 32, 8))
        t_dask = time.perf_counter() - t0
        after = probe.run(time.process_time)
    n = len(curves) * len(specs)
    return {"studies": len(curves), "tasks": len({c.task for c in curves}), "rules": len(specs), "load_s": load,
            "local_s": t_local, "local_cpu_s": cpu_local, "dask2_s": t_dask,
            "dask2_worker_cpu_s": sum(after[w] - before[w] for w in after), "identical": local.equals(remote),
            "per_replay_cpu_ms": 1e3 * cpu_local / n, "per_replay_wall_ms": 1e3 * t_local / n}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lake", help="an existing, empty DuckLake location (default: start a private PostgreSQL)")
    ap.add_argument("--lcdb", help="path to lcdb-0.1.0.tar.gz for the grid (default: the committed excerpt)")
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--studies-per-batch", type=int, default=25)
    ap.add_argument("--trials", type=int, default=200, help="StorePruner study size (x 20 steps)")
    ap.add_argument("--rules", type=int, default=20)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ps-bench-work-"))
    with contextlib.ExitStack() as stack:
        lake = args.lake or stack.enter_context(private_postgres())
        where = {"file": str(work / "bench.duckdb"), "lake": lake}
        print(f"ingest: {args.batches} calls x {args.studies_per_batch} studies x 20 trials x 25 steps")
        for name, location in where.items():
            r = bench_ingest(location, args.batches, args.studies_per_batch)
            print(f"  {name:4}  {r['points']:,} points in {r['seconds']:.2f} s = {r['points_per_s']:,.0f} points/s; "
                  f"p50 per call {r['call_p50_s']:.2f} s; re-ingest (no-op) {r['noop_s']:.2f} s")
        print(f"StorePruner: one study, {args.trials} trials x 20 steps, median rule")
        for name, location in where.items():
            r = bench_pruner(location, args.trials, str(work / f"spool-{name}"))
            print(f"  {name:4}  {r['calls']} should_prune: p50 {r['p50_us']:.0f} us, p99 {r['p99_us']:.0f} us; "
                  f"setup (resolve rule) {r['setup_s']:.2f} s; finish {r['finish_s']:.2f} s")
    shutil.rmtree(work, ignore_errors=True)
    g = bench_grid(args.lcdb, args.rules)
    print(f"grid: {g['rules']} rules x {g['studies']} studies ({g['tasks']} tasks) x 1 order "
          f"(curves loaded in {g['load_s']:.1f} s); outcome tables identical: {g['identical']}")
    print(f"  local n_jobs=1: wall {g['local_s']:.1f} s, CPU {g['local_cpu_s']:.1f} s")
    print(f"  LocalCluster(2 workers): wall {g['dask2_s']:.1f} s (speed-up {g['local_s'] / g['dask2_s']:.2f}), "
          f"workers' CPU {g['dask2_worker_cpu_s']:.1f} s")
    replays = 50 * 248 * 25
    per = g["per_replay_cpu_ms"] / 1e3
    print(f"  cost per (rule, study) replay: {g['per_replay_cpu_ms']:.3f} ms CPU ({g['per_replay_wall_ms']:.3f} ms "
          f"wall here); projected 50 rules x 248 tasks x 25 seed pairs = {replays:,} replays (1 order each):")
    for workers in (1, 8, 64):
        print(f"    {workers:2} workers: {replays * per / workers:.0f} s (CPU cost / workers, ideal scaling)")

if __name__ == "__main__":
    main()
