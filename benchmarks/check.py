"""`policy-store check` on a big store: seconds per million points, against ingesting the same store.

Ingests the LCDB accuracy corpus (about 2 million points) into a fresh file store, times the ingest (the
anchor: validate + hash + write), then times :func:`policy_store.check.check_store` on the store reopened
read-only, whose dominant cost is re-hashing every point with ingest's own code. Then it changes one point
and checks again, to show the check finds it.

    python benchmarks/check.py                 # LCDB accuracy (the cached sdist, or downloads it once)
    python benchmarks/check.py --synthetic     # an equal-sized synthetic corpus, no download
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ingest import lcdb_frame, synthetic_frame

from policy_store import PolicyStore
from policy_store.check import check_store
from policy_store.ingest import ingest_frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="use an equal-sized synthetic corpus")
    args = parser.parse_args()
    frame = synthetic_frame() if args.synthetic else lcdb_frame()
    corpus = "synthetic" if args.synthetic else "LCDB accuracy"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.duckdb"
        start = time.perf_counter()
        with PolicyStore(path) as store:
            studies = len(ingest_frame(store, frame, source="benchmark").added)
        ingest_seconds = time.perf_counter() - start
        with PolicyStore(path, read_only=True) as store:
            start = time.perf_counter()
            report = check_store(store)
            check_seconds = time.perf_counter() - start
        assert report.ok, [v.line() for v in report.violations[:5]]
        with PolicyStore(path) as store:
            store.execute("UPDATE curve_points SET value = value + 1e-12 WHERE rowid = 12345")
            damaged = check_store(store)
    points = report.checked["points"]
    print(f"corpus: {corpus}, {points:,} points in {studies:,} studies")
    print(f"ingest_frame (anchor): {ingest_seconds:6.2f} s")
    print(f"check_store          : {check_seconds:6.2f} s  ({check_seconds / points * 1e6:.2f} s per million points)")
    print(f"check / ingest ratio : {check_seconds / ingest_seconds:.2f}x; one changed point found: "
          f"{[v.line()[:60] for v in damaged.violations]}")


if __name__ == "__main__":
    main()
