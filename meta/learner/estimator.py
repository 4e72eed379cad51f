"""The meta-learner: task meta-features -> expected outcome of every candidate rule.

:class:`PruningMetaLearner` is a scikit-learn estimator. ``fit(X, y)`` takes one
row of meta-features per past task (NaN where unknown) and, per task and grid
candidate, the measured compute saved, regret and killed-best rate; it learns to
predict those outcomes for a new task. The trade-off is chosen at prediction
time (:meth:`PruningMetaLearner.select`): maximise ``saved - lam * regret``, or
the most compute saved whose expected regret stays within ``max_regret``; one
fitted model serves every user's trade-off.

Two methods (``method``):

``"forest"`` (default)
    A multi-output random forest on the raw features (trees need no scaling and
    route missing values natively). Its outputs are in utility units at ``lam``:
    compute saved and the killed-best rate as they are, regret times ``lam``, so
    the splits follow what changes the choice (standardising every output
    instead gave regret's rare large values and the killed-best rate as much
    weight as compute saved, and closed less of the gap: ``benchmarks/RESULTS.md``).
    Intervals are the 10th-90th percentiles over trees.
``"knn"``
    The distance-weighted mean of the ``n_neighbors`` nearest tasks' outcomes.

Either way, similar past tasks (the explanation) and the ``posterior`` prior of
the new task come from the nearest tasks in a rank-scaled feature space with an
L1 distance averaged over the features both tasks have, so a task known only by
a few features (e.g. a user's first curves) still has neighbours.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"a": rng.normal(size=30), "b": rng.normal(size=30)})
>>> y = np.stack([np.c_[0.5 + 0.1 * X["a"], 0.3 - 0.1 * X["a"]],               # compute saved
...               np.c_[0.05 * (X["a"] > 0), 0.05 * (X["a"] <= 0)],          # regret
...               np.zeros((30, 2))], axis=2)                                 # killed-best rate
>>> model = PruningMetaLearner(n_estimators=20, random_state=0).fit(X, y)
>>> int(model.predict(pd.DataFrame({"a": [2.0], "b": [0.0]}))[0]), int(model.predict([[-2.0, np.nan]])[0])
(1, 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from policy_store.meta.learner.prediction import LearnerPredictions
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestRegressor
from sklearn.utils.validation import check_is_fitted

from policy_store.errors import InvalidInputError

_METHODS = ("forest", "knn")


class PruningMetaLearner(LearnerPredictions, BaseEstimator):
    """Predict every candidate rule's outcome on a task from its meta-features.

    Parameters
    ----------
    method:
        ``"forest"`` or ``"knn"`` (see the module docstring).
    n_estimators, min_samples_leaf, max_features:
        Of the random forest.
    n_neighbors:
        Neighbours for ``knn`` predictions and for :meth:`predict_prior`.
    lam:
        The trade-off :meth:`predict` uses (maximise ``saved - lam * regret``) and
        the forest's weight of regret against compute saved.
    random_state:
        Seed of the forest.
    n_jobs:
        Threads fitting the trees (each tree's seed is drawn before they run, so the
        fitted forest is the same for any value).
    """

    def __init__(self, method: str = "forest", n_estimators: int = 100, min_samples_leaf: int = 3,
                 max_features: float = 0.5, n_neighbors: int = 5, lam: float = 20.0, random_state: int = 0,
                 n_jobs: int = 1):
        self.method = method
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.n_neighbors = n_neighbors
        self.lam = lam
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fitting ----------------------------------------------------------------------
    def fit(self, X: Any, y: Any, *, priors: Any = None, task_names: Sequence[str] | None = None,
            candidates: Sequence[str] | None = None, sample_weight: Any = None) -> PruningMetaLearner:
        """Learn from past tasks.

        Parameters
        ----------
        X:
            ``(n_tasks, n_features)`` meta-features (a DataFrame keeps the names); NaN = unknown.
        y:
            ``(n_tasks, n_candidates, 3)``: mean compute saved, mean regret and
            killed-best rate of each candidate on each task.
        priors:
            ``(n_tasks, 2)``: each task's posterior ``prior_mean`` and ``prior_beta``.
        task_names, candidates:
            Names of the tasks and candidates, for explanations.
        sample_weight:
            ``(n_tasks,)`` weights of the tasks in the forest (a user's own tasks over shipped ones).
        """
        if self.method not in _METHODS:
            raise InvalidInputError(f"method must be one of {list(_METHODS)}, got {self.method!r}", field="method")
        if not self.lam > 0:
            raise InvalidInputError(f"lam must be > 0, got {self.lam!r}", field="lam")
        X_arr = self._as_array(X, fitting=True)
        y = np.asarray(y, dtype=float)
        if y.ndim != 3 or y.shape[0] != X_arr.shape[0] or y.shape[2] != 3:
            raise InvalidInputError(f"y must have shape (n_tasks={X_arr.shape[0]}, n_candidates, 3), got {y.shape}",
                                    field="y")
        if X_arr.shape[0] < 2:
            raise InvalidInputError("the meta-learner needs at least 2 past tasks", field="X")
        n, c, _ = y.shape
        # A candidate never measured on a task (NaN) counts as the task's column mean.
        flat = y.reshape(n, c * 3)
        col_mean = np.nan_to_num(np.nanmean(flat, axis=0))
        flat = np.where(np.isnan(flat), col_mean, flat)
        self.y_ = flat.reshape(n, c, 3)
        self.y_mean_ = flat.mean(0)
        self.y_scale_ = np.tile([1.0, 1.0 / self.lam, 1.0], c)          # saved, lam * regret, killed-best
        self.candidates_ = np.array(list(candidates) if candidates is not None else range(c), dtype=object)
        self.tasks_ = np.array(list(task_names) if task_names is not None else range(n), dtype=object)
        self.priors_ = (np.tile([0.0, 0.01], (n, 1)) if priors is None else np.asarray(priors, dtype=float))
        self.ranks_ = np.sort(X_arr, axis=0)                 # per-feature training values, NaN last
        self.n_ranked_ = (~np.isnan(X_arr)).sum(0)
        self.X_rank_ = self._rank(X_arr)
        if self.method == "forest":
            target = (flat - self.y_mean_) / self.y_scale_
            self.model_ = RandomForestRegressor(
                n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
                max_features=self.max_features, random_state=self.random_state, n_jobs=self.n_jobs,
            ).fit(X_arr, target, sample_weight=None if sample_weight is None else np.asarray(sample_weight, float))
            self.residual_sd_ = (self._out_of_bag_rmse(X_arr, target) * self.y_scale_).reshape(c, 3)
        else:
            self.model_ = None
            self.residual_sd_ = None
        return self

    def _out_of_bag_rmse(self, X: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Per output, the forest's root-mean-square error on the tasks each tree did not see (0 if none)."""
        total, count = np.zeros_like(target), np.zeros(len(target))
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        for tree, seen in zip(self.model_.estimators_, self.model_.estimators_samples_, strict=True):
            unseen = np.ones(len(target), dtype=bool)
            unseen[seen] = False
            total[unseen] += tree.tree_.value[tree.tree_.apply(X32[unseen]), :, 0]
            count[unseen] += 1
        ok = count > 0
        if ok.sum() < 2:
            return np.zeros(target.shape[1])
        return np.sqrt(np.mean((target[ok] - total[ok] / count[ok, None]) ** 2, axis=0))

    # -- what the shared predictions need (:class:`~policy_store.meta.learner.prediction.LearnerPredictions`) --
    def _check_fitted(self) -> None:
        check_is_fitted(self, "y_")

    def _has_forest(self) -> bool:
        return self.model_ is not None

    def _tree_values(self, A32: np.ndarray) -> np.ndarray:
        # The trees' own arrays, without sklearn's per-call validation (a warm recommendation is < 20 ms).
        return np.stack([t.tree_.value[t.tree_.apply(A32), :, 0] for t in self.model_.estimators_])
