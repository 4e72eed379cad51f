"""The safety floor judged on tasks the learner never saw: per group, per held-out source, and interval coverage.

:func:`evaluate_floor` fits a calibrated meta-model
(:func:`~policy_store.meta.learner.model.fit_meta_model` with ``calibrate=True``)
on each split's training tasks and scores, on its test tasks, what each method
would have recommended from the task's meta-features and descriptors:

=============================  ===============================================================
``MedianPruner()``             Optuna's default, what every user already has
``best single rule``           the grid rule with the best mean utility on the training tasks
``meta-learner``               the largest expected utility (no floor)
``meta-learner + floor``       :func:`~policy_store.meta.learner.calibration.floor_choice`: a rule only
                               when its conformal lower bound of gain over ``MedianPruner()`` is
                               above 0 and the task is within the corpus, else ``MedianPruner()``
=============================  ===============================================================

A choice is scored by the task's measured outcome table (mean over its
evaluation studies and trial orders; a rule that needs a prior is never chosen
without curves, so every choice is a measured row). Splits: grouped
cross-validation over datasets, leave-source-out
(:func:`~policy_store.meta.evaluation.splits.source_splits`) and leave-family /
leave-direction-out (:func:`~policy_store.meta.evaluation.splits.leave_out_splits`).
Coverage: the share of held-out (task, candidate) outcomes inside their 80 %
conformal interval, for compute saved and regret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from policy_store.meta.evaluation.splits import LeaveOut, group_folds, leave_out_splits, source_splits
from policy_store.meta.learner.calibration import (
    FLOOR_QUANTILE,
    floor_choice,
    true_outcomes,
    unseen_descriptors,
)
from policy_store.meta.learner.fallback import CHECK_QUANTILE, group_evidence, group_key, key_of_features
from policy_store.meta.learner.model import fit_meta_model, task_direction
from policy_store.meta.learner.training_data import TrainingData, task_parts

MEDIAN, SINGLE, META, FLOOR = "MedianPruner()", "best single rule", "meta-learner", "meta-learner + floor"


@dataclass(frozen=True)
class FloorVariant:
    """A floor scored beside the default (rows ``"meta-learner + floor [<name>]"``); evaluation only.

    The defaults are the shipped floor's, so ``FloorVariant()`` scores exactly the default floor and a variant
    differs from it only in the fields it sets. ``killed``: where the killed-best condition is read, from the
    expected rate (0) to the conformal upper bound of the 80 % interval (1), and ``max_killed_excess`` the
    excess over ``MedianPruner()``'s allowed there; ``check_quantile``: the group check's quantile
    (:func:`~policy_store.meta.learner.fallback.group_evidence`, the shipped
    :data:`~policy_store.meta.learner.fallback.CHECK_QUANTILE` by default; 1.0: no quantile) on the split's
    training tasks; ``min_datasets``: a family x direction with fewer training datasets gets ``MedianPruner()``
    (no fallback, no rule passes).
    """

    killed: float = 0.0
    max_killed_excess: float = 0.05
    check_quantile: float = CHECK_QUANTILE
    min_datasets: int = 0


def _score_split(data: TrainingData, name: str, train: list[str], test: list[str], *, lam: float,
                 n_estimators: int, seed: int, quantile: float, extra_quantiles: Sequence[float] = (),
                 extra_killed: Sequence[float] = (), calibration_trees: int = 60,
                 variants: Mapping[str, FloorVariant] | None = None) -> tuple[list[dict], list[dict]]:
    model = fit_meta_model(data.subset(train), n_estimators=n_estimators, random_state=seed, calibrate=True,
                           calibration_trees=calibration_trees)
    cal = model.calibration
    base = cal.baseline
    names, variants = [c.name for c in data.grid], variants or {}
    # The calibration's fallbacks and bounds are group_evidence's at the shipped CHECK_QUANTILE: only others refit.
    evidence = {CHECK_QUANTILE: (cal.fallbacks or {}, cal.group_bounds or {})}
    for q in {v.check_quantile for v in variants.values()} - {CHECK_QUANTILE}:
        evidence[q] = group_evidence(data.subset(train), lam=lam, baseline=base, check_quantile=q)
    group_datasets = pd.Series([task_parts(t)["dataset"] for t in train]).groupby(
        [group_key(task_parts(t)["family"], task_direction(data, t)) for t in train]).nunique()
    cube = data.outcome_cube(train)
    single = int(np.nanargmax(np.nanmean(cube[:, :, 0] - lam * cube[:, :, 1], axis=0)))
    truth = true_outcomes(data.outcome_cube(test), lam, base)
    rows, cover = [], []
    for j, t in enumerate(test):
        e = model.expected(data.features.loc[[t]])
        feats = {k: float(v) for k, v in data.features.loc[t].items() if v == v}
        ood = unseen_descriptors(feats, model.learner.ranks_, model.feature_names)
        if e.distance > cal.distance_limit:
            ood.append("far")
        u = e.saved - lam * e.regret
        raw = int(np.nanargmax(np.where(np.isnan(u), -np.inf, u)))
        fallback = cal.fallback(feats, [c.name for c in data.grid])
        floors = {}
        for q in (quantile, *extra_quantiles):
            bound = cal.gain_bound(e.gain, e.spread[:, 3], q)
            floors[FLOOR if q == quantile else f"{FLOOR} (quantile {q:g})"] = floor_choice(
                e.gain, bound, e.killed - e.killed[base], baseline=base, out_of_distribution=ood, quantile=q,
                fallback=fallback, group_bound=cal.group_bound(feats))
        for k in extra_killed:
            floors[f"{FLOOR} (killed-best +{k:g})"] = floor_choice(
                e.gain, cal.gain_bound(e.gain, e.spread[:, 3], quantile), e.killed - e.killed[base], baseline=base,
                out_of_distribution=ood, max_killed_excess=k, quantile=quantile, fallback=fallback,
                group_bound=cal.group_bound(feats))
        for label, v in variants.items():
            fallbacks, bounds = evidence[v.check_quantile]
            key = key_of_features(feats) or ""
            killed = e.killed + v.killed * (e.high[:, 2] - e.killed)
            group_bound = bounds.get(key)
            if group_datasets.get(key, 0) < v.min_datasets:
                fallbacks, group_bound = {}, [-1e9] * len(names)
            floors[f"{FLOOR} [{label}]"] = floor_choice(
                e.gain, cal.gain_bound(e.gain, e.spread[:, 3], quantile), killed - e.killed[base], baseline=base,
                out_of_distribution=ood, quantile=quantile, max_killed_excess=v.max_killed_excess,
                fallback=names.index(fallbacks[key]) if key in fallbacks else base,
                group_bound=None if group_bound is None else np.asarray(group_bound, float))
        fl, why = floors[FLOOR]
        parts = task_parts(t)
        group = {"split": name, "task": t, "corpus": parts["corpus"], "family": parts["family"],
                 "direction": task_direction(data, t)}
        for method, (c, reason) in {MEDIAN: (base, None), SINGLE: (single, None), META: (raw, None),
                                    **floors}.items():
            rows.append({**group, "method": method, "candidate": data.grid[c].name,
                         "compute_saved": truth[j, c, 0], "regret": truth[j, c, 1], "killed_best": truth[j, c, 2],
                         "fallback": reason is not None, "ood": bool(ood)})
        for k, outcome in ((0, "compute_saved"), (1, "regret")):
            ok = np.isfinite(e.low[:, k]) & np.isfinite(truth[j, :, k])
            inside = (truth[j, ok, k] >= e.low[ok, k]) & (truth[j, ok, k] <= e.high[ok, k])
            cover.append({**group, "outcome": outcome, "ood": bool(ood),
                          "covered": float(inside.mean()) if ok.any() else np.nan,
                          "covered_chosen": float(inside[np.flatnonzero(ok) == fl][0]) if ok[fl] else np.nan})
    return rows, cover


def evaluate_floor(data: TrainingData, *, lam: float = 20.0, folds: int = 5, seed: int = 0, n_estimators: int = 100,
                   quantile: float = FLOOR_QUANTILE, extra_quantiles: Sequence[float] = (),
                   extra_killed: Sequence[float] = (), leave_out: bool = True,
                   leave_out_folds: int | None = None, calibration_trees: int = 60,
                   variants: Mapping[str, FloorVariant] | None = None,
                   progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows (split, task, group, method, outcomes) and coverage rows of every split (module docstring).

    ``extra_quantiles`` adds rows of the floor at other lower-bound quantiles (for the benchmark's sweep),
    ``extra_killed`` rows of the floor allowing other killed-best excesses per task (default +0.05);
    ``variants`` rows of stricter floors (:class:`FloorVariant`) by name;
    ``leave_out_folds`` and ``calibration_trees`` make the many leave-out fits cheaper.
    """
    from tqdm.auto import tqdm

    splits: list[LeaveOut] = [LeaveOut("cross-validation", "cv", "", group_folds(data.tasks, folds=folds, seed=seed))]
    if leave_out:
        directions = {t: task_direction(data, t) for t in data.tasks}
        lo_folds = leave_out_folds or folds
        splits += source_splits(data.tasks, folds=lo_folds, seed=seed)
        splits += leave_out_splits(data.tasks, directions, folds=lo_folds, seed=seed)
    rows, cover = [], []
    jobs = [(sp.name, tr, te) for sp in splits for tr, te in sp.folds]
    for name, tr, te in tqdm(jobs, desc="floor", unit="fold", disable=not progress):
        r, c = _score_split(data, name, tr, te, lam=lam, n_estimators=n_estimators, seed=seed, quantile=quantile,
                            extra_quantiles=extra_quantiles, extra_killed=extra_killed,
                            calibration_trees=calibration_trees, variants=variants)
        rows += r
        cover += c
    return pd.DataFrame(rows), pd.DataFrame(cover)


def group_table(rows: pd.DataFrame, by: Sequence[str], *, lam: float = 20.0) -> pd.DataFrame:
    """Per group and method: tasks, compute saved, regret, killed-best rate, utility and the floor's fallbacks."""
    g = rows.groupby([*by, "method"])
    out = g[["compute_saved", "regret", "killed_best"]].mean()
    out["utility"] = out["compute_saved"] - lam * out["regret"]
    out["tasks"] = g.size()
    out["fallback"] = g["fallback"].mean()
    out = out.reset_index().rename(columns={"killed_best": "killed_best_rate"})
    med = out[out["method"] == MEDIAN].set_index(list(by))
    key = out.set_index(list(by)).index
    out["gain_vs_median"] = out["utility"].to_numpy() - med["utility"].reindex(key).to_numpy()
    out["killed_vs_median"] = out["killed_best_rate"].to_numpy() - med["killed_best_rate"].reindex(key).to_numpy()
    return out
