"""Baselines the meta-learner is measured against that are not grid rules.

- :func:`nearest_task` -- auto-sklearn's warm start: min-max scaled meta-features
  (scaled on the past tasks), L1 distance (averaged over the features both tasks
  have), the nearest past task.
- :func:`rush_outcomes` -- RUSH-style hurdles: the best trials (configurations)
  of the most similar past tasks run first and in full on the new study; every
  other trial stops at the first step where it is worse than the best hurdle
  value at that step.
- :func:`top_k_outcomes` -- train every trial one step (its first report), keep the
  top ``k`` and run only those to the end.
- :func:`cv_oracle_choices` -- the *cross-validated oracle*, the attainable limit
  of a per-task choice: for each held-out study, the grid rule best on the
  *other* studies of the same task (scored on the held-out one, which it never saw).

Outcomes use the replay engine's definitions (:mod:`policy_store.replay.outcomes`),
regret in the units of :func:`~policy_store.curves.regret_scale`.

>>> from policy_store.curves import StudyCurves
>>> c = StudyCurves.from_arrays("s", [[0.5, 0.9], [0.6, 0.7], [0.1, 0.2]], direction="maximize")
>>> top_k_outcomes([c], k=1, orders=(0,))[["compute_saved", "regret", "killed_best"]].round(3).to_dict("records")
[{'compute_saved': 0.333, 'regret': 0.2, 'killed_best': True}]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from policy_store.meta.learner.prediction import select

from policy_store.curves import StudyCurves, regret_scale


def stop_outcome(c: StudyCurves, pruned: np.ndarray, stop_col: np.ndarray) -> dict[str, float]:
    """Outcome of one study when trial ``i`` stops at column ``stop_col[i]`` (pruned where ``pruned``).

    ``peak_memory_mb``: the largest memory of the steps that ran (NaN when the curves carry none).
    """
    unit = (np.cumsum(np.where(c.present, c.cost, 0.0), axis=1) if c.cost_known
            else np.cumsum(c.present, axis=1).astype(float))
    idx = np.arange(c.n_trials)
    full = float(unit[idx, c.last_pos].sum())
    spent = float(unit[idx, stop_col].sum())
    finals = c.final_values
    valid = np.isfinite(finals)
    sign = -1.0 if c.direction == "maximize" else 1.0
    f = np.where(valid, sign * finals, np.inf)
    best = f.min()
    kept = np.where(~pruned & valid, f, np.inf)
    is_best = valid & (f == best)
    killed = not (is_best & ~pruned).any()
    ran = c.present & (np.arange(c.n_steps)[None, :] <= stop_col[:, None]) & np.isfinite(c.memory)
    return {"compute_saved": 1.0 - spent / full if full > 0 else 0.0,
            "regret": float(kept.min() - best) / regret_scale(c) if np.isfinite(kept.min()) else np.nan,
            "killed_best": killed,
            "killed_step": float(c.steps[stop_col[is_best].max()]) if killed and is_best.any() else np.nan,
            "peak_memory_mb": float(c.memory[ran].max()) if ran.any() else np.nan}


def _rows(c: StudyCurves, outcome: dict[str, float], orders: Sequence[int]) -> list[dict]:
    return [{"task": c.task, "study": c.study, "order_seed": int(o), **outcome} for o in orders]


def top_k_outcomes(curves: Sequence[StudyCurves], *, k: int, orders: Sequence[int]) -> pd.DataFrame:
    """Every trial runs its first step; the ``k`` best there run to the end (the same under every order)."""
    rows = []
    for c in curves:
        first = np.argmax(c.present, axis=1)
        v = c.values[np.arange(c.n_trials), first]
        key = np.where(np.isfinite(v), -v if c.direction == "maximize" else v, np.inf)
        keep = np.zeros(c.n_trials, dtype=bool)
        keep[np.argsort(key, kind="stable")[:k]] = True
        rows += _rows(c, stop_outcome(c, ~keep, np.where(keep, c.last_pos, first)), orders)
    return pd.DataFrame(rows)


def rush_outcomes(curves: Sequence[StudyCurves], hurdle_trials: Sequence[str], *,
                  orders: Sequence[int]) -> pd.DataFrame:
    """RUSH-style hurdles (see the module docstring); a study without any hurdle trial prunes nothing.

    The hurdle trials run first, so every decision is the same under every trial order.
    """
    rows = []
    for c in curves:
        hurdle = np.isin(c.trials.astype(str), list(hurdle_trials))
        sign = 1.0 if c.direction == "maximize" else -1.0
        v = np.where(c.present, sign * c.values, np.nan)
        if hurdle.any():
            with np.errstate(all="ignore"):
                bar = np.nanmax(np.where(hurdle[:, None], v, -np.inf), axis=0)
                below = c.present & (v < bar[None, :]) & ~hurdle[:, None]
        else:
            below = np.zeros_like(c.present)
        pruned = below.any(1)
        stop = np.where(pruned, np.argmax(below, axis=1), c.last_pos)
        rows += _rows(c, stop_outcome(c, pruned, stop), orders)
    return pd.DataFrame(rows)


def task_distances(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """``(n_test, n_train)`` mean L1 distance over shared min-max scaled features (inf when none is shared)."""
    lo = train.min()
    span = (train.max() - lo).replace(0.0, 1.0)
    a = ((train - lo) / span).to_numpy(float)
    b = ((test[train.columns] - lo) / span).to_numpy(float)
    diff = np.abs(b[:, None, :] - a[None, :, :])
    shared = (~np.isnan(diff)).sum(2)
    return np.where(shared > 0, np.nansum(diff, 2) / np.maximum(shared, 1), np.inf)


def nearest_task(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Row index in ``train`` of each ``test`` row's nearest task (min-max scaled, mean L1, NaN-aware).

    >>> tr = pd.DataFrame({"a": [0.0, 10.0], "b": [1.0, np.nan]})
    >>> nearest_task(tr, pd.DataFrame({"a": [8.0], "b": [np.nan]})).tolist()
    [1]
    """
    return np.argmin(task_distances(train, test), axis=1)


def cv_oracle_choices(saved: np.ndarray, regret: np.ndarray, scored: Sequence[int], *, lam: float = 20.0,
                      max_regret: float | None = None) -> dict[int, int]:
    """For each study in ``scored``, the candidate best on the mean of every *other* study.

    Parameters
    ----------
    saved, regret:
        ``(n_studies, n_candidates)``: each study's mean outcomes of every candidate
        (over trial orders); a task's probe study is one of the rows.
    scored:
        Rows of the held-out studies to choose for.
    lam, max_regret:
        The trade-off (:func:`~policy_store.meta.learner.estimator.select`).

    Returns
    -------
    dict
        Row -> chosen candidate; -1 where the task has no other study.

    >>> saved = np.array([[0.5, 0.9], [0.5, 0.9], [0.5, 0.3]])
    >>> regret = np.zeros((3, 2))
    >>> cv_oracle_choices(saved, regret, [1, 2])   # study 2 alone would pick candidate 0
    {1: 1, 2: 1}
    """
    saved, regret = np.asarray(saved, float), np.asarray(regret, float)
    out = {}
    for i in scored:
        others = np.arange(len(saved)) != i
        if not others.any():
            out[int(i)] = -1
            continue
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            s, r = np.nanmean(saved[others], 0), np.nanmean(regret[others], 0)
        out[int(i)] = int(select(s[None], r[None], lam=lam, max_regret=max_regret)[0])
    return out
