"""The ``forecast`` rule vs MedianPruner() and the best single rule, per corpus, on held-out forecasters (issue 20).

For each corpus -- LCDB, the HPO corpus, and the held-out HPO file (19 datasets in no corpus) -- a seeded
sample of ``--tasks`` tasks is replayed (exact replay engine,
:func:`policy_store.meta.learner.training_data.replay_task`, ``--orders`` trial orders per study) under the
``forecast`` candidates of ``candidate_grid(forecast=True)``, ``MedianPruner()`` and the corpus's best
single prior-free rule (best mean utility over the shipped knowledge's tasks of that corpus; the held-out
file takes the HPO corpus's). Utility = compute saved - lam * regret (regret relative to the study's spread,
as everywhere in the meta evaluation); per task the mean over studies and orders, per corpus the mean
over tasks, with the killed-best rate and the share of tasks worse than MedianPruner() by > 0.05.

The forecaster behind the rule is held out too: on LCDB the one trained on HPO + bundled, on the HPO
corpus the one trained on LCDB + bundled (both from ``benchmarks/forecast.py``'s cache: run it first), on
the held-out file the shipped one.

    nice -n 10 python benchmarks/forecast_rule.py --tasks 40 --orders 2
    nice -n 10 python benchmarks/forecast_rule.py --tasks 40 --orders 2 --ungated   # also calibrated_only false
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
import policy_store.meta.forecast as forecast_pkg
from policy_store.meta.forecast.corpus import load_source
from policy_store.meta.learner.grid import OPTUNA_DEFAULTS, Candidate, candidate_grid, find_candidate
from policy_store.meta.learner.knowledge import load_knowledge
from policy_store.meta.learner.prediction import select
from policy_store.meta.learner.training_data import replay_task

from policy_store.curves import curves_from_frame

sys.path.insert(0, os.path.dirname(__file__))
from forecast import held_out_models  # noqa: E402  (the held-out forecasters, cached by benchmarks/forecast.py)


def best_single(corpus: str, lam: float) -> str:
    data = load_knowledge().data
    cube = data.outcome_cube()
    mine = np.array([t.startswith(corpus + "/") for t in data.tasks])
    saved, regret = np.nanmean(cube[mine, :, 0], 0), np.nanmean(cube[mine, :, 1], 0)
    saved = np.where([c.needs_prior for c in data.grid], np.nan, saved)
    return data.grid[int(select(saved[None], regret[None], lam=lam)[0])].name


def frame_of(corpus: str, heldout: str) -> pd.DataFrame:
    if corpus == "lcdb":
        from policy_store.meta.forecast.corpus import _lcdb_frame

        return _lcdb_frame()
    if corpus == "hpo":
        from policy_store.datasets import hpo_corpus

        return hpo_corpus()
    return pd.read_parquet(heldout)


def evaluate(corpus: str, frame: pd.DataFrame, n_tasks: int, orders: int, lam: float,
             ungated: bool = False) -> pd.DataFrame:
    grid = candidate_grid(forecast=True)
    names = [c.name for c in grid if c.strategy == "forecast"]
    names += [OPTUNA_DEFAULTS["MedianPruner()"], best_single("lcdb" if corpus == "lcdb" else "hpo", lam)]
    chosen = [find_candidate(grid, n) for n in names]
    if ungated:   # the same forecast candidates pruning before the forecaster calibrates on the study
        extra = [Candidate(c.name + "-ungated", c.strategy, {**c.params, "calibrated_only": False})
                 for c in chosen if c.strategy == "forecast"]
        names += [c.name for c in extra]
        chosen += extra
    tasks = sorted(frame["task"].unique())
    tasks = sorted(np.random.default_rng(0).choice(tasks, min(n_tasks, len(tasks)), replace=False).tolist())
    frame = frame[frame["task"].isin(tasks)]
    cols = [c for c in ("task", "study", "trial", "step", "value", "cost_seconds", "direction") if c in frame]
    curves = curves_from_frame(frame[cols].assign(trial=frame["trial"].astype(str)))
    parts = []
    for task in tasks:
        mine = [c for c in curves if c.task == task and c.n_trials >= 4]
        if mine:
            parts.append(replay_task(mine, chosen, None, list(range(orders))))
    out = pd.concat(parts, ignore_index=True)
    out["rule"] = [names[i] for i in out["candidate"]]
    out["utility"] = out["compute_saved"] - lam * out["regret"]
    return out.assign(corpus=corpus)


def summarise(out: pd.DataFrame) -> pd.DataFrame:
    per_task = out.groupby(["corpus", "rule", "task"])[["utility", "compute_saved", "regret", "killed_best"]].mean()
    per_task = per_task.reset_index()
    median = per_task[per_task["rule"] == OPTUNA_DEFAULTS["MedianPruner()"]].set_index(["corpus", "task"])["utility"]
    per_task["vs_median"] = per_task["utility"] - median.reindex(
        pd.MultiIndex.from_frame(per_task[["corpus", "task"]])).to_numpy()
    table = per_task.groupby(["corpus", "rule"]).agg(
        tasks=("task", "size"), utility=("utility", "mean"), saved=("compute_saved", "mean"),
        regret=("regret", "mean"), killed_best=("killed_best", "mean"), gain_vs_median=("vs_median", "mean"),
        worse_by_005=("vs_median", lambda v: float((v < -0.05).mean())))
    return table.round(3)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=40)
    p.add_argument("--orders", type=int, default=2)
    p.add_argument("--lam", type=float, default=20.0)
    p.add_argument("--heldout", default="/work/handoff/hpo-heldout.parquet")
    p.add_argument("--corpora", default="lcdb,hpo,heldout", help="comma-separated, of lcdb, hpo, heldout")
    p.add_argument("--ungated", action="store_true",
                   help="also replay each forecast candidate with calibrated_only false (name suffix -ungated)")
    args = p.parse_args()
    t0 = time.perf_counter()
    corpora = args.corpora.split(",")
    sets = {name: load_source(name) for name in ("lcdb", "hpo", "bundled")} if set(corpora) - {"heldout"} else {}
    shipped = forecast_pkg.load_forecaster
    results = []
    for corpus in corpora:
        if corpus in ("lcdb", "hpo"):
            learned, _ = held_out_models(corpus, sets)
            forecast_pkg.load_forecaster = lambda *a, _m=learned, **k: _m   # the rule's forecaster, held out
        else:
            forecast_pkg.load_forecaster = shipped
        results.append(evaluate(corpus, frame_of(corpus, args.heldout), args.tasks, args.orders, args.lam,
                                args.ungated))
        print(f"[{corpus} done at {time.perf_counter() - t0:.0f} s]", file=sys.stderr, flush=True)
    forecast_pkg.load_forecaster = shipped
    pd.set_option("display.width", 200)
    print(f"lam={args.lam:g}, {args.tasks} tasks per corpus (seeded), {args.orders} orders; utility = saved - lam * "
          "regret; gain_vs_median and worse_by_005 per task against MedianPruner()")
    print(summarise(pd.concat(results, ignore_index=True)).to_string())
    print(f"[total {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
