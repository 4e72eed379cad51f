"""The safety floor: calibrated intervals, a lower confidence bound of the gain, and when not to trust the model.

:func:`calibrate` measures how wrong the meta-learner is on tasks it never saw:
a grouped cross-validation over datasets (no dataset in both training and
test) fits a smaller forest per fold and predicts each held-out task's outcomes.
Per candidate and outcome -- compute saved, regret, killed-best rate, and the
*paired utility gain over* ``MedianPruner()`` (``saved - lam * regret`` of the
candidate minus that of ``median-w0-s5`` on the same task) -- the residuals
``truth - prediction`` are divided by the forest's spread over trees for that
task (normalised split-conformal scores: where the trees disagree, the interval
widens), and their ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles kept.
:meth:`Calibration.interval` turns a new prediction and its spread into an
interval meant to hold the truth with probability ``level``; the evaluation
checks that it does on held-out tasks (``policy-store meta evaluate``).

The same cross-validation records how far each held-out task lies from its
nearest training task (:meth:`PruningMetaLearner.kneighbors`, rank-scaled L1):
:attr:`Calibration.distance_limit` is the largest such distance the corpus
shows within itself (its ``distance_quantile`` quantile). A new task farther
than that, or with a descriptor value the corpus never had (a model family or
direction absent from training, see :func:`unseen_descriptors`), is out of
distribution: :func:`floor_choice` then falls back to ``MedianPruner()``. Within
the corpus, when no rule's bound is above 0, it falls back to the task's
(family, direction) group's rule (:attr:`Calibration.fallbacks`,
:mod:`policy_store.meta.learner.fallback`), ``MedianPruner()`` where the
group has none.

>>> import numpy as np
>>> c = Calibration(level=0.8, lam=20.0, baseline=0, lo=np.full((2, 4), -1.0), hi=np.full((2, 4), 1.0),
...                 scale_floor=np.full(4, 0.01), distance_limit=0.3, n_tasks=100)
>>> lo, hi = c.interval(np.array([0.5, 0.6]), np.array([0.02, 0.0]), 0)
>>> lo.round(3).tolist(), hi.round(3).tolist()
([0.47, 0.59], [0.53, 0.61])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from policy_store.meta.learner.model import MetaModel
    from policy_store.meta.learner.training_data import TrainingData

#: The interval level every expected outcome is reported at.
LEVEL = 0.8
#: Outcomes calibrated, in the order of :attr:`Calibration.lo`'s columns.
CALIBRATED = ("compute_saved", "regret", "killed_best", "gain")
#: The fallback: Optuna's default pruner, the rule every user already has.
BASELINE = "median-w0-s5"
#: Quantiles of the gain kept for the floor's lower bound (the default :data:`FLOOR_QUANTILE`).
FLOOR_QUANTILES = (0.1, 0.2, 0.25, 0.3, 0.4, 0.5)
FLOOR_QUANTILE = 0.25


@dataclass
class Calibration:
    """Normalised conformal quantiles per candidate and outcome, and the corpus's own distance range."""

    level: float
    lam: float
    baseline: int
    lo: np.ndarray              # (n_candidates, 4) lower quantile of (truth - prediction) / spread
    hi: np.ndarray              # (n_candidates, 4) upper quantile
    scale_floor: np.ndarray     # (4,) added to every spread: a prediction the trees agree on is not certain
    distance_limit: float
    n_tasks: int
    gain_quantiles: np.ndarray | None = None   # (n_candidates, len(FLOOR_QUANTILES)) of the gain's scores
    fallbacks: dict[str, str] | None = None    # "<family>/<direction>" -> the floor's fallback rule (else the baseline)
    group_bounds: dict[str, list[float]] | None = None   # "<family>/<direction>" -> each candidate's gain bound there

    def group_bound(self, features: Mapping[str, float]) -> np.ndarray | None:
        """Every candidate's lower bound of gain over ``MedianPruner()`` on the task's (family, direction)
        group of the corpus, or None when the task's group is not known (:mod:`~policy_store.meta.learner.fallback`)."""
        from policy_store.meta.learner.fallback import key_of_features

        bounds = (self.group_bounds or {}).get(key_of_features(features) or "")
        return None if bounds is None else np.asarray(bounds, float)

    def fallback(self, features: Mapping[str, float], names: Sequence[str]) -> int:
        """Index (in ``names``, the grid's) of the rule the floor falls back to for a task with ``features``."""
        from policy_store.meta.learner.fallback import key_of_features

        name = (self.fallbacks or {}).get(key_of_features(features) or "")
        return list(names).index(name) if name in names else self.baseline

    def gain_bound(self, gain: np.ndarray, spread: np.ndarray, quantile: float) -> np.ndarray:
        """The ``quantile`` lower bound of every candidate's gain over ``MedianPruner()``."""
        if self.gain_quantiles is None or quantile not in FLOOR_QUANTILES:
            return self.interval(gain, spread, 3)[0]
        return gain + self.gain_quantiles[:, FLOOR_QUANTILES.index(quantile)] * (spread + self.scale_floor[3])

    def interval(self, mean: np.ndarray, spread: np.ndarray, outcome: int) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of the ``level`` interval of outcome column ``outcome`` for every candidate."""
        scale = np.asarray(spread, float) + self.scale_floor[outcome]
        return mean + self.lo[:, outcome] * scale, mean + self.hi[:, outcome] * scale

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        arrays = ("lo", "hi", "scale_floor", "gain_quantiles")
        return cls(**{k: (np.asarray(v, float) if k in arrays and v is not None else v) for k, v in d.items()})


def tree_outcomes(model: MetaModel, X: Any, lam: float, baseline: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread over trees of ``(n, n_candidates, 4)``: saved, regret, killed-best, gain over ``baseline``."""
    per_tree = model.learner.predict_trees(X)                       # (trees, n, C, 3)
    utility = per_tree[..., 0] - lam * per_tree[..., 1]
    gain = utility - utility[:, :, baseline:baseline + 1]
    full = np.concatenate([per_tree, gain[..., None]], axis=3)
    return full.mean(0), full.std(0)


def true_outcomes(cube: np.ndarray, lam: float, baseline: int) -> np.ndarray:
    """``(n, n_candidates, 4)`` measured outcomes with the gain column, from an outcome cube."""
    utility = cube[..., 0] - lam * cube[..., 1]
    return np.concatenate([cube, (utility - utility[:, baseline:baseline + 1])[..., None]], axis=2)


def calibrate(data: TrainingData, *, lam: float = 20.0, level: float = LEVEL, folds: int = 5,
              n_estimators: int = 60, seed: int = 0, distance_quantile: float = 0.99) -> Calibration:
    """Conformal quantiles and the distance limit from a grouped cross-validation of ``data`` (module docstring).

    Parameters
    ----------
    data:
        The training data the model is fitted on.
    lam:
        Weight of regret in the utility whose gain over ``MedianPruner()`` is calibrated.
    level:
        Interval level (0.8: the 10th to 90th percentile).
    folds, n_estimators, seed:
        Dataset folds, trees of each fold's forest (fewer than the model's: its
        residuals are slightly larger, so the intervals err wide), and the seed.
    distance_quantile:
        Quantile of the held-out nearest-task distances taken as the corpus's own range.
    """
    from policy_store.meta.evaluation.splits import group_folds
    from policy_store.meta.learner.fallback import group_evidence
    from policy_store.meta.learner.grid import find_candidate
    from policy_store.meta.learner.model import fit_meta_model

    baseline = data.grid.index(find_candidate(data.grid, BASELINE))
    scores, spreads, distances = [], [], []
    for train, test in group_folds(data.tasks, folds=folds, seed=seed):
        model = fit_meta_model(data.subset(train), n_estimators=n_estimators, random_state=seed)
        X = data.features.loc[test]
        mean, spread = tree_outcomes(model, X, lam, baseline)
        truth = true_outcomes(data.outcome_cube(test), lam, baseline)
        scores.append(truth - mean)
        spreads.append(spread)
        distances.append(model.learner.kneighbors(X, 1)[0][:, 0])
    resid, spread = np.concatenate(scores), np.concatenate(spreads)      # (n_tasks, C, 4)
    floor = np.nanmedian(spread.reshape(-1, spread.shape[2]), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):  # no spread at all (a tiny corpus): unknown, left out
        z = resid / (spread + floor)
    alpha = (1.0 - level) / 2.0
    n = np.isfinite(z).sum(0)
    # Split-conformal finite-sample correction: the ceil((n + 1)(1 - alpha)) / n quantile.
    q_hi = np.minimum(np.ceil((n + 1) * (1 - alpha)) / np.maximum(n, 1), 1.0)
    q_lo = 1.0 - q_hi
    lo = np.array([[np.nanquantile(z[:, c, k], q_lo[c, k]) if n[c, k] else -np.inf
                    for k in range(z.shape[2])] for c in range(z.shape[1])])
    hi = np.array([[np.nanquantile(z[:, c, k], q_hi[c, k]) if n[c, k] else np.inf
                    for k in range(z.shape[2])] for c in range(z.shape[1])])
    limit = float(np.quantile(np.concatenate(distances), distance_quantile))
    gq = np.array([[np.nanquantile(z[:, c, 3], q) if n[c, 3] else -np.inf for q in FLOOR_QUANTILES]
                   for c in range(z.shape[1])])
    return Calibration(level, float(lam), baseline, lo, hi, floor, limit, len(data.tasks), gq,
                       *group_evidence(data, lam=lam, baseline=baseline))


def unseen_descriptors(features: Mapping[str, float], training: Any, names: Sequence[str]) -> list[str]:
    """The descriptors of ``features`` whose value no training task had (e.g. ``family_xgboost = 1``).

    ``training`` is the learner's ``(n_tasks, n_features)`` array; only 0/1 descriptor
    columns (``family_*``, ``direction_*``, ``metric_loss``, ``is_regression``) are
    checked, and a family the model has no column for counts as unseen.
    """
    out = []
    col = {n: i for i, n in enumerate(names)}
    for name, value in features.items():
        if not name.startswith(("family_", "direction_", "metric_loss", "is_regression")):
            continue
        if name not in col:
            if value == 1.0:
                out.append(f"{name}=1 (no training task)")
            continue
        seen = training[:, col[name]]
        if not np.any(np.isclose(seen[np.isfinite(seen)], value)):
            out.append(f"{name}={value:g} (no training task)")
    if features.get("family_other") == 1.0 or (
            any(n.startswith("family_") for n in features)
            and not any(v == 1.0 for n, v in features.items() if n.startswith("family_"))):
        out.append("model family 'other' (none the corpus knows)")
    return sorted(set(out))


def floor_choice(gain: np.ndarray, gain_low: np.ndarray, killed_excess: np.ndarray, *, baseline: int,
                 out_of_distribution: Sequence[str] = (), max_killed_excess: float = 0.05,
                 quantile: float = FLOOR_QUANTILE, fallback: int | None = None,
                 fallback_name: str = "MedianPruner()",
                 group_bound: np.ndarray | None = None) -> tuple[int, str | None]:
    """The candidate with the best lower bound of its gain over ``MedianPruner()``, or the fallback and why.

    A candidate qualifies when ``gain_low``, the ``quantile`` conformal lower bound
    of its gain (:meth:`Calibration.gain_bound`), is above 0 and its expected
    killed-best rate exceeds ``MedianPruner()``'s by at most ``max_killed_excess``.
    Out of distribution, nothing qualifies. The fallback is ``fallback`` (default
    ``baseline``, ``MedianPruner()``; :meth:`Calibration.fallback` gives the
    group's, :mod:`policy_store.meta.learner.fallback`), called ``fallback_name``.
    With ``group_bound`` (:meth:`Calibration.group_bound`), a candidate also needs
    its lower bound of gain over ``MedianPruner()`` on the study's (family,
    direction) group of the corpus to be >= 0.

    >>> floor_choice(np.array([0.0, 0.2, 0.3]), np.array([0.0, 0.05, -0.1]), np.zeros(3), baseline=0)
    (1, None)
    >>> floor_choice(np.array([0.0, 0.2]), np.array([0.0, 0.05]), np.zeros(2), baseline=0,
    ...              out_of_distribution=["model family 'other'"])[1]
    "out of distribution (model family 'other'): fell back to MedianPruner()"
    """
    if out_of_distribution:
        return baseline, f"out of distribution ({'; '.join(out_of_distribution)}): fell back to MedianPruner()"
    fallback = baseline if fallback is None else fallback
    low = np.where(np.isfinite(gain_low) & np.isfinite(gain), gain_low, -np.inf)
    ok = (low > 0) & (np.nan_to_num(killed_excess, nan=np.inf) <= max_killed_excess)
    if group_bound is not None:
        ok &= np.nan_to_num(group_bound, nan=-np.inf) >= 0
    ok[baseline] = False
    if not ok.any():
        best = int(np.argmax(low))
        return fallback, (f"no rule's lower bound (quantile {quantile:g}) of utility gain over MedianPruner() "
                          f"is above 0 "
                          f"within +{max_killed_excess:g} killed-best rate"
                          + (" and at least MedianPruner()'s on the corpus's studies of this family and direction"
                             if group_bound is not None else "") + f" (the best bound is {low[best]:+.3f}): "
                          f"fell back to {fallback_name}")
    return int(np.argmax(np.where(ok, low, -np.inf))), None
