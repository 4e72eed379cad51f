"""Learning-curve meta-features from the first trials of a study.

For tasks with no dataset at hand, the first few curves describe how hard
pruning will be: how fast curves rise, how noisy they are, how often they
cross, and how well early values rank the final ones. Values are oriented so
that higher is better (negated for ``minimize``) before anything is measured.

==============================  ==========================================================
``curve_early_slope``           median over trials of the least-squares slope of value
                                per step over the trial's first ``early_steps`` points
``curve_noise``                 median over trials of std(second differences) / √6, the
                                white-noise level a smooth curve would not show
``curve_crossing_rate``         share of trial pairs whose order at their first common
                                step is reversed at their last common step
``curve_early_final_spearman``  Spearman correlation between each trial's value at its
                                ``early_steps``-th point and its final value
``curve_trials``                number of trials used
==============================  ==========================================================

A task's curve features are those of its first study (by study id), saved
with source ``"curves"`` by :func:`save_task_curve_features`.

A feature whose inputs are too few (e.g. a rank correlation of fewer than
three trials) is NaN.

>>> import pandas as pd
>>> f = pd.DataFrame({"trial": ["a"] * 3 + ["b"] * 3 + ["c"] * 3, "step": [0, 1, 2] * 3,
...                   "value": [0.1, 0.2, 0.3, 0.2, 0.25, 0.26, 0.0, 0.3, 0.5]})
>>> feats = curve_meta_features(f, early_steps=2)
>>> round(feats["curve_early_slope"], 6), feats["curve_crossing_rate"]
(0.1, 1.0)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from policy_store.curves import StudyCurves
from policy_store.errors import InvalidInputError
from policy_store.store import PolicyStore

if TYPE_CHECKING:
    import pandas as pd

CURVE_FEATURES: tuple[str, ...] = (
    "curve_early_slope", "curve_noise", "curve_crossing_rate", "curve_early_final_spearman", "curve_trials",
)


def _slope(steps: np.ndarray, values: np.ndarray) -> float:
    x = steps - steps.mean()
    return float((x * (values - values.mean())).sum() / (x * x).sum())


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their mean rank (as ``scipy.stats.rankdata``; exact halves, so the same floats)."""
    order = np.argsort(x, kind="mergesort")
    starts = np.r_[True, x[order][1:] != x[order][:-1]]
    bounds = np.r_[np.flatnonzero(starts), len(x)]
    ranks = np.empty(len(x))
    ranks[order] = (0.5 * (bounds[:-1] + bounds[1:] + 1))[np.cumsum(starts) - 1]
    return ranks


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho of two non-constant samples, computed as ``scipy.stats.spearmanr`` does (SciPy costs a
    ``recommend --curves`` 0.6-0.9 s to import; the tests check the two agree bit for bit)."""
    return float(np.corrcoef(np.column_stack([_average_ranks(a), _average_ranks(b)]), rowvar=False)[1, 0])


def _crossing_rate(curves: list[tuple[np.ndarray, np.ndarray]]) -> float:
    comparable = crossed = 0
    for i, (steps_a, a) in enumerate(curves):
        for steps_b, b in curves[i + 1:]:
            _, in_a, in_b = np.intersect1d(steps_a, steps_b, assume_unique=True, return_indices=True)
            if len(in_a) < 2:
                continue
            comparable += 1
            crossed += bool((a[in_a[0]] - b[in_b[0]]) * (a[in_a[-1]] - b[in_b[-1]]) < 0)
    return crossed / comparable if comparable else math.nan


def _curves(points: pd.DataFrame | StudyCurves, first_trials: int,
            sign: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """(steps, oriented values) of the first trials; the last value reported at a step counts."""
    if isinstance(points, StudyCurves):   # one value per (trial, step) already, trials by number, steps sorted
        known = points.present & ~np.isnan(points.values)
        return [(points.steps[known[i]], sign * points.values[i, known[i]])
                for i in np.flatnonzero(known.any(axis=1))[:first_trials]]
    points = points.dropna(subset=["value"])
    if "trial_number" in points.columns:
        points = points.sort_values("trial_number", kind="stable")
    order = points["trial"].drop_duplicates().tolist()[:first_trials]
    rank = {t: i for i, t in enumerate(order)}
    kept = points[points["trial"].isin(order)]
    key = kept["trial"].map(rank).to_numpy()
    steps = kept["step"].to_numpy(np.int64)
    values = sign * kept["value"].to_numpy(np.float64)
    sort = np.lexsort((np.arange(len(steps)), steps, key))  # stable: later duplicates stay last
    key, steps, values = key[sort], steps[sort], values[sort]
    out = []
    for i in range(len(order)):
        lo, hi = np.searchsorted(key, [i, i + 1])
        s, v = steps[lo:hi], values[lo:hi]
        last = np.r_[s[1:] != s[:-1], True]
        out.append((s[last], v[last]))
    return out


def curve_meta_features(frame: pd.DataFrame | StudyCurves, *, direction: str = "maximize", first_trials: int = 20,
                        early_steps: int = 3) -> dict[str, float]:
    """Learning-curve meta-features of one study's first trials.

    Parameters
    ----------
    frame:
        One study's points with columns trial, step, value; trials count in the order
        they first appear (or by ``trial_number`` when that column is present). Or the
        study's :class:`~policy_store.curves.StudyCurves` (the same features, without pandas).
    direction:
        ``maximize`` or ``minimize``: which way the metric improves.
    first_trials:
        Use only this many trials, the first recorded.
    early_steps:
        Points per trial that count as early (two or more).

    Returns
    -------
    dict
        Every name of :data:`CURVE_FEATURES`.
    """
    missing = [] if isinstance(frame, StudyCurves) else \
        [c for c in ("trial", "step", "value") if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"curve rows need columns trial, step, value; {missing} missing",
                                field=missing[0])
    if direction not in ("maximize", "minimize"):
        raise InvalidInputError(f"direction must be 'maximize' or 'minimize', got {direction!r}",
                                field="direction")
    if early_steps < 2 or first_trials < 1:
        raise InvalidInputError("need early_steps >= 2 and first_trials >= 1", field="early_steps")
    curves = _curves(frame, first_trials, 1.0 if direction == "maximize" else -1.0)
    slopes = [_slope(s[:early_steps], v[:early_steps]) for s, v in curves if len(s) >= 2]
    noise = [float(np.std(np.diff(v, n=2), ddof=1) / math.sqrt(6)) for _, v in curves if len(v) >= 4]
    ranked = [(v[early_steps - 1], v[-1]) for _, v in curves if len(v) > early_steps]
    spearman = math.nan
    if len(ranked) >= 3:
        early, final = np.array(ranked).T
        if np.ptp(early) > 0 and np.ptp(final) > 0:
            spearman = _spearman(early, final)
    return {
        "curve_early_slope": _median(slopes),
        "curve_noise": _median(noise),
        "curve_crossing_rate": _crossing_rate(curves),
        "curve_early_final_spearman": spearman,
        "curve_trials": float(len(curves)),
    }


def study_curve_features(store: PolicyStore, study: str, *, first_trials: int = 20,
                         early_steps: int = 3) -> dict[str, float]:
    """:func:`curve_meta_features` of a study in the store (its task's direction).

    >>> import pandas as pd
    >>> from policy_store.ingest import ingest_frame
    >>> with PolicyStore.memory() as store:
    ...     _ = ingest_frame(store, pd.DataFrame({"task": "t", "study": "s", "trial": ["a", "a", "b", "b"],
    ...                                           "step": [0, 1, 0, 1], "value": [0.1, 0.3, 0.2, 0.2],
    ...                                           "direction": "maximize"}))
    ...     round(study_curve_features(store, "s")["curve_early_slope"], 6)
    0.1
    """
    direction = store.scalar("SELECT t.direction FROM studies s JOIN tasks t USING (task) WHERE s.study = ?",
                             [study])
    if direction is None:
        raise InvalidInputError(f"no study {study!r} in the store", field="study")
    points = store.fetch_df(
        "SELECT c.trial, c.step, c.value, t.trial_number FROM curve_points c "
        "JOIN trials t USING (study, trial) WHERE c.study = ? ORDER BY t.trial_number, c.step",
        [study],
    )
    return curve_meta_features(points, direction=direction, first_trials=first_trials,
                               early_steps=early_steps)


def save_task_curve_features(store: PolicyStore, tasks: list[str] | None = None, *, first_trials: int = 20,
                             early_steps: int = 3) -> int:
    """Compute each task's curve features from its first study and save them (source ``"curves"``).

    Parameters
    ----------
    store:
        An open store.
    tasks:
        The tasks to describe (every task with a study when None).
    first_trials, early_steps:
        As in :func:`curve_meta_features`.

    Returns
    -------
    int
        Number of tasks described.

    Examples
    --------
    >>> import pandas as pd
    >>> from policy_store.ingest import ingest_frame
    >>> from policy_store.meta.features.store import load_meta_features
    >>> with PolicyStore.memory() as store:
    ...     _ = ingest_frame(store, pd.DataFrame({"task": "t", "study": "s", "trial": ["a", "a"],
    ...                                           "step": [0, 1], "value": [0.1, 0.3],
    ...                                           "direction": "maximize"}))
    ...     save_task_curve_features(store)
    ...     round(float(load_meta_features(store).loc["t", "curve_early_slope"]), 6)
    1
    0.2
    """
    import pandas as pd
    from policy_store.meta.features.store import save_meta_features_frame

    points = store.fetch_df(
        "WITH firsts AS (SELECT task, min(study) AS study FROM studies GROUP BY task) "
        "SELECT f.task, k.direction, c.trial, c.step, c.value, t.trial_number "
        "FROM firsts f JOIN tasks k USING (task) JOIN curve_points c USING (study) "
        "JOIN trials t ON t.study = c.study AND t.trial = c.trial "
        "ORDER BY f.task, t.trial_number, c.step"
    )
    if tasks is not None:
        points = points[points["task"].isin(list(tasks))]
    rows = []
    for (task, direction), group in points.groupby(["task", "direction"], sort=True):
        features = curve_meta_features(group, direction=direction, first_trials=first_trials,
                                       early_steps=early_steps)
        rows += [(task, name, value) for name, value in features.items()]
    if rows:
        save_meta_features_frame(store, pd.DataFrame(rows, columns=["task", "feature", "value"]), "curves")
    return len(rows) // len(CURVE_FEATURES)
