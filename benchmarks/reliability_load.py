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


def _ingest_child(mode: str, csv: Path, store: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _INGEST, mode, str(csv), str(store)], env=ENV, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def csv_section(args: argparse.Namespace) -> None:
    from tests.reliability.bigcsv import write_long_csv

    sizes = [s for s in (0.05, 0.5, args.csv_gb) if s <= args.csv_gb]
    print(f"\n### CSV ingest: peak RSS and time vs file size (streamed; anchor: read whole up to "
          f"{args.whole_max_gb} GB)")
    print("| file | rows | mode | seconds | MB/s | peak RSS MB | RSS over interpreter MB | RSS / file size |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
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
                    print(f"| {size / 1e9:.2f} GB | {rows:,} | {mode} | failed: {r['error']} | | | | |")
                    continue
                assert r["points"] == rows, r
                over = r["peak_mb"] - r["base_mb"]
                print(f"| {size / 1e9:.2f} GB | {rows:,} | {mode} | {r['seconds']:.1f} | "
                      f"{size / 1e6 / r['seconds']:.1f} | {r['peak_mb']:.0f} | {over:.0f} | "
                      f"{r['peak_mb'] / (size / 2**20):.2f} |", flush=True)
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
    parser.add_argument("--whole-max-gb", type=float, default=0.5, help="largest file also read whole (anchor)")
    parser.add_argument("--report-tasks", type=int, default=10_000)
    parser.add_argument("--tmp", default=tempfile.gettempdir(), help="where generated files go (deleted after)")
    args = parser.parse_args()
    sections = {"load": load_section, "soak": soak_section, "csv": csv_section, "report": report_section}
    for name in args.only.split(","):
        started = time.perf_counter()
        sections[name](args)
        print(f"({name}: {time.perf_counter() - started:.0f} s)", flush=True)


def load_section(args: argparse.Namespace) -> None:
    raise NotImplementedError


def soak_section(args: argparse.Namespace) -> None:
    raise NotImplementedError


def report_section(args: argparse.Namespace) -> None:
    raise NotImplementedError


if __name__ == "__main__":
    main()
