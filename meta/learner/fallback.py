"""The safety floor's fallback per model family and direction: the corpus's best prior-free rule, or ``MedianPruner()``.

When the floor trusts no rule the learner ranks (:func:`~policy_store.meta.learner.calibration.floor_choice`),
it falls back. ``MedianPruner()`` is the fallback every user already has; a
single better rule for every study is not safe (the corpus's best prior-free
rule overall, ``median-w2-s2``, gains +0.04 on average but loses to
``MedianPruner()`` on boosted models' minimised losses). :func:`group_fallbacks`
therefore picks, per (model family, direction) of the training tasks, the
prior-free rule with the best *lower bound* of its utility gain over
``MedianPruner()`` -- the mean over the group's datasets minus ``z`` standard
errors -- among rules whose killed-best rate is no higher than
``MedianPruner()``'s (``max_killed_excess``), and only when that bound is above
0 and the group has ``min_tasks`` tasks; every other group, an unknown family
or a missing descriptor keeps ``MedianPruner()``. The same bound, for every
rule and group (:func:`group_evidence`), is a second check of the floor: it
passes no rule whose bound is below 0 on the study's own group, however well the
forest rates it for the task. The defaults were chosen by
leave-source-out evaluation on the corpus (``benchmarks/RESULTS.md``,
"## Meta-learner").

>>> import numpy as np
>>> gain = np.array([[0.0, 0.10, 0.30], [0.0, 0.12, -0.20], [0.0, 0.08, 0.25]])   # 3 datasets x 3 rules
>>> _best_bounded(gain, np.zeros(3), np.array([True, True, True]), baseline=0, z=1.0, max_killed_excess=0.0)
1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from policy_store.meta.learner.training_data import TrainingData

#: Standard errors below the mean gain, least tasks of a group, and killed-best excess allowed.
Z, MIN_TASKS, MAX_KILLED_EXCESS = 1.0, 10, 0.0


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


def _bound(gain: np.ndarray, z: float) -> np.ndarray:
    """Per column of ``gain`` (datasets x rules): mean minus ``z`` standard errors (-inf with < 2 datasets)."""
    n = gain.shape[0]
    if n < 2:
        return np.full(gain.shape[1], -np.inf)
    return np.nanmean(gain, 0) - z * np.nanstd(gain, 0, ddof=1) / np.sqrt(n)


def _best_bounded(gain: np.ndarray, killed_excess: np.ndarray, allowed: np.ndarray, *, baseline: int, z: float,
                  max_killed_excess: float) -> int | None:
    """Column of ``gain`` (datasets x rules) with the best positive lower bound, or None."""
    bound = _bound(gain, z)
    ok = allowed & np.isfinite(bound) & (np.nan_to_num(killed_excess, nan=np.inf) <= max_killed_excess + 1e-12)
    ok[baseline] = False
    if not ok.any():
        return None
    best = int(np.argmax(np.where(ok, bound, -np.inf)))
    return best if bound[best] > 0 else None


def group_evidence(data: TrainingData, *, lam: float = 20.0, baseline: int, z: float = Z,
                   min_tasks: int = MIN_TASKS,
                   max_killed_excess: float = MAX_KILLED_EXCESS) -> tuple[dict[str, str], dict[str, list[float]]]:
    """Per ``"<family>/<direction>"`` of ``data``'s tasks: the fallback rule's name (groups keeping
    ``MedianPruner()`` are left out), and every candidate's lower bound of gain over ``MedianPruner()`` on
    the group (the floor passes no rule whose bound is below 0 on the study's group). Module docstring."""
    import pandas as pd
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
    fallbacks, bounds = {}, {}
    for key in sorted(set(keys)):
        rows = np.flatnonzero(keys == key)
        per_dataset = pd.DataFrame(gain[rows]).groupby(datasets[rows]).mean().to_numpy()
        bounds[key] = [float(b) if np.isfinite(b) else -1e9 for b in _bound(per_dataset, z)]
        if len(rows) < min_tasks:
            continue
        best = _best_bounded(per_dataset, np.nanmean(killed[rows], 0), allowed, baseline=baseline, z=z,
                             max_killed_excess=max_killed_excess)
        if best is not None:
            fallbacks[key] = data.grid[best].name
    return fallbacks, bounds


def group_fallbacks(data: TrainingData, *, lam: float = 20.0, baseline: int, z: float = Z,
                    min_tasks: int = MIN_TASKS, max_killed_excess: float = MAX_KILLED_EXCESS) -> dict[str, str]:
    """The fallbacks of :func:`group_evidence`."""
    return group_evidence(data, lam=lam, baseline=baseline, z=z, min_tasks=min_tasks,
                          max_killed_excess=max_killed_excess)[0]
