"""Recommend benchmark: ``policy-store recommend`` from the shipped knowledge, cold and warm, as a user runs it.

Each run is a fresh process of the installed CLI on a CSV written from a
scikit-learn dataset (``make_classification``; default 10,000 rows x 50
columns), with ``--target y --family lightgbm --direction minimize``. *Cold*: an
empty cache folder (``POLICY_STORE_CACHE``) and a new store: the shipped forest
is loaded (``meta/knowledge/forest.npz``), never fitted. *Warm*: the cache and the store of
a previous run. Wall and CPU (user + system, from ``getrusage`` of the child)
are measured side by side with the anchor ``python -c 'import sklearn.ensemble'``
(run just before each command), and printed as medians and as ratios to the
anchor's medians, with the load average at the start and at the end (wall time
means little on a loaded machine). Targets (issue 19): warm < 2 s wall, cold < 5 s wall.

    python benchmarks/recommend.py                       # 3 cold and 5 warm runs
    python benchmarks/recommend.py --cold 1 --warm 3 --rows 2000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ANCHOR = [sys.executable, "-c", "import sklearn.ensemble"]


def timed(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall and CPU seconds of one child process (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def write_dataset(path: Path, rows: int, cols: int) -> None:
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=cols, n_informative=min(10, cols), random_state=0)
    pd.DataFrame(X, columns=[f"x{i}" for i in range(cols)]).assign(y=y).to_csv(path, index=False)


def summary(runs: list[dict[str, float]], anchors: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for key in ("wall", "cpu"):
        med, anchor = statistics.median(r[key] for r in runs), statistics.median(a[key] for a in anchors)
        out |= {f"{key}_s": round(med, 3), f"anchor_{key}_s": round(anchor, 3), f"{key}_ratio": round(med / anchor, 2),
                f"{key}_max_s": round(max(r[key] for r in runs), 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=3, help="cold runs (each with an empty cache and a new store)")
    parser.add_argument("--warm", type=int, default=5, help="warm runs (after the last cold run)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k not in ("POLICY_STORE_KNOWLEDGE", "POLICY_STORE")}
    cli = [sys.executable, "-m", "policy_store"]
    load_at_start = [round(x, 1) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="recommend-bench-") as tmp:
        data = Path(tmp) / "new.csv"
        write_dataset(data, args.rows, args.cols)
        task = ["recommend", "--dataset", str(data), "--target", "y", "--family", "lightgbm", "--direction", "minimize"]
        results: dict[str, list[dict[str, float]]] = {"cold": [], "cold_anchor": [], "warm": [], "warm_anchor": []}
        for i in range(max(args.cold, 1)):
            run_env = {**env, "POLICY_STORE_CACHE": str(Path(tmp) / f"cache-{i}")}
            store = str(Path(tmp) / f"store-{i}.duckdb")
            results["cold_anchor"].append(timed(ANCHOR, run_env))
            results["cold"].append(timed([*cli, "--store", store, *task], run_env))
        for _ in range(args.warm):
            results["warm_anchor"].append(timed(ANCHOR, run_env))
            results["warm"].append(timed([*cli, "--store", store, *task], run_env))
    report = {"command": "policy-store recommend --dataset new.csv --target y --family lightgbm --direction minimize",
              "dataset": f"{args.rows} x {args.cols} (+ y)", "anchor": "python -c 'import sklearn.ensemble'",
              "load_average_start": load_at_start, "load_average": [round(x, 1) for x in os.getloadavg()],
              "cold": summary(results["cold"][: args.cold], results["cold_anchor"][: args.cold]) if args.cold else None,
              "warm": summary(results["warm"], results["warm_anchor"]) if args.warm else None}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{report['command']}  ({report['dataset']}; load average {report['load_average_start']} at the start, "
          f"{report['load_average']} at the end)")
    for mode, target in (("cold", 5.0), ("warm", 2.0)):
        s = report[mode]
        if s is None:
            continue
        n = args.cold if mode == "cold" else args.warm
        print(f"{mode:4} (median of {n}): wall {s['wall_s']:.2f} s (max {s['wall_max_s']:.2f}; "
              f"{s['wall_ratio']:.2f}x the anchor's {s['anchor_wall_s']:.2f} s), CPU {s['cpu_s']:.2f} s "
              f"({s['cpu_ratio']:.2f}x the anchor's {s['anchor_cpu_s']:.2f} s); target < {target:g} s wall: "
              f"{'met' if s['wall_s'] < target else 'not met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
