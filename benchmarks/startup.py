"""Start-up benchmark: every CLI command against ``python -c 'import duckdb'``, side by side in one run.

A small real store is prepared first (untimed): the committed LCDB excerpt
ingested through the CLI's own file path, one rule version evaluated on it.
Then, ``--runs`` times in turn, each command runs in a fresh interpreter
(the anchor, ``python -c 'import duckdb'``, interleaved with them) and its
wall time from process start to exit is taken; on this tiny store a
command's work is a few milliseconds, so the time is its start-up. Each
command's ``--help`` is timed as well (argument parsing of every
sub-command). Printed: the median wall time, the ratio to the anchor's
median, and the heavy modules the command imported (``-X importtime``, a
separate run).

Usage::

    python benchmarks/startup.py [--runs 5]
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

HEAVY = ("pandas", "scipy", "optuna", "sklearn", "numba", "pyarrow", "joblib", "matplotlib")
EXCERPT = Path(__file__).resolve().parent.parent / "tests" / "data" / "replay" / "lcdb-accuracy-excerpt.csv"
CLI = [sys.executable, "-m", "policy_store"]


def prepare(folder: Path) -> tuple[Path, str, str]:
    """A store with the excerpt's studies and one evaluated rule; returns (store, a task, a study)."""
    import pandas as pd
    from policy_store.datasets.lcdb import long_frame

    from policy_store import PolicyStore
    from policy_store.records import list_studies

    long = long_frame(pd.read_csv(EXCERPT))
    csv = folder / "curves.csv"
    long.to_csv(csv, index=False)
    store = folder / "store.duckdb"
    for args in (["init"], ["ingest", str(csv)], ["rules", "add", "median-default", "--spec", '{"strategy": "median"}'],
                 ["evaluate", "median-default"]):
        subprocess.run([*CLI, "--store", str(store), *args], check=True, capture_output=True, text=True)
    with PolicyStore(store, read_only=True) as s:
        first = list_studies(s)[0]
    return store, str(first["task"]), str(first["study"])


def commands(store: Path, task: str, study: str, folder: Path) -> dict[str, list[str]]:
    s = ["--store", str(store)]
    curves = folder / "curves.csv"
    return {
        "--help": ["--help"],
        "--version": ["--version"],
        "init": ["--store", str(folder / "fresh.duckdb"), "init"],
        "status": [*s, "status"],
        "tasks": [*s, "tasks"],
        "studies": [*s, "studies"],
        "show study": [*s, "show", "study", study],
        "show task": [*s, "show", "task", task],
        "rules list": [*s, "rules", "list"],
        "rules show": [*s, "rules", "show", "median-default"],
        "rules history": [*s, "rules", "history", "median-default"],
        "explain": [*s, "explain", study, "0"],
        "drift events": [*s, "drift", "events"],
        "drift jobs": [*s, "drift", "jobs"],
        "check": [*s, "check"],
        "recommend --meta-features": [*s, "recommend", "--meta-features", '{"NumberOfInstances": 1000}'],
        "recommend --curves": [*s, "recommend", "--curves", str(curves)],
        "evaluate (1 rule, 8 studies)": [*s, "evaluate", "median-default"],
        "ingest (8 studies, replace)": [*s, "ingest", str(curves), "--replace"],
    }


def help_commands() -> dict[str, list[str]]:
    names = ["init", "ingest", "tasks", "studies", "show", "status", "datasets", "meta-features", "demo", "rules",
             "evaluate", "explain", "absorb", "record-live", "copy", "meta", "recommend", "recalibrate", "drift",
             "report", "check"]
    return {f"{n} --help": [n, "--help"] for n in names}


def wall(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, capture_output=True, check=False)
    return time.perf_counter() - t0


def heavy_imports(args: list[str]) -> list[str]:
    err = subprocess.run([sys.executable, "-X", "importtime", *args[1:]], capture_output=True, text=True).stderr
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in err.splitlines() if line.startswith("import time:")}
    return sorted(m for m in HEAVY if m in loaded)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    anchor = [sys.executable, "-c", "import duckdb"]
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        folder = Path(tmp)
        store, task, study = prepare(folder)
        todo = {**commands(store, task, study, folder), **help_commands()}
        for cmd in todo.values():          # warm the file cache (the target is for a warm cache)
            wall([*CLI, *cmd])
        times: dict[str, list[float]] = {name: [] for name in todo}
        base: list[float] = []
        for _ in range(args.runs):
            for name, cmd in todo.items():
                base.append(wall(anchor))
                times[name].append(wall([*CLI, *cmd]))
                if name == "init":
                    (folder / "fresh.duckdb").unlink(missing_ok=True)
        b = float(np.median(base))
        print(f"anchor `python -c 'import duckdb'`: median {b:.3f} s wall over {len(base)} runs "
              f"(1-min load average {os.getloadavg()[0]:.1f})")
        print(f"{'command':<32} {'median s':>9} {'max s':>7} {'x anchor':>9}  heavy modules imported")
        worst = 0.0
        for name, ts in times.items():
            med = float(np.median(ts))
            worst = max(worst, med)
            print(f"{name:<32} {med:>9.3f} {max(ts):>7.3f} {med / b:>9.2f}  "
                  f"{', '.join(heavy_imports([*CLI, *todo[name]])) or '-'}")
        print(f"slowest command median {worst:.3f} s (target < 0.6 s); 1-min load average at the end "
              f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
