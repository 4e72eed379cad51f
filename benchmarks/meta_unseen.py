"""Out of the box on unseen datasets: the shipped knowledge's recommendation vs MedianPruner() (issue 19).

A new user has no meta-model: :func:`policy_store.meta.recommend.recommend` uses the
knowledge shipped in the package (``meta/knowledge/``, with its safety floor). For
every task of a held-out HPO file (datasets in no training corpus, e.g.
``/work/handoff/hpo-heldout.parquet``) the recommendation is made as
``policy-store recommend --meta-features ... --metric ... --family ... --direction ...
--steps ... --trials ...`` would make it: the dataset's meta-features (source
``hpo-dataset`` of the features file: what ``policy-store meta-features`` computes)
and the study's descriptors, no curves. Then the recommended rule (its prior, for a
posterior rule, is the one the recommendation gives), ``MedianPruner()`` and the
corpus's best single rule (best mean utility at lam over the knowledge's tasks; a
posterior rule: each study replayed with the prior of another study of the task, its
first unless it is the first -- more than a new user knows) and the best single rule that needs no prior are
replayed -- :func:`policy_store.meta.learner.training_data.replay_task`, exact
replay engine -- on every study of the task under ``--orders`` trial orders.
Utility = compute saved - lam * regret, regret relative
(:func:`policy_store.curves.regret_scale`); per task the mean over studies and
orders, per group (family x direction) and overall the mean over tasks.

    python benchmarks/meta_unseen.py /work/handoff/hpo-heldout.parquet /work/handoff/hpo-heldout-features.parquet
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict

import numpy as np
import pandas as pd
from policy_store.meta.features.study import StudyDescriptors, metric_kind_of
from policy_store.meta.learner.grid import OPTUNA_DEFAULTS, find_candidate
from policy_store.meta.learner.knowledge import knowledge_dir, load_knowledge, shipped_model
from policy_store.meta.learner.prediction import select
from policy_store.meta.learner.training_data import MIN_TRIALS, replay_task, task_parts, task_prior
from policy_store.meta.recommend import recommend

from policy_store import PolicyStore
from policy_store.curves import curves_from_frame

REC, MEDIAN, SINGLE, FREE = "recommendation", "MedianPruner()", "best single rule", "best prior-free rule"
NO_FLOOR = "recommendation without the floor"


def best_single(lam: float, *, prior_free: bool = False) -> int:
    """The grid candidate with the best mean utility over the shipped knowledge's tasks (``prior_free``: among
    the rules that need no prior, i.e. not ``posterior``)."""
    data = load_knowledge().data
    cube = data.outcome_cube()
    saved, regret = np.nanmean(cube[:, :, 0], 0), np.nanmean(cube[:, :, 1], 0)
    if prior_free:
        saved = np.where([c.needs_prior for c in data.grid], np.nan, saved)
    return int(select(saved[None], regret[None], lam=lam)[0])


def dataset_features(path: str) -> pd.DataFrame:
    """The held-out tasks' dataset meta-features (wide; descriptors are given separately, as a user does)."""
    long = pd.read_parquet(path)
    long = long[(long["source"] == "hpo-dataset") | (long["feature"] == "is_regression")]
    wide = long.pivot_table(index="task", columns="feature", values="value", aggfunc="first")
    wide.columns.name = None
    return wide


def evaluate(frame: pd.DataFrame, features: pd.DataFrame, *, orders: int, lam: float) -> pd.DataFrame:
    """One row per task and method: mean compute saved, regret, killed-best; the recommendation's details."""
    model = shipped_model(knowledge_dir())
    grid = model.grid
    median = find_candidate(grid, OPTUNA_DEFAULTS[MEDIAN])
    single, free = grid[best_single(lam)], grid[best_single(lam, prior_free=True)]
    cols = [c for c in ("task", "study", "trial", "step", "value", "cost_seconds", "direction") if c in frame]
    curves = curves_from_frame(frame[cols].assign(trial=frame["trial"].astype(str)))
    by_task: dict[str, list] = {}
    for c in curves:
        if c.n_trials >= MIN_TRIALS:
            by_task.setdefault(c.task, []).append(c)
    metric_of = frame.drop_duplicates("task").set_index("task")["metric"]
    seeds = tuple(range(orders))
    rows = []
    with PolicyStore.memory() as store:
        for task in sorted(by_task):
            cs = by_task[task]
            parts = task_parts(task)
            metric = str(metric_of[task])
            mf = features.loc[task].dropna().to_dict() if task in features.index else {}
            descriptors = StudyDescriptors(metric=metric, metric_kind=metric_kind_of(metric),
                                           direction=cs[0].direction, family=parts["family"],
                                           steps=float(np.median([c.n_steps for c in cs])),
                                           trials=float(np.median([c.n_trials for c in cs])))
            rec = recommend(store, meta_features=mf, **asdict(descriptors), lam=lam, model=model, record=False)
            cand = find_candidate(grid, rec.candidate)
            raw = recommend(store, meta_features=mf, **asdict(descriptors), lam=lam, model=model, record=False,
                            floor=False)
            for method, cand_, pr in ((REC, cand, rec.expected.get("prior")), (MEDIAN, median, None),
                                      (SINGLE, single, "own"), (FREE, free, None),
                                      (NO_FLOOR, find_candidate(grid, raw.candidate), raw.expected.get("prior"))):
                if pr == "own":     # each study replayed with the prior of another study of the task
                    out = pd.concat([replay_task([c], [cand_], task_prior([cs[1] if c is cs[0] else cs[0]]),
                                                 seeds) for c in cs])
                else:
                    out = replay_task(cs, [cand_], pr, seeds)
                rows.append({"task": task, "family": parts["family"], "direction": cs[0].direction,
                             "method": method, "rule": cand_.name,
                             "fallback": bool(rec.expected.get("floor", {}).get("fallback", False)),
                             "compute_saved": out["compute_saved"].mean(), "regret": out["regret"].mean(),
                             "killed_best": out["killed_best"].mean()})
    per_task = pd.DataFrame(rows)
    per_task["utility"] = per_task["compute_saved"] - lam * per_task["regret"]
    return per_task


def table(per_task: pd.DataFrame) -> pd.DataFrame:
    """Per family x direction and overall: tasks, utilities, gain over MedianPruner(), killed-best, fallbacks."""
    wide = per_task.pivot_table(index=["family", "direction", "task"], columns="method",
                                values=["utility", "killed_best"])
    fb = per_task[per_task["method"] == REC].set_index(["family", "direction", "task"])["fallback"]
    wide[("fallback", "")] = fb.reindex(wide.index).astype(float)
    wide[("win", "")] = (wide[("utility", REC)] > wide[("utility", MEDIAN)] + 1e-12).astype(float)

    def summary(g: pd.DataFrame) -> dict:
        u, k = g["utility"], g["killed_best"]
        return {"tasks": len(g), "u_median": u[MEDIAN].mean(), "u_single": u[SINGLE].mean(),
                "u_free": u[FREE].mean(), "u_raw": u[NO_FLOOR].mean(), "u_rec": u[REC].mean(),
                "gain_rec": (u[REC] - u[MEDIAN]).mean(),
                "wins": int(g[("win", "")].sum()), "kb_median": k[MEDIAN].mean(), "kb_single": k[SINGLE].mean(),
                "kb_free": k[FREE].mean(), "kb_raw": k[NO_FLOOR].mean(), "kb_rec": k[REC].mean(),
                "fallback": g[("fallback", "")].mean()}

    out = [{"group": f"{f} / {d}", **summary(g)} for (f, d), g in wide.groupby(level=[0, 1])]
    out += [{"group": f"all / {d}", **summary(g)} for d, g in wide.groupby(level=1)]
    out.append({"group": "all", **summary(wide)})
    return pd.DataFrame(out)


def markdown(t: pd.DataFrame) -> str:
    head = ("| group (family / direction) | tasks | MedianPruner() | best single rule (own prior) | "
            "best prior-free rule | recommendation without floor | recommendation | gain over MedianPruner() | "
            "rec. wins | killed-best: median / single / prior-free / no floor / rec. | fallback share |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n")
    body = "".join(
        f"| {r.group} | {r.tasks} | {r.u_median:.3f} | {r.u_single:.3f} | {r.u_free:.3f} | {r.u_raw:.3f} | "
        f"{r.u_rec:.3f} | "
        f"{r.gain_rec:+.3f} | {r.wins}/{r.tasks} | "
        f"{r.kb_median:.2f} / {r.kb_single:.2f} / {r.kb_free:.2f} / {r.kb_raw:.2f} / {r.kb_rec:.2f} | "
        f"{r.fallback:.2f} |\n"
        for r in t.itertuples())
    return head + body


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("curves", help="held-out HPO rows (`generate-hpo --out`) of datasets in no training corpus")
    p.add_argument("features", help="their meta-features (`generate-hpo --features-out`)")
    p.add_argument("--orders", type=int, default=5, help="trial orders per study (default 5)")
    p.add_argument("--lam", type=float, default=20.0, help="utility = saved - lam * regret (default 20)")
    p.add_argument("--tasks", type=int, default=None, help="only the first N tasks (quick look)")
    args = p.parse_args(argv)
    if os.environ.get("POLICY_STORE_KNOWLEDGE") == "off":
        del os.environ["POLICY_STORE_KNOWLEDGE"]    # the point is the knowledge a fresh install ships
    frame = pd.read_parquet(args.curves)
    if args.tasks is not None:
        frame = frame[frame["task"].isin(sorted(frame["task"].unique())[:args.tasks])]
    t0, c0 = time.perf_counter(), time.process_time()
    per_task = evaluate(frame, dataset_features(args.features), orders=args.orders, lam=args.lam)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    t = table(per_task)
    rules = per_task.groupby("method")["rule"].agg(lambda r: r.value_counts().head(3).to_dict())
    print(f"{per_task['task'].nunique()} tasks, {frame['study'].nunique()} studies, {args.orders} trial orders, "
          f"lam={args.lam:g}; {wall:.1f} s wall, {cpu:.1f} s CPU, load {os.getloadavg()[0]:.1f}")
    print(markdown(t))
    overall = t[t["group"] == "all"].iloc[0]
    print(f"ratios vs MedianPruner(): utility recommendation / median = {overall.u_rec / overall.u_median:.3f}, "
          f"best single / median = {overall.u_single / overall.u_median:.3f}, "
          f"best prior-free / median = {overall.u_free / overall.u_median:.3f}, "
          f"without floor / median = {overall.u_raw / overall.u_median:.3f}; "
          f"killed-best recommendation - median = {overall.kb_rec - overall.kb_median:+.3f}")
    print("rules most chosen:", rules.to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
