"""Ingest throughput: policy-store's Arrow/SQL path against a row-by-row ``executemany`` insert.

Both run in this process, on the same rows, side by side. The bulk path ingests the
whole LCDB accuracy corpus (about 2 million points, validated, hashed, one
transaction). ``executemany`` takes minutes for that many rows, so it is timed on
the first ``--baseline-rows`` of the same rows (in one transaction, the fastest way
to use it) and compared by rows per second.

    python benchmarks/ingest.py                 # LCDB accuracy (downloads the 68 MB sdist once)
    python benchmarks/ingest.py --synthetic     # an equal-sized synthetic corpus, no download
    python benchmarks/ingest.py --vs-duckdb --rows 1000000,5000000

``--vs-duckdb`` (issue 23's anchor): ``policy-store ingest FILE`` into a fresh
store against DuckDB's own load of the same file into a fresh database file
(``CREATE TABLE`` then ``INSERT INTO ... SELECT * FROM read_csv(...)`` /
``read_parquet(...)``, no validation, no hashing), each in its own fresh
process, alternating, on synthetic long-format files of the given sizes (CSV
and Parquet, cached under ``~/.cache/policy-store/bench-ingest``). Per run:
wall and CPU seconds (the child's user + system time) and its peak RSS; the
ratio is DuckDB's time over ours (>= 0.6x is the target) and our peak memory
over DuckDB's (<= 1.5x).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from policy_store import PolicyStore
from policy_store.ingest import ingest_frame


def lcdb_frame() -> pd.DataFrame:
    from policy_store.datasets import lcdb

    return lcdb.long_frame(lcdb.read_curves("accuracy", progress=True), metric="accuracy")


def synthetic_frame(n_studies: int = 7000, n_trials: int = 20, n_steps: int = 14, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = np.repeat(np.arange(n_studies), n_trials * n_steps)
    t = np.tile(np.repeat(np.arange(n_trials), n_steps), n_studies)
    k = np.tile(np.arange(n_steps), n_studies * n_trials)
    return pd.DataFrame(
        {
            "task": "synthetic/" + (s // 30).astype(str),
            "study": "synthetic/" + s.astype(str),
            "trial": "learner-" + t.astype(str),
            "step": k,
            "value": rng.random(len(s)),
            "cost_seconds": rng.random(len(s)),
            "direction": "maximize",
        }
    )


def executemany_rows_per_second(frame: pd.DataFrame, n_rows: int, path: Path) -> tuple[float, int]:
    rows = list(
        frame[["study", "trial", "step", "value", "cost_seconds"]]
        .head(n_rows)
        .astype({"study": object, "trial": object})
        .itertuples(index=False, name=None)
    )
    with PolicyStore(path) as store:
        start = time.perf_counter()
        with store.atomic():
            store.con.executemany("INSERT INTO curve_points VALUES (?, ?, ?, ?, ?)", rows)
        seconds = time.perf_counter() - start
    return len(rows) / seconds, len(rows)


CACHE = Path.home() / ".cache" / "policy-store" / "bench-ingest"
DUCKDB_LOAD = """
import sys, duckdb
path, fmt, db = sys.argv[1:4]
con = duckdb.connect(db)
reader = "read_csv" if fmt == "csv" else "read_parquet"
con.execute(f"CREATE TABLE points AS SELECT * FROM {reader}(?) LIMIT 0", [path])
con.execute(f"INSERT INTO points SELECT * FROM {reader}(?)", [path])
print(con.execute("SELECT count(*) FROM points").fetchone()[0])
con.close()
"""


def bench_file(n_rows: int, fmt: str) -> Path:
    """A synthetic long-format file of ``n_rows`` points (20 trials x 14 steps per study), made once."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"synthetic-{n_rows}.{fmt}"
    if not path.exists():
        frame = synthetic_frame(n_studies=-(-n_rows // 280)).head(n_rows)
        tmp = path.with_suffix(".tmp")
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        tmp.replace(path)
    return path


def timed(args: list[str]) -> tuple[float, float, float]:
    """Run ``args`` as a child; its wall seconds, CPU seconds (user + system) and peak RSS in MiB."""
    # through /usr/bin/time: a child forked from this (large) process would count its pages in its own peak RSS
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{args} failed: {done.stderr}")
    user, system, peak_kib = (float(x) for x in done.stderr.strip().splitlines()[-1].split())
    return wall, user + system, peak_kib / 1024


def vs_duckdb(sizes: list[int], formats: list[str], runs: int) -> None:
    print(f"1-min load average at the start {os.getloadavg()[0]:.1f}")
    print("| file | rows | DuckDB wall / CPU s | policy-store wall / CPU s | ratio wall | ratio CPU | "
          "peak RSS DuckDB / ours MiB | memory ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        for fmt in formats:
            path = bench_file(n, fmt)
            ours, duck = [], []
            with tempfile.TemporaryDirectory() as tmp:
                for k in range(runs):
                    db, store = Path(tmp) / f"duck{k}.duckdb", Path(tmp) / f"store{k}.duckdb"
                    duck.append(timed([sys.executable, "-c", DUCKDB_LOAD, str(path), fmt, str(db)]))
                    ours.append(timed([sys.executable, "-m", "policy_store", "--store", str(store), "ingest",
                                       str(path)]))
                    db.unlink()
                    store.unlink()
            d, o = (np.median(np.array(x), axis=0) for x in (duck, ours))
            print(f"| {path.name} | {n:,} | {d[0]:.2f} / {d[1]:.2f} | {o[0]:.2f} / {o[1]:.2f} | "
                  f"{d[0] / o[0]:.2f}x | {d[1] / o[1]:.2f}x | {d[2]:.0f} / {o[2]:.0f} | {o[2] / d[2]:.2f}x |",
                  flush=True)
    print(f"(median of {runs} alternating runs each; ratio = DuckDB's time / ours, target >= 0.6x; memory = ours / "
          f"DuckDB's, target <= 1.5x; 1-min load average at the end {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="use an equal-sized synthetic corpus")
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    parser.add_argument("--vs-duckdb", action="store_true", help="against DuckDB's own load of the same file")
    parser.add_argument("--rows", default="1000000,5000000", help="with --vs-duckdb: file sizes in rows")
    parser.add_argument("--formats", default="csv,parquet", help="with --vs-duckdb")
    parser.add_argument("--runs", type=int, default=3, help="with --vs-duckdb: runs of each side (median)")
    args = parser.parse_args()
    if args.vs_duckdb:
        vs_duckdb([int(n) for n in args.rows.split(",")], args.formats.split(","), args.runs)
        return
    frame = synthetic_frame() if args.synthetic else lcdb_frame()
    corpus = "synthetic" if args.synthetic else "LCDB accuracy"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with PolicyStore(Path(tmp) / "bulk.duckdb") as store:
            report = ingest_frame(store, frame, source="benchmark")
            points = store.scalar("SELECT count(*) FROM curve_points")
        bulk_seconds = time.perf_counter() - start
        assert points == len(frame) == report.points_written, (points, len(frame))
        baseline, n = executemany_rows_per_second(frame, args.baseline_rows, Path(tmp) / "rows.duckdb")
    bulk = len(frame) / bulk_seconds
    print(f"corpus: {corpus}, {len(frame):,} points in {len(report.added):,} studies")
    print(f"policy-store ingest_frame: {bulk_seconds:6.2f} s  {bulk:12,.0f} rows/s (validate + hash + write + commit)")
    print(f"executemany row by row : {n / baseline:6.2f} s  {baseline:12,.0f} rows/s (first {n:,} rows)")
    print(f"throughput ratio: {bulk / baseline:,.0f}x (target >= 50x); full ingest under 10 s: {bulk_seconds < 10}")


if __name__ == "__main__":
    main()
