"""The learning-curve forecaster on held-out data vs its anchors, side by side in one run (issue 20).

Three held-out settings, each judged on data the model never saw:

* ``hpo``: trained on LCDB + the bundled curves, tested on the HPO corpus (a whole source held out);
* ``lcdb``: trained on the HPO corpus + the bundled curves, tested on LCDB (the other way round);
* ``heldout``: the shipped model (trained on every corpus) on the held-out HPO file (19 datasets in no corpus).

At prefixes of 10-50 % of each curve's budget it prints, per setting: the 80 % interval's coverage of the
finals (target 70-90 %) and the CRPS in units of the study's scale (the sd of all its values)
(:mod:`policy_store.meta.forecast.scoring`) of the learned forecaster, the last value carried forward (with
its empirical spread, fitted on the same training sources) and the per-curve parametric ensemble (pow3 /
power law / log-power, Domhan et al. 2015; scored on a seeded sample of ``--sample`` curves, with the
others on the same sample), and the ratios learned / anchor (< 1 is better). LC-PFN (Adriaensen et al. 2023)
cannot run here (its package fetches weights at run time) and published no LCDB figures (its real-curve
benchmarks are LCBench, NAS-Bench-201, Taskset and PD1, scored by log-likelihood), so it is quoted as a
paper anchor without a comparable number. Then inference time per trial: cold (a fresh process: import,
load and check the shipped model, first call) and warm p99 over calls of 1 trial (the rule, per report)
and of 16 and 200 trials (adaptation, per ended trial).

Held-out models are cached under ``~/.cache/policy-store/forecast-bench`` (keyed by the training code's hash).

    nice -n 10 python benchmarks/forecast.py --heldout /work/handoff/hpo-heldout.parquet
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from policy_store.meta.forecast import LastValueForecaster, load_forecaster
from policy_store.meta.forecast.corpus import CurveSet, load_source
from policy_store.meta.forecast.learned import QuantileForecaster
from policy_store.meta.forecast.packed import PackedQuantileTrees
from policy_store.meta.forecast.parametric import ParametricForecaster
from policy_store.meta.forecast.scoring import FRACTIONS, context_split, score

from policy_store.cache import cache_dir, source_digest

SPLITS = {"hpo": ("lcdb", "bundled"), "lcdb": ("hpo", "bundled")}
LCPFN = ("LC-PFN (Adriaensen et al. 2023, NeurIPS): no LCDB figures published (real curves: LCBench, "
         "NAS-Bench-201, Taskset, PD1; log-likelihood of the continuation); no weights can be fetched here")


def _code_hash() -> str:
    names = ("_base", "features", "training", "packed", "last_value", "build_forecaster")
    return source_digest(*(f"policy_store.meta.forecast.{n}" for n in names))[:16]


def held_out_models(test: str, sets: dict[str, CurveSet]) -> tuple[QuantileForecaster, LastValueForecaster]:
    from policy_store.meta.forecast.build_forecaster import train

    path = Path(cache_dir()) / "forecast-bench" / f"{test}-{_code_hash()}.npz"
    if path.exists():
        with np.load(path) as z:
            trees = PackedQuantileTrees.from_arrays({k[6:]: z[k] for k in z.files if k.startswith("trees_")})
            return QuantileForecaster(trees), LastValueForecaster(z["last_value_table"])
    learned, last_value, _ = train([sets[s] for s in SPLITS[test]])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, last_value_table=last_value.table,
             **{f"trees_{k}": v for k, v in learned.trees.to_arrays().items()})
    return learned, last_value


def sample(cs: CurveSet, n: int, seed: int = 0) -> CurveSet:
    if len(cs) <= n:
        return cs
    keep = np.zeros(len(cs), dtype=bool)
    keep[np.random.default_rng(seed).choice(len(cs), n, replace=False)] = True
    return cs.subset(keep)


def quality(test: str, cs: CurveSet, learned, last_value, n_sample: int, n_context: int) -> pd.DataFrame:
    """Every method on the same query curves: per study ``n_context`` curves are the context, the rest queries."""
    is_context = context_split(cs, n_context, seed=0)
    queries = ~is_context
    small = np.zeros(len(cs), dtype=bool)
    pick = np.flatnonzero(queries)
    small[np.random.default_rng(0).choice(pick, min(n_sample, len(pick)), replace=False)] = True
    parts, crps = [], {}
    uncalibrated = copy.copy(learned)
    uncalibrated.calibrate = False
    for name, fc, rows, ctx in (("learned+ctx", learned, queries, is_context), ("learned", learned, queries, None),
                                ("learned+ctx-uncal", uncalibrated, queries, is_context),
                                ("last-value", last_value, queries, None),
                                ("learned+ctx@sample", learned, small, is_context),
                                ("learned@sample", learned, small, None),
                                ("parametric@sample", ParametricForecaster(), small, None)):
        crps[name] = {}
        parts.append(score(fc, cs, FRACTIONS, queries=rows, context=ctx, per_curve=crps[name]).assign(
            method=name, test=test))
    table = pd.concat(parts, ignore_index=True)
    dom = [dominance(cs, small, f, crps["learned+ctx@sample"][f], crps["parametric@sample"][f]) for f in FRACTIONS]
    DOMINANCE.append(pd.DataFrame(dom).assign(test=test))
    return table


#: Per setting and prefix: how few curves decide the mean CRPS against the parametric fits (filled by quality()).
DOMINANCE: list[pd.DataFrame] = []


def dominance(cs: CurveSet, rows: np.ndarray, fraction: float, ours: np.ndarray, theirs: np.ndarray) -> dict:
    """The fewest curves whose removal puts the learned forecaster's mean CRPS at or below the parametric
    fits' (0 when it already is), how many of them have a flat prefix (every value seen equal), and the
    share of flat prefixes in the sample."""
    idx = np.flatnonzero(rows)
    seen = np.clip(np.round(fraction * cs.lengths[idx]).astype(np.int64), 1, cs.lengths[idx] - 1)
    prefix = np.where(np.arange(cs.values.shape[1])[None, :] < seen[:, None], cs.values[idx], np.nan)
    flat = np.nanmax(prefix, axis=1) == np.nanmin(prefix, axis=1)
    diff = ours - theirs
    order = np.argsort(-diff)
    remaining = diff.sum() - np.cumsum(diff[order])
    below = np.flatnonzero(remaining <= 0)
    k = 0 if diff.sum() <= 0 else (int(below[0]) + 1 if len(below) else len(diff))
    return {"fraction": fraction, "curves": len(diff), "deciding curves": k,
            "of them flat prefixes": int(flat[order[:k]].sum()), "flat prefixes in sample": int(flat.sum())}


def side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    wide = table.pivot_table(index=["test", "fraction"], columns="method",
                             values=["coverage80", "crps", "crps_median"])

    def ratio(stat: str, a: str, b: str) -> pd.Series:
        return wide[(stat, a)] / wide[(stat, b)]

    return pd.DataFrame({
        "cov ctx": wide[("coverage80", "learned+ctx")], "cov no-ctx": wide[("coverage80", "learned")],
        "cov ctx-uncal": wide[("coverage80", "learned+ctx-uncal")],
        "ctx-uncal/last mean": ratio("crps", "learned+ctx-uncal", "last-value"),
        "cov last": wide[("coverage80", "last-value")], "cov param@s": wide[("coverage80", "parametric@sample")],
        "ctx/last mean": ratio("crps", "learned+ctx", "last-value"),
        "ctx/last med": ratio("crps_median", "learned+ctx", "last-value"),
        "ctx/param@s mean": ratio("crps", "learned+ctx@sample", "parametric@sample"),
        "ctx/param@s med": ratio("crps_median", "learned+ctx@sample", "parametric@sample"),
        "noctx/last mean": ratio("crps", "learned", "last-value"),
        "noctx/last med": ratio("crps_median", "learned", "last-value"),
        "noctx/param@s mean": ratio("crps", "learned@sample", "parametric@sample"),
        "noctx/param@s med": ratio("crps_median", "learned@sample", "parametric@sample"),
    }).round(3)


COLD = """
import time, numpy as np
t = time.perf_counter()
from policy_store.meta.forecast import load_forecaster
fc = load_forecaster()
fc.quantiles(np.array([[0.5, 0.6, 0.65]]), np.array([3]), 20, True)
print(time.perf_counter() - t)
"""


def timing(reps: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per-trial time of ``quantiles`` calls, paired: the compiled call and the numpy reference path
    (``reference_quantiles``, what every call cost before) alternate call by call in one loop, without and with
    the study's context (10 other curves, 4 of them completed). Wall and CPU (thread time: on a shared,
    oversubscribed machine the wall clock's tail is other processes' turn on the core)."""
    cold = [float(subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, check=True).stdout)
            for _ in range(3)]
    fc = load_forecaster()
    rng = np.random.default_rng(seed)
    rows = [{"calls of": "cold (new process, 3 runs)", "path": "compiled", "wall p50 ms/trial": 1e3 * float(
        np.median(cold)), "wall p99 ms/trial": 1e3 * max(cold), "cpu p50 ms/trial": np.nan,
        "cpu p99 ms/trial": np.nan}]
    others = 0.5 + np.cumsum(rng.normal(0.01, 0.02, (10, 40)), axis=1)
    others[4:, 12:] = np.nan
    for batch in (1, 16, 200):
        values = 0.5 + np.cumsum(rng.normal(0.01, 0.02, (batch, 30)), axis=1)
        seen = rng.integers(1, 30, batch)
        values = np.where(np.arange(30)[None, :] < seen[:, None], values, np.nan)
        for context in (None, others):
            paths = {"compiled": fc.quantiles, "numpy reference": fc.reference_quantiles}
            wall = {k: [] for k in paths}
            cpu = {k: [] for k in paths}
            for f in paths.values():
                f(values, seen, 40, True, context=context)
            for r in range(reps):
                for name in (("compiled", "numpy reference") if r % 2 else ("numpy reference", "compiled")):
                    t, c = time.perf_counter_ns(), time.thread_time_ns()
                    paths[name](values, seen, 40, True, context=context)
                    cpu[name].append((time.thread_time_ns() - c) / batch / 1e6)
                    wall[name].append((time.perf_counter_ns() - t) / batch / 1e6)
            for name in paths:
                rows.append({"calls of": f"warm, {batch} trial(s)" + (", context 10" if context is not None else ""),
                             "path": name, "wall p50 ms/trial": float(np.median(wall[name])),
                             "wall p99 ms/trial": float(np.quantile(wall[name], 0.99)),
                             "cpu p50 ms/trial": float(np.median(cpu[name])),
                             "cpu p99 ms/trial": float(np.quantile(cpu[name], 0.99))})
    return pd.DataFrame(rows).round(4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", default="/work/handoff/hpo-heldout.parquet")
    parser.add_argument("--sample", type=int, default=600, help="curves per setting for the parametric anchor")
    parser.add_argument("--context", type=int, default=5,
                        help="curves per study given as context (the rest are forecast)")
    parser.add_argument("--settings", default="hpo,lcdb,heldout", help="comma-separated, of hpo, lcdb, heldout")
    parser.add_argument("--no-timing", action="store_true", help="skip the inference timing")
    parser.add_argument("--train-only", action="store_true", help="only fit (and cache) the held-out models")
    parser.add_argument("--timing-only", action="store_true", help="only the inference timing")
    args = parser.parse_args()
    t0 = time.perf_counter()
    if args.timing_only:
        print(timing().to_string(index=False), f"load {os.getloadavg()[0]:.1f}")
        return 0
    settings = args.settings.split(",")
    sets = ({name: load_source(name) for name in ("lcdb", "hpo", "bundled")} if set(settings) & set(SPLITS)
            else {})
    tables = []
    for test in [s for s in SPLITS if s in settings]:
        learned, last_value = held_out_models(test, sets)
        if args.train_only:
            continue
        tables.append(quality(test, sets[test], learned, last_value, args.sample, args.context))
        print(f"[{test} done at {time.perf_counter() - t0:.0f} s]", file=sys.stderr, flush=True)
    if args.train_only:
        return 0
    if "heldout" in settings:
        tables.append(quality("heldout", load_source(args.heldout), load_forecaster(), load_forecaster("last-value"),
                          args.sample, args.context))
    pd.set_option("display.width", 250)
    print("Coverage of the 80 % interval and CRPS (study-scale units) at each prefix fraction, per held-out setting;")
    print("@s: on a seeded sample of", args.sample, "curves per setting (the parametric fits' cost)")
    print(side_by_side(pd.concat(tables, ignore_index=True)).to_string())
    print("Curves that decide the mean CRPS against the parametric fits (learned+ctx@s vs param@s):")
    print(pd.concat(DOMINANCE, ignore_index=True).to_string(index=False))
    print("paper anchor:", LCPFN)
    print()
    if not args.no_timing:
        print("Inference time per trial (shipped model)")
        print(timing().to_string(index=False))
    print(f"[load {os.getloadavg()[0]:.1f}; total {time.perf_counter() - t0:.0f} s]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
