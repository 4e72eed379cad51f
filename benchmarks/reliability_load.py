"""Load, concurrency and resource bounds (issue 14, part D), at full size.

Sections (``--only`` picks some; all run by default):

``load``
    16 Optuna worker processes x 50 trials on ONE study (JournalStorage), every one pruned by ``StorePruner``,
    on the embedded file and on a DuckLake, while ``policy-store recalibrate`` and ``policy-store report`` run
    in a loop; then absorb. Prints decisions expected / recorded / lost / duplicated and should_prune p50/p99.
``soak``
    8 writer processes ("hosts") on one DuckLake for ``--minutes`` doing mixed writes, SIGKILLed at random and
    restarted; every write acknowledged before a kill must be there at the end. Prints commits, kills, lost.
``csv``
    Long-format CSV files of growing size (up to ``--csv-gb``) generated in ``--tmp`` and deleted after; each
    ingested in a fresh process: peak RSS and time of the streamed ingest, against reading the file whole
    (the anchor) where that fits.
``report``
    The cross-task report on a store of ``--report-tasks`` tasks: time and size of its files.

    python benchmarks/reliability_load.py                                   # everything, full size
    python benchmarks/reliability_load.py --only csv --csv-gb 5
    python benchmarks/reliability_load.py --only load --workers 16 --trials 50
    python benchmarks/reliability_load.py --only soak --minutes 10
    python benchmarks/reliability_load.py --only report --report-tasks 10000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
ENV = {**os.environ, "PYTHONPATH": str(REPO)}

# Ingests one file in a fresh process; prints JSON: seconds, peak RSS (MB) and the RSS before the ingest.
_INGEST = """
import json, resource, sys, time
from policy_store import PolicyStore
from policy_store.ingest import ingest_csv_stream, ingest_file
mode, csv, store_path = sys.argv[1:4]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
with PolicyStore(store_path) as store:
    report = ingest_csv_stream(store, csv) if mode == "stream" else ingest_file(store, csv)
    points = store.scalar("SELECT count(*) FROM curve_points")
print(json.dumps({"seconds": time.perf_counter() - t, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                  / 1024, "base_mb": base, "points": points, "summary": report.summary()}))
"""


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _ingest_child(mode: str, csv: Path, store: Path) -> dict:
    """Ingest in a fresh process, sampling its RSS every half second: a bounded ingest plateaus, so the peak of
    the run's second half is no higher than the first half's."""
    child = subprocess.Popen([sys.executable, "-c", _INGEST, mode, str(csv), str(store)], env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []
    start = time.perf_counter()
    while child.poll() is None:
        rss = _rss_mb(child.pid)
        if rss is not None:
            samples.append((time.perf_counter() - start, rss))
        time.sleep(0.5)
    stdout, stderr = child.communicate()
    if child.returncode != 0:
        return {"error": stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {child.returncode}"}
    result = json.loads(stdout.strip().splitlines()[-1])
    half = samples[-1][0] / 2 if samples else 0.0
    result["first_half_mb"] = max((r for t, r in samples if t <= half), default=0.0)
    result["second_half_mb"] = max((r for t, r in samples if t > half), default=0.0)
    return result


def csv_section(args: argparse.Namespace) -> None:
    from tests.reliability.bigcsv import write_long_csv

    sizes = [float(s) for s in args.csv_sizes.split(",")] if args.csv_sizes else [
        s for s in (0.05, 0.5, args.csv_gb) if s <= args.csv_gb]
    print(f"\n### CSV ingest: peak RSS and time vs file size (streamed; anchor: read whole up to "
          f"{args.whole_max_gb} GB)")
    print("| file | rows | mode | seconds | MB/s | peak RSS MB | RSS over interpreter MB | RSS / file size "
          "| peak RSS MB, 1st / 2nd half of the run |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for gb in dict.fromkeys(sizes):
        work = Path(tempfile.mkdtemp(prefix="rel-load-csv-", dir=args.tmp))
        try:
            csv = work / "curves.csv"
            rows = write_long_csv(csv, int(gb * 1e9))
            size = csv.stat().st_size
            modes = ["stream"] + (["whole"] if gb <= args.whole_max_gb else [])
            for mode in modes:
                store = work / f"{mode}.duckdb"
                r = _ingest_child(mode, csv, store)
                store.unlink(missing_ok=True)
                Path(f"{store}.wal").unlink(missing_ok=True)
                if "error" in r:
                    print(f"| {size / 1e9:.2f} GB | {rows:,} | {mode} | failed: {r['error']} | | | | | |")
                    continue
                assert r["points"] == rows, r
                over = r["peak_mb"] - r["base_mb"]
                print(f"| {size / 1e9:.2f} GB | {rows:,} | {mode} | {r['seconds']:.1f} | "
                      f"{size / 1e6 / r['seconds']:.1f} | {r['peak_mb']:.0f} | {over:.0f} | "
                      f"{r['peak_mb'] / (size / 2**20):.2f} | {r['first_half_mb']:.0f} / {r['second_half_mb']:.0f} |",
                      flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="load,soak,csv,report", help="comma-separated sections")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--trials", type=int, default=50, help="trials per worker")
    parser.add_argument("--minutes", type=float, default=10.0, help="soak duration")
    parser.add_argument("--hosts", type=int, default=8, help="soak writer processes")
    parser.add_argument("--csv-gb", type=float, default=5.0)
    parser.add_argument("--csv-sizes", help="comma-separated GB, instead of 0.05,0.5,CSV_GB")
    parser.add_argument("--whole-max-gb", type=float, default=0.5, help="largest file also read whole (anchor)")
    parser.add_argument("--report-tasks", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0, help="soak kill schedule")
    parser.add_argument("--tmp", default=tempfile.gettempdir(), help="where generated files go (deleted after)")
    args = parser.parse_args()
    sections = {"load": load_section, "soak": soak_section, "csv": csv_section, "report": report_section}
    for name in args.only.split(","):
        started = time.perf_counter()
        sections[name](args)
        print(f"({name}: {time.perf_counter() - started:.0f} s)", flush=True)


def _lake(stack: contextlib.ExitStack) -> str:
    from lake import private_postgres  # benchmarks/lake.py: a throwaway PostgreSQL with one database

    return stack.enter_context(private_postgres())


def _check(location: str) -> str:
    from tests.reliability.load import check_ok

    return {True: "check_store ok", False: "check_store FAILED", None: "check_store not on this branch"}[
        check_ok(location)]


def load_section(args: argparse.Namespace) -> None:
    from tests.reliability.load import prepare, run_load

    print(f"\n### Load: {args.workers} workers x {args.trials} trials on one study (JournalStorage), StorePruner "
          "median@1, `policy-store recalibrate` + `policy-store report` in a loop meanwhile, then absorb")
    print("| store | should_prune calls | recorded | distinct ids | lost | duplicated | trials | p50 ms | p99 ms | "
          "max ms | wall s | side jobs (exit code: runs) | check |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rel-load-", dir=args.tmp)))
        for kind in ("file", "lake"):
            location = str(work / "store.duckdb") if kind == "file" else _lake(stack)
            prepare(location)
            r = run_load(location, work / kind, workers=args.workers, trials=args.trials, timeout=3600)
            side = "; ".join(f"{job} {counts}" for job, counts in r.side_jobs.items())
            if r.side_errors:
                side += f"; ERRORS: {r.side_errors[:2]}"
            print(f"| {kind} | {r.calls} | {r.recorded} | {r.distinct_ids} | {r.lost} | {r.duplicated} | "
                  f"{r.trials_recorded} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.1f} | {r.wall_s:.0f} | {side} | "
                  f"{_check(location)} |", flush=True)


def soak_section(args: argparse.Namespace) -> None:
    from tests.reliability.soak import run_soak

    print(f"\n### Lake soak: {args.hosts} writer processes for {args.minutes:g} min, SIGKILL every 1-4 s at random")
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rel-soak-", dir=args.tmp)))
        location = _lake(stack)
        r = run_soak(location, work, hosts=args.hosts, seconds=args.minutes * 60, seed=args.seed)
        print(f"commits acknowledged: {sum(r.commits.values())} {r.commits}; failed with a typed error: "
              f"{sum(r.failures.values())} {r.failures}; kills: {r.kills}; acknowledged but lost: {len(r.lost)}; "
              f"worker crashes (tracebacks): {len(r.crashed)}; {_check(location)}")
        for line in r.lost[:5] + r.crashed[:3] + r.failure_messages[:3]:
            print(f"  {line}")


def report_section(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd
    from policy_store.reports import report

    from policy_store import PolicyStore
    from policy_store.ingest import ingest_frame
    from policy_store.replay import evaluate
    from policy_store.rules import add_rule_version

    n, trials, steps = args.report_tasks, 10, 10
    rng = np.random.default_rng(0)
    task, trial, step = np.meshgrid(np.arange(n), np.arange(trials), np.arange(steps), indexing="ij")
    base = rng.uniform(0.2, 1.0, (n, trials, 1))
    frame = pd.DataFrame({"task": [f"task-{t:05d}" for t in task.ravel()],
                          "study": [f"study-{t:05d}" for t in task.ravel()], "trial": trial.ravel(),
                          "step": step.ravel(), "value": (base / (step + 1) + rng.normal(0, 0.02, step.shape)).ravel(),
                          "cost_seconds": 1.0})
    print(f"\n### Report on {n:,} tasks ({n:,} studies x {trials} trials x {steps} steps; 3 rule versions replayed, "
          "1 trial order; targets: under 30 s, report.html under 5 MB)")
    with tempfile.TemporaryDirectory(prefix="rel-report-", dir=args.tmp) as tmp, \
            PolicyStore(Path(tmp) / "store.duckdb") as store:
        t0 = time.perf_counter()
        ingest_frame(store, frame)
        refs = [add_rule_version(store, f"median-{w}", {"strategy": "median", "params": {"n_warmup_steps": w}},
                                 created_by="benchmarks/reliability_load.py").ref for w in (0, 2, 4)]
        evaluate(store, refs, orders=1)
        built = time.perf_counter() - t0
        outcomes = store.scalar("SELECT count(*) FROM outcomes")
        t0 = time.perf_counter()
        files = report(store, Path(tmp) / "out")
        seconds = time.perf_counter() - t0
        out = Path(tmp) / "out"
        html, md = (out / "report.html").stat().st_size, (out / "report.md").stat().st_size
        csvs = list(out.glob("*.csv"))
        csv_mb = sum(c.stat().st_size for c in csvs) / 1e6
        text = (out / "report.md").read_text()  # what HTML/Markdown cut: "Showing N of M rows; X.csv has all."
        cut = [line.strip("_ ") for line in text.splitlines() if "Showing " in line]
    print(f"store built in {built:.0f} s ({outcomes:,} outcomes); report {seconds:.1f} s; {files.html.name} "
          f"{html / 1e6:.2f} MB; report.md {md / 1e3:.0f} kB; {len(csvs)} CSV files {csv_mb:.2f} MB")
    for line in cut[:6]:
        print(f"  cut note: {line[:160]}")


if __name__ == "__main__":
    main()
