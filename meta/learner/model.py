"""A fitted meta-model: the estimator, the grid it chose among, and what it was trained on.

:func:`fit_meta_model` turns :class:`~policy_store.meta.learner.training_data.TrainingData`
into a :class:`MetaModel`; :meth:`MetaModel.expected` gives every candidate's
expected outcome for a new task, blending in the task's own evidence when the
user has curves of it (the grid replayed on them, weighted ``evidence_weight``
per study against the meta-learned prediction -- measured in
``benchmarks/RESULTS.md``). Without curves, a rule that needs a prior (the
posterior rule) has no expectation (NaN), so it is never chosen: its prior would
be a guess from similar tasks, and its measured outcomes are those under the
task's own fitted prior (chosen on a guessed prior, it did worse than expected).
Priors are kept oriented as improvements (``final - value`` for maximised
metrics, ``value - final`` for minimised ones) and signed back for the new
task's direction.

>>> from policy_store import PolicyStore
>>> from policy_store.datasets import ingest_bundled
>>> from policy_store.meta.learner.sources import training_data_from_store
>>> with PolicyStore.memory() as store:
...     _ = ingest_bundled(store)
...     data = training_data_from_store(store, orders=1, tasks=["sklearn/iris/sgd/accuracy",
...                                                             "sklearn/wine/gb/accuracy"])
>>> mm = fit_meta_model(data, n_estimators=5)
>>> mm.n_tasks, len(mm.grid), mm.expected({"curve_noise": 0.01}).saved.shape
(2, 54, (54,))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from policy_store.meta.learner.calibration import Calibration, tree_outcomes
from policy_store.meta.learner.grid import Candidate, grid_hash

from policy_store.frames import is_dataframe

if TYPE_CHECKING:  # the estimator (scikit-learn) and the replay load where a model is fitted or curves replayed
    import pandas as pd
    from policy_store.meta.learner.estimator import PruningMetaLearner
    from policy_store.meta.learner.packed import PackedLearner
    from policy_store.meta.learner.training_data import TrainingData

    from policy_store.curves import StudyCurves

#: Weight of one study of the new task's own curves against the meta-learned prediction.
EVIDENCE_WEIGHT = 0.25
#: Trees of the forest. The recommendation is the best of 54 estimates, so the forest's Monte Carlo noise
#: is selected on: 200 trees closed 2 points more of the LCDB utility gap than 100 (every one of 5 seeds;
#: benchmarks/RESULTS.md) for twice the artifact size.
N_TREES = 200


@dataclass
class Expected:
    """Expected outcomes of every candidate for one task (arrays over candidates)."""

    saved: np.ndarray
    regret: np.ndarray
    killed: np.ndarray
    low: np.ndarray                 # (n_candidates, 3) 10 % bound of saved, regret, killed
    high: np.ndarray                # (n_candidates, 3) 90 % bound
    prior: dict[str, float]
    neighbours: list[tuple[str, float]]
    evidence_studies: int = 0
    residual_sd: np.ndarray | None = None
    """(n_candidates, 3): the model's typical error for a new task (out-of-bag), shrunk by own studies' evidence."""
    spread: np.ndarray | None = None
    """(n_candidates, 4): spread over trees of saved, regret, killed-best and the gain over MedianPruner()."""
    gain: np.ndarray | None = None
    """(n_candidates,): expected utility gain over MedianPruner() at the calibration's lam."""
    distance: float = float("nan")
    """Distance to the nearest training task (the learner's rank-scaled L1)."""


@dataclass
class MetaModel:
    """What is pickled as a model artifact."""

    learner: PruningMetaLearner | PackedLearner
    grid: list[Candidate]
    snapshot: dict[str, Any] = field(default_factory=dict)
    evidence_weight: float = EVIDENCE_WEIGHT
    calibration: Calibration | None = None

    @property
    def n_tasks(self) -> int:
        return len(self.learner.tasks_)

    @property
    def grid_hash(self) -> str:
        return grid_hash(self.grid)

    @property
    def feature_names(self) -> list[str]:
        return [str(f) for f in self.learner.feature_names_in_]

    def features_array(self, features: Mapping[str, float] | pd.DataFrame) -> np.ndarray:
        """``(n, n_features)`` in the learner's feature order (unknown names dropped, missing ones NaN)."""
        if is_dataframe(features):
            return features.reindex(columns=self.feature_names).to_numpy(float)
        return np.array([[float(features.get(n, np.nan)) for n in self.feature_names]])

    def best_candidates(self, lam: float = 20.0) -> list[str]:
        """Each training task's best candidate at ``lam`` (for explanations)."""
        y = self.learner.y_
        return [self.grid[i].name for i in np.argmax(y[:, :, 0] - lam * y[:, :, 1], axis=1)]

    def expected(self, features: Mapping[str, float] | pd.DataFrame, *, curves: Sequence[StudyCurves] = (),
                 direction: str = "maximize", k: int = 5, orders: int = 5) -> Expected:
        """Every candidate's expected outcome for one new task.

        Parameters
        ----------
        features:
            The task's meta-features (any subset of :attr:`feature_names`).
        curves:
            Studies of the new task already run, if any: the grid is replayed on
            them and blended in, and they give the posterior prior. Without
            them, candidates that need a prior get NaN (never chosen).
        direction:
            The new task's direction (signs the prior).
        k:
            Similar past tasks to report.
        orders:
            Trial orders per study when replaying ``curves``.
        """
        X = self.features_array(features)[:1]
        mean, low, high = (a[0] for a in self.learner.predict_outcomes(X))
        dist, idx = self.learner.kneighbors(X, max(k, 1))
        cal = getattr(self, "calibration", None)
        spread = gain = None
        if cal is not None:
            m4, spread = (a[0] for a in tree_outcomes(self, X, cal.lam, cal.baseline))
            gain = m4[:, 3]
        sign = 1.0 if direction == "maximize" else -1.0
        if curves:
            from policy_store.meta.learner.training_data import replay_means, task_prior

            prior = task_prior(curves)
            obs = replay_means(curves, self.grid, prior, tuple(range(orders)))
            w = self.evidence_weight * len(curves)
            mean = np.where(np.isnan(obs), mean, (mean + w * obs) / (1.0 + w))
            if cal is not None:
                u = mean[:, 0] - cal.lam * mean[:, 1]
                gain, spread = u - u[cal.baseline], spread / (1.0 + w)
        else:
            p = self.learner.predict_prior(X)[0]
            prior = {"prior_mean": float(sign * p[0]), "prior_beta": float(p[1])}
            guessed = np.array([c.needs_prior for c in self.grid])[:, None]
            mean, low, high = (np.where(guessed, np.nan, a) for a in (mean, low, high))
            if gain is not None:
                gain = np.where(guessed[:, 0], np.nan, gain)
        if cal is not None:        # the conformal intervals replace the trees' percentiles
            low, high = low.copy(), high.copy()
            for j in range(3):
                low[:, j], high[:, j] = cal.interval(mean[:, j], spread[:, j], j)
        residual = self.learner.residual_sd()
        if residual is not None and curves:
            residual = residual / (1.0 + self.evidence_weight * len(curves))
        neighbours = [(str(self.learner.tasks_[i]), float(d)) for d, i in zip(dist[0], idx[0], strict=True)]
        return Expected(mean[:, 0], mean[:, 1], mean[:, 2], low, high, prior, neighbours[:k], len(curves), residual,
                        spread, gain, float(dist[0, 0]))


def task_direction(data: TrainingData, task: str) -> str:
    """A task's direction: its studies', or (shipped knowledge, no curves) the one its priors row records."""
    if data.curves.get(task):
        return data.curves[task][0].direction
    return str(data.priors.loc[task, "direction"])


def fit_meta_model(data: TrainingData, *, method: str = "forest", n_estimators: int = N_TREES,
                   min_samples_leaf: int = 1, random_state: int = 0, evidence_weight: float = EVIDENCE_WEIGHT,
                   snapshot: Mapping[str, Any] | None = None, calibrate: bool = False,
                   sample_weight: Mapping[str, float] | None = None, calibration_trees: int = 60,
                   n_jobs: int = 1) -> MetaModel:
    """Fit a :class:`PruningMetaLearner` on ``data`` and bundle it with the grid.

    ``min_samples_leaf=1`` was the best of 1, 3 and 5 in the LCDB cross-validation
    (see ``benchmarks/RESULTS.md``). The snapshot (the model record's training
    snapshot) says which corpora trained it: ``corpora`` = tasks per corpus
    (``lcdb``, ``hpo``, ``sklearn``, ...: the first part of the task ids).
    ``calibrate`` adds the safety floor's :class:`~policy_store.meta.learner.calibration.Calibration`
    (a grouped cross-validation of smaller forests; needs 10+ tasks). ``sample_weight``
    weighs tasks by name (default 1). ``n_jobs`` threads fit the trees (the same forest for any value).
    """
    import pandas as pd
    from policy_store.meta.learner.estimator import PruningMetaLearner
    from policy_store.meta.learner.training_data import task_parts

    tasks = data.tasks
    sign = np.array([1.0 if task_direction(data, t) == "maximize" else -1.0 for t in tasks])
    priors = data.priors.loc[tasks, ["prior_mean", "prior_beta"]].to_numpy(float, copy=True)
    priors[:, 0] *= sign
    learner = PruningMetaLearner(method=method, n_estimators=n_estimators, min_samples_leaf=min_samples_leaf,
                                 random_state=random_state, n_jobs=n_jobs)
    weights = None if not sample_weight else np.array([float(sample_weight.get(t, 1.0)) for t in tasks])
    learner.fit(data.features.loc[tasks], data.outcome_cube(tasks), priors=priors, task_names=tasks,
                candidates=[c.name for c in data.grid], sample_weight=weights)
    corpora = pd.Series([task_parts(t)["corpus"] for t in tasks]).value_counts().sort_index()
    snap = {"tasks": len(tasks), "studies": int(data.outcomes["study"].nunique()) if len(data.outcomes) else 0,
            "corpora": {str(k): int(v) for k, v in corpora.items()},
            "orders": len(data.orders), "grid_hash": grid_hash(data.grid), "features": len(learner.feature_names_in_),
            **dict(snapshot or {})}
    cal = None
    if calibrate and method == "forest":
        from policy_store.meta.learner.calibration import calibrate as conformal

        cal = conformal(data, folds=min(5, len({task_parts(t)["dataset"] for t in tasks})), seed=random_state,
                        n_estimators=calibration_trees)
        snap["calibration"] = {"level": cal.level, "lam": cal.lam, "distance_limit": round(cal.distance_limit, 4)}
    return MetaModel(learner, list(data.grid), snap, evidence_weight, cal)
