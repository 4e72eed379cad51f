"""Replay benchmark: the engine against Optuna itself, and the scale target.

Part 1 (speed and parity, one run side by side): replays ``median`` (default)
and ``successive_halving`` (default) over the same real LCDB curves in the same
orders through Optuna's ask/tell (``to_optuna()``) and through the engine, checks
that every decision is identical and prints the speed ratio and decisions per
second (a decision = one report + should_prune call that Optuna made), by CPU
and by wall time. One-off costs of both sides (imports, Optuna's first study,
loading or compiling the engine's numba loops) are paid in an untimed warm-up;
Optuna's replays are timed once, the engine's as the median of ``--repeat`` runs
(a ~10 ms measurement on a shared machine is otherwise mostly noise).

Part 2 (scale, ``--scale``): 50 rule versions x all LCDB accuracy studies x 5
orders with joblib on all cores, outcomes computed (not written).

Usage::

    python benchmarks/replay.py                      # part 1 on the committed excerpt
    python benchmarks/replay.py --lcdb /tmp/lcdbdl/lcdb-0.1.0.tar.gz --studies 40
    python benchmarks/replay.py --lcdb /tmp/lcdbdl/lcdb-0.1.0.tar.gz --scale
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from policy_store.curves import StudyCurves, curves_from_frame
from policy_store.replay import optuna_prune_cols, replay_many, replay_outcomes
from policy_store.replay.kernels import _jit
from policy_store.rules import RuleSpec

EXCERPT = Path(__file__).resolve().parent.parent / "tests" / "data" / "replay" / "lcdb-accuracy-excerpt.csv"


def excerpt_curves() -> list[StudyCurves]:
    from policy_store.datasets.lcdb import long_frame

    return curves_from_frame(long_frame(pd.read_csv(EXCERPT)))


def lcdb_curves(source: str, tasks: int | None = None, seeds: int | None = None) -> list[StudyCurves]:
    from policy_store.datasets.lcdb import long_frame, read_curves

    raw = read_curves("accuracy", tasks=tasks, seeds=seeds, source=source, download=False)
    return curves_from_frame(long_frame(raw))


def warm_up(curves: list[StudyCurves]) -> None:
    """Both sides' one-off costs, outside the timed region: imports, Optuna's first study, the engine's
    compiled loops (loaded from numba's on-disk cache, or compiled on a cold machine)."""
    w0 = time.perf_counter()
    for name in ("median", "successive_halving"):
        spec = RuleSpec.parse({"strategy": name})
        (r,) = replay_many(curves[:1], [spec], [0])[0]
        optuna_prune_cols(curves[0], spec, r.order)
    print(f"warm-up (both sides, untimed: imports, Optuna's first study, the engine's compiled loops): "
          f"{time.perf_counter() - w0:.1f} s wall; engine loops compiled with numba: {_jit.enabled()}")


def speed(curves: list[StudyCurves], orders: list[int], repeat: int) -> None:
    warm_up(curves)
    for name in ("median", "successive_halving"):
        spec = RuleSpec.parse({"strategy": name})
        # the engine's ~10 ms is noisy on a shared box: median of `repeat` runs (Optuna's seconds are not)
        runs = []
        for _ in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            engine = replay_many(curves, [spec], orders)
            runs.append((time.process_time() - c0, time.perf_counter() - w0))
        t_engine, w_engine = (float(np.median([r[k] for r in runs])) for k in (0, 1))
        spread = f"{min(r[0] for r in runs):.4f}-{max(r[0] for r in runs):.4f}"
        w0, c0 = time.perf_counter(), time.process_time()
        optuna = [[optuna_prune_cols(c, spec, r.order) for r in rs] for c, rs in zip(curves, engine, strict=True)]
        w_optuna, t_optuna = time.perf_counter() - w0, time.process_time() - c0
        decisions = 0
        for c, rs, os_ in zip(curves, engine, optuna, strict=True):
            for r, o in zip(rs, os_, strict=True):
                if not np.array_equal(r.prune_col, o):
                    sys.exit(f"DECISIONS DIFFER: {name} {c.study} order {r.order_seed}")
                stop = np.where(o >= 0, o, c.last_pos[r.order])
                decisions += int(np.cumsum(c.present[r.order], axis=1)[np.arange(len(stop)), stop].sum())
        n_replays = len(curves) * len(orders)
        print(f"{name:>18}: {n_replays} replays, {decisions} decisions, identical: yes | CPU: "
              f"optuna {t_optuna:.2f} s ({decisions / t_optuna:,.0f} dec/s), "
              f"engine {t_engine:.4f} s (median of {repeat}, {spread}; {decisions / t_engine:,.0f} dec/s), "
              f"ratio {t_optuna / t_engine:,.0f}x | "
              f"wall: optuna {w_optuna:.2f} s, engine {w_engine:.4f} s, ratio {w_optuna / w_engine:,.0f}x")
    print(f"1-min load average at the end {_load():.1f}")


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def fifty_rules() -> list[RuleSpec]:
    specs: list[dict] = []
    for s in (3, 5, 8):
        for w in (0, 2, 4):
            specs.append({"strategy": "median", "params": {"n_startup_trials": s, "n_warmup_steps": w}})
    specs += [{"strategy": "median", "params": {"n_min_trials": m, "interval_steps": k}} for m, k in
              ((2, 1), (3, 1), (1, 2), (2, 2))]
    specs += [{"strategy": "percentile", "params": {"percentile": q, "n_startup_trials": s}}
              for q in (25.0, 50.0, 75.0) for s in (3, 5)]
    specs += [{"strategy": "threshold", "params": {"lower": lo, "n_warmup_steps": 3}} for lo in (0.5, 0.6, 0.7, 0.8)]
    specs += [{"strategy": "successive_halving", "params": {"min_resource": m, "reduction_factor": e}}
              for m in ("auto", 1, 2) for e in (2, 3, 4)]
    specs += [{"strategy": "hyperband", "params": {"min_resource": m, "reduction_factor": e}}
              for m in (1, 2) for e in (2, 3, 4)]
    specs += [{"strategy": "patient", "params": {"patience": p, "wrapped": w}}
              for p in (1, 2, 3) for w in (None, {"strategy": "median"})]
    specs += [{"strategy": "posterior", "params": {"alpha": a, "prior_beta": b}, "direction": "maximize"}
              for a in (0.01, 0.05, 0.1) for b in (0.001, 0.01)]
    assert len(specs) == 50, len(specs)
    return [RuleSpec.parse(s) for s in specs]


def scale(curves: list[StudyCurves], n_jobs: int) -> None:
    specs = fifty_rules()
    t0 = time.perf_counter()
    out, _ = replay_outcomes(curves, specs, list(range(5)), n_jobs=n_jobs, chunk_size=max(len(curves) // 64, 8))
    dt = time.perf_counter() - t0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    tasks = len({c.task for c in curves})
    print(f"scale: 50 rule versions x {len(curves)} studies ({tasks} tasks) x 5 orders = {len(out):,} replays "
          f"with outcomes in {dt:.1f} s wall on {n_jobs} worker(s) ({len(out) / dt:,.0f} replays/s; "
          f"1-min load average at the end {load:.1f})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lcdb", help="path to lcdb-0.1.0.tar.gz (default: the committed excerpt)")
    ap.add_argument("--studies", type=int, default=None, help="part 1: use the first N studies")
    ap.add_argument("--orders", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5, help="part 1: engine runs per strategy (median reported)")
    ap.add_argument("--scale", action="store_true", help="run part 2 (needs --lcdb)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    curves = lcdb_curves(args.lcdb) if args.lcdb else excerpt_curves()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"loaded {len(curves)} studies in {time.perf_counter() - t0:.1f} s (1-min load average {load:.1f})")
    if args.scale:
        scale(curves, args.jobs)
        return
    speed(curves[: args.studies] if args.studies else curves, list(range(args.orders)), args.repeat)


if __name__ == "__main__":
    main()
