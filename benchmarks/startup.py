"""Start-up benchmark: every CLI command against ``python -c 'import duckdb'``, side by side in one run.

A small real store is prepared first (untimed): the committed LCDB excerpt
ingested through the CLI's own file path, one rule version evaluated on it.
Then, ``--runs`` times in turn, each command runs in a fresh interpreter
(the anchor, ``python -c 'import duckdb'``, interleaved with them) and its
wall time from process start to exit and its CPU time (user + system) are
taken; on this tiny store a command's work is a few milliseconds, so the
time is its start-up. On a shared, loaded machine the wall time is mostly
waiting for a core; the CPU time is what the command costs (on an idle core
its wall time). Each command's ``--help`` is timed as well (argument
parsing of every sub-command). Printed: the first run of each command (right
after the store was prepared; the page cache cannot be dropped without root,
so "first" is a fresh interpreter, not a cold disk), then the warm median wall
and CPU time, their ratios to the anchor's medians, and the heavy modules in
``sys.modules`` when the command exits (a separate run; an import DuckDB's
client attempts and that fails does not count).

Usage::

    python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
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


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``args``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime


def heavy_imports(args: list[str]) -> list[str]:
    """The heavy modules in ``sys.modules`` when the command ``args`` exits (an import that failed does not count)."""
    code = ("import atexit, json, runpy, sys\n"
            f"atexit.register(lambda: print(json.dumps([m for m in {HEAVY!r} if sys.modules.get(m)]),\n"
            "                               file=sys.stderr))\n"
            f"sys.argv = {['policy-store', *args[3:]]!r}\n"
            "runpy.run_module('policy_store', run_name='__main__')\n")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stderr
    return sorted(json.loads(err.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    anchor = [sys.executable, "-c", "import duckdb"]
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        folder = Path(tmp)
        store, task, study = prepare(folder)
        todo = {**commands(store, task, study, folder), **help_commands()}
        first = {name: timed([*CLI, *cmd]) for name, cmd in todo.items()}  # also warms the file cache
        (folder / "fresh.duckdb").unlink(missing_ok=True)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in todo}
        base: list[tuple[float, float]] = []
        for _ in range(args.runs):
            for name, cmd in todo.items():
                base.append(timed(anchor))
                times[name].append(timed([*CLI, *cmd]))
                if name == "init":
                    (folder / "fresh.duckdb").unlink(missing_ok=True)
        bw, bc = np.median(np.array(base), axis=0)
        print(f"anchor `python -c 'import duckdb'`: median {bw:.3f} s wall, {bc:.3f} s CPU over {len(base)} runs "
              f"(1-min load average {os.getloadavg()[0]:.1f})")
        print("| command | first run: wall / CPU s | warm: median wall s | x anchor | median CPU s | x anchor | "
              "heavy modules imported |")
        print("|---|---:|---:|---:|---:|---:|---|")
        worst = (0.0, 0.0)
        for name, ts in times.items():
            w, c = np.median(np.array(ts), axis=0)
            worst = max(worst, (c, w))
            print(f"| {name} | {first[name][0]:.3f} / {first[name][1]:.3f} | {w:.3f} | {w / bw:.2f} | {c:.3f} | "
                  f"{c / bc:.2f} | "
                  f"{', '.join(heavy_imports([*CLI, *todo[name]])) or '-'} |")
        print(f"slowest command by CPU: {worst[0]:.3f} s CPU, {worst[1]:.3f} s wall (target < 0.6 s wall on a warm "
              f"file cache); 1-min load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
