"""Replay benchmark: the engine against Optuna itself, and the scale target.

Part 1 (speed and parity, one run side by side): replays ``median``,
``successive_halving`` and ``hyperband`` (defaults) over the same real LCDB
curves in the same orders through Optuna's ask/tell (``to_optuna()``) and
through the engine, checks that every decision is identical and prints the
speed ratio and decisions per second (a decision = one report + should_prune
call that Optuna made), by CPU and by wall time.

- **cold**: for each rule, a fresh Python process with a fresh, empty
  ``NUMBA_CACHE_DIR`` imports the library, loads the curves and times its very
  first replay (what a user's first call costs: the numpy kernels serve it;
  the compiled loops are readied in the background once replays have taken
  0.2 s). Then a second call, and the time until the loops are ready (in the
  foreground if the background had not started). CPU is the calling thread's
  (``thread_time``) and, separately, the whole process's.
- **warm**: in this process after an untimed warm-up (imports, Optuna's first
  study, the engine's compiled loops readied); the engine's time is the median
  of ``--repeat`` runs (a ~10 ms measurement on a shared machine is otherwise
  mostly noise).

Optuna's replays are timed once, warm, and are the anchor of both.

Part 1b (``--trials 100,1000,10000``): Hyperband on one study of ``n`` real LCDB
curves (the first ``n`` curves of the corpus pooled into one study, on their
shared grid of training-set sizes), warm engine against Optuna (Optuna only up
to ``--optuna-max``; its cost grows ~n^2), and the engine's time per
``n log2 n``.

Part 2 (scale, ``--scale``): 50 rule versions x all LCDB accuracy studies x 5
orders with joblib on all cores, outcomes computed (not written).

Usage::

    python benchmarks/replay.py                      # part 1 on the committed excerpt
    python benchmarks/replay.py --lcdb /tmp/lcdbdl/lcdb-0.1.0.tar.gz --studies 40
    python benchmarks/replay.py --lcdb /tmp/lcdbdl/lcdb-0.1.0.tar.gz --scale
    python benchmarks/replay.py --lcdb ~/.cache/policy-store/lcdb-0.1.0.tar.gz --trials 100,1000,10000
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
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


STRATEGIES = ("median", "successive_halving", "hyperband")


def load_curves(lcdb: str | None, studies: int | None) -> list[StudyCurves]:
    curves = lcdb_curves(lcdb) if lcdb else excerpt_curves()
    return curves[:studies] if studies else curves


def warm_up(curves: list[StudyCurves]) -> None:
    """Both sides' one-off costs, outside the timed region: imports, Optuna's first study, the engine's
    compiled loops (loaded from numba's on-disk cache, or compiled on a cold machine)."""
    w0 = time.perf_counter()
    ready = _jit.ready()
    for name in STRATEGIES:
        spec = RuleSpec.parse({"strategy": name})
        (r,) = replay_many(curves[:1], [spec], [0])[0]
        optuna_prune_cols(curves[0], spec, r.order)
    print(f"warm-up (both sides, untimed: imports, Optuna's first study, the engine's compiled loops): "
          f"{time.perf_counter() - w0:.1f} s wall; engine loops compiled with numba: {ready}")


def optuna_side(curves: list[StudyCurves], spec: RuleSpec, engine: list) -> tuple[float, float, int]:
    """Optuna's CPU and wall seconds over the engine's replays, and the decisions it made; exits on any difference."""
    w0, c0 = time.perf_counter(), time.process_time()
    optuna = [[optuna_prune_cols(c, spec, r.order) for r in rs] for c, rs in zip(curves, engine, strict=True)]
    w_optuna, t_optuna = time.perf_counter() - w0, time.process_time() - c0
    decisions = 0
    for c, rs, os_ in zip(curves, engine, optuna, strict=True):
        for r, o in zip(rs, os_, strict=True):
            if not np.array_equal(r.prune_col, o):
                sys.exit(f"DECISIONS DIFFER: {spec.strategy} {c.study} order {r.order_seed}")
            stop = np.where(o >= 0, o, c.last_pos[r.order])
            decisions += int(np.cumsum(c.present[r.order], axis=1)[np.arange(len(stop)), stop].sum())
    return t_optuna, w_optuna, decisions


def first_call(curves: list[StudyCurves], orders: int, name: str) -> dict:
    """The first replay of ``name`` in a fresh process with an empty numba cache directory."""
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        env.pop("POLICY_STORE_REPLAY_JIT", None)
        stash = Path(cache) / "curves.pickle"          # the same curves, loaded untimed by the child
        stash.write_bytes(pickle.dumps(curves))
        args = [sys.executable, __file__, "--first-call", name, "--orders", str(orders), "--curves", str(stash)]
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _first_call_child(curves: list[StudyCurves], orders: list[int], name: str) -> None:
    spec = RuleSpec.parse({"strategy": name})
    w0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
    replay_many(curves, [spec], orders)
    out = {"wall": time.perf_counter() - w0, "cpu": time.thread_time() - c0, "process_cpu": time.process_time() - p0}
    w1, c1 = time.perf_counter(), time.thread_time()
    replay_many(curves, [spec], orders)          # numpy again unless the background readying has finished
    out.update(second_wall=time.perf_counter() - w1, second_cpu=time.thread_time() - c1)
    w1 = time.perf_counter()
    out["ready_after"] = time.perf_counter() - w0 if _jit.ready(timeout=900) else float("nan")
    w2, c2 = time.perf_counter(), time.thread_time()
    replay_many(curves, [spec], orders)
    out.update(compiled_wall=time.perf_counter() - w2, compiled_cpu=time.thread_time() - c2, waited=w2 - w1)
    print(json.dumps(out))


def speed(curves: list[StudyCurves], orders: list[int], repeat: int) -> None:
    warm_up(curves)
    n_replays = len(curves) * len(orders)
    for name in STRATEGIES:
        spec = RuleSpec.parse({"strategy": name})
        # the engine's ~10 ms is noisy on a shared box: median of `repeat` runs (Optuna's seconds are not)
        runs = []
        for _ in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            engine = replay_many(curves, [spec], orders)
            runs.append((time.process_time() - c0, time.perf_counter() - w0))
        t_engine, w_engine = (float(np.median([r[k] for r in runs])) for k in (0, 1))
        spread = f"{min(r[0] for r in runs):.4f}-{max(r[0] for r in runs):.4f}"
        cold = first_call(curves, len(orders), name)
        t_optuna, w_optuna, decisions = optuna_side(curves, spec, engine)
        print(f"{name:>18}: {n_replays} replays, {decisions} decisions, identical: yes | Optuna CPU {t_optuna:.2f} s "
              f"({decisions / t_optuna:,.0f} dec/s), wall {w_optuna:.2f} s")
        print(f"{'warm':>18}: engine CPU {t_engine:.4f} s (median of {repeat}, {spread}; "
              f"{decisions / t_engine:,.0f} dec/s), ratio CPU {t_optuna / t_engine:,.0f}x | "
              f"wall {w_engine:.4f} s, ratio wall {w_optuna / w_engine:,.0f}x")
        print(f"{'cold':>18}: first call in a fresh process, empty numba cache: engine CPU {cold['cpu']:.4f} s "
              f"(calling thread), ratio CPU {t_optuna / cold['cpu']:,.0f}x | wall {cold['wall']:.4f} s, ratio wall "
              f"{w_optuna / cold['wall']:,.0f}x | process CPU incl. background compilation "
              f"{cold['process_cpu']:.3f} s; second call CPU {cold['second_cpu']:.4f} s, "
              f"wall {cold['second_wall']:.4f} s (ratio wall {w_optuna / cold['second_wall']:,.0f}x); compiled "
              f"loops ready {cold['ready_after']:.1f} s after the first call, then {cold['compiled_cpu']:.4f} s "
              f"CPU per call")
    print(f"1-min load average at the end {_load():.1f}")


def pooled_study(curves: list[StudyCurves], n: int) -> StudyCurves:
    """The first ``n`` trials of ``curves`` as one study on the union of their step grids."""
    rows, taken = [], 0
    for c in curves:
        for i in range(c.n_trials):
            rows.append((c.steps, c.values[i], c.present[i]))
            taken += 1
            if taken == n:
                break
        if taken == n:
            break
    grid = np.unique(np.concatenate([r[0] for r in rows]))
    values = np.full((len(rows), len(grid)), np.nan)
    present = np.zeros(values.shape, dtype=bool)
    for k, (st, v, p) in enumerate(rows):
        cols = np.searchsorted(grid, st)
        values[k, cols] = v
        present[k, cols] = p
    return StudyCurves.from_arrays(f"pooled-{n}", values, steps=grid, present=present, direction=curves[0].direction)


def trial_scaling(curves: list[StudyCurves], sizes: list[int], orders: list[int], optuna_max: int,
                  repeat: int) -> None:
    _jit.ready()
    spec = RuleSpec.parse({"strategy": "hyperband"})
    print("Hyperband, one study of n pooled LCDB curves, warm engine vs Optuna (same orders, decisions checked):")
    for n in sizes:
        study = pooled_study(curves, n)
        runs = []
        for _ in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            engine = replay_many([study], [spec], orders)
            runs.append((time.process_time() - c0, time.perf_counter() - w0))
        t_engine, w_engine = (float(np.median([r[k] for r in runs])) for k in (0, 1))
        per = t_engine / len(orders) / (study.n_trials * np.log2(study.n_trials)) * 1e9
        line = (f"  n={study.n_trials:>6} ({len(study.steps)} steps): engine CPU {t_engine / len(orders) * 1e3:.2f} ms "
                f"per replay ({per:.1f} ns per n log2 n)")
        if n <= optuna_max:
            t_optuna, w_optuna, decisions = optuna_side([study], spec, engine)
            line += (f" | Optuna {t_optuna / len(orders):.2f} s per replay, {decisions} decisions, identical: yes, "
                     f"ratio CPU {t_optuna / t_engine:,.0f}x, wall {w_optuna / w_engine:,.0f}x")
        print(line, flush=True)
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
    ap.add_argument("--repeat", type=int, default=5, help="engine runs per strategy (median reported)")
    ap.add_argument("--scale", action="store_true", help="run part 2 (needs --lcdb)")
    ap.add_argument("--trials", help="part 1b: comma-separated study sizes for Hyperband (needs --lcdb)")
    ap.add_argument("--optuna-max", type=int, default=1000, help="part 1b: largest size Optuna replays")
    ap.add_argument("--first-call", help=argparse.SUPPRESS)
    ap.add_argument("--curves", help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    if args.first_call:
        _first_call_child(pickle.loads(Path(args.curves).read_bytes()), list(range(args.orders)), args.first_call)
        return
    t0 = time.perf_counter()
    curves = load_curves(args.lcdb, None if args.scale or args.trials else args.studies)
    print(f"loaded {len(curves)} studies in {time.perf_counter() - t0:.1f} s (1-min load average {_load():.1f})")
    if args.scale:
        scale(curves, args.jobs)
    elif args.trials:
        trial_scaling(curves, [int(n) for n in args.trials.split(",")], list(range(args.orders)), args.optuna_max,
                      args.repeat)
    else:
        speed(curves, list(range(args.orders)), args.repeat)


if __name__ == "__main__":
    main()
