"""Ingest throughput: policy-store's Arrow/SQL path against a row-by-row ``executemany`` insert.

Both run in this process, on the same rows, side by side. The bulk path ingests the
whole LCDB accuracy corpus (about 2 million points, validated, hashed, one
transaction). ``executemany`` takes minutes for that many rows, so it is timed on
the first ``--baseline-rows`` of the same rows (in one transaction, the fastest way
to use it) and compared by rows per second.

    python benchmarks/ingest.py                 # LCDB accuracy (downloads the 68 MB sdist once)
    python benchmarks/ingest.py --synthetic     # an equal-sized synthetic corpus, no download
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="use an equal-sized synthetic corpus")
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    args = parser.parse_args()
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
