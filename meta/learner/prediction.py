"""What a fitted meta-learner predicts, without scikit-learn: shared by the estimator and its packed form.

:class:`LearnerPredictions` holds the prediction side of
:class:`~policy_store.meta.learner.estimator.PruningMetaLearner` -- outcomes and
their intervals, per-tree outcomes, nearest tasks, priors -- over the fitted
arrays (``y_``, ``ranks_``, ``X_rank_``, ...). A subclass supplies the trees'
leaf values (:meth:`LearnerPredictions._tree_values`): the estimator from its
scikit-learn forest, :class:`~policy_store.meta.learner.packed.PackedLearner`
from the same trees stored as plain arrays, which a recommendation loads without
importing scikit-learn. :func:`select` turns expected outcomes into a choice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.errors import InvalidInputError
from policy_store.frames import is_dataframe

_LOW, _HIGH = 10.0, 90.0


def select(saved: np.ndarray, regret: np.ndarray, *, lam: float = 20.0, max_regret: float | None = None) -> np.ndarray:
    """Index of the chosen candidate per row of ``(n, n_candidates)`` expected outcomes.

    With ``max_regret``: the most compute saved among candidates whose expected
    regret is at most ``max_regret`` (the least regret when none is); ties go to
    the lower regret. Otherwise: the largest ``saved - lam * regret``. A candidate
    with a NaN expectation is never chosen (unless every one is).

    >>> select(np.array([[0.2, 0.6, 0.7]]), np.array([[0.0, 0.004, 0.02]]), lam=20).tolist()
    [1]
    >>> select(np.array([[0.2, 0.6, 0.7]]), np.array([[0.0, 0.004, 0.02]]), max_regret=0.001).tolist()
    [0]
    """
    saved, regret = np.asarray(saved, float), np.asarray(regret, float)
    unknown = np.isnan(saved) | np.isnan(regret)
    if max_regret is None:
        return np.argmax(np.where(unknown, -np.inf, np.nan_to_num(saved) - lam * np.nan_to_num(regret)), axis=1)
    saved, regret = np.where(unknown, -np.inf, saved), np.where(unknown, np.inf, regret)
    ok = regret <= max_regret
    score = np.where(ok, saved - 1e-9 * regret, -np.inf)
    return np.where(ok.any(1), np.argmax(score, axis=1), np.argmin(regret, axis=1))


class LearnerPredictions:
    """Predictions from a fitted learner's arrays (see the module docstring)."""

    def _check_fitted(self) -> None:
        """Raise when the learner is not fitted (a packed learner always is)."""

    def _has_forest(self) -> bool:
        raise NotImplementedError

    def _tree_values(self, A32: np.ndarray) -> np.ndarray:
        """``(n_trees, n, n_outputs)``: each tree's leaf value for each row of float32 features."""
        raise NotImplementedError

    def residual_sd(self) -> np.ndarray | None:
        """``(n_candidates, 3)``: how far the forest's expectation for a new task typically is from the truth
        (out-of-bag RMSE of saved, regret, killed-best rate), or None (nearest-neighbour method, older model)."""
        return getattr(self, "residual_sd_", None)

    # -- features -----------------------------------------------------------------------
    def _as_array(self, X: Any, *, fitting: bool = False) -> np.ndarray:
        if is_dataframe(X):
            if fitting:
                self.feature_names_in_ = np.array([str(c) for c in X.columns], dtype=object)
            else:
                names = getattr(self, "feature_names_in_", None)
                if names is not None:
                    X = X.reindex(columns=list(names))
            arr = X.to_numpy(dtype=float)
        elif isinstance(X, dict):
            names = getattr(self, "feature_names_in_", None)
            if fitting or names is None:
                raise InvalidInputError("pass meta-features as a DataFrame to fit", field="X")
            arr = np.array([[float(X.get(n, np.nan)) if X.get(n) is not None else np.nan for n in names]])
        else:
            arr = np.array(X, dtype=float, ndmin=2)
        if fitting:
            self.n_features_in_ = arr.shape[1]
        elif arr.shape[1] != self.n_features_in_:
            raise InvalidInputError(f"expected {self.n_features_in_} meta-features, got {arr.shape[1]}", field="X")
        return np.where(np.isfinite(arr), arr, np.nan)

    def _rank(self, X: np.ndarray) -> np.ndarray:
        """Empirical CDF of each value among the training tasks' values of that feature (NaN stays NaN)."""
        out = np.full(X.shape, np.nan)
        for j in range(X.shape[1]):
            m = int(self.n_ranked_[j])
            if m == 0:
                continue
            col = self.ranks_[:m, j]
            lo = np.searchsorted(col, X[:, j], side="left")
            hi = np.searchsorted(col, X[:, j], side="right")
            out[:, j] = np.where(np.isnan(X[:, j]), np.nan, (lo + hi) / (2.0 * m))
        return out

    def kneighbors(self, X: Any, n_neighbors: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of the nearest past tasks (rank-scaled, mean L1 over shared features).

        A pair of tasks with no feature in common is at distance 1 (the largest).
        """
        self._check_fitted()
        R = self._rank(self._as_array(X))
        k = min(n_neighbors or self.n_neighbors, len(self.tasks_))
        diff = np.abs(R[:, None, :] - self.X_rank_[None, :, :])
        shared = (~np.isnan(diff)).sum(2)
        dist = np.where(shared > 0, np.nansum(diff, 2) / np.maximum(shared, 1), 1.0)
        idx = np.argsort(dist, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(dist, idx, 1), idx

    # -- predictions --------------------------------------------------------------------
    def predict_outcomes(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Expected outcomes and their 10-90 % interval.

        Returns
        -------
        mean, low, high:
            Each ``(n, n_candidates, 3)``: compute saved, regret, killed-best rate.
        """
        self._check_fitted()
        A = self._as_array(X)
        n, (c, k3) = A.shape[0], self.y_.shape[1:]
        if self._has_forest():
            per_tree = self.predict_trees(A)
            per_tree = per_tree.reshape(per_tree.shape[0], n, c * k3)
            mean = per_tree.mean(0)
            low, high = np.percentile(per_tree, [_LOW, _HIGH], axis=0)
        else:
            dist, idx = self.kneighbors(A)
            w = 1.0 / (dist + 1e-3)
            w /= w.sum(1, keepdims=True)
            flat = self.y_.reshape(len(self.tasks_), -1)[idx]          # (n, k, c*3)
            mean = (w[:, :, None] * flat).sum(1)
            low, high = np.percentile(flat, [_LOW, _HIGH], axis=1)
        shape = (n, c, k3)
        return mean.reshape(shape), low.reshape(shape), high.reshape(shape)

    def predict_trees(self, X: Any) -> np.ndarray:
        """``(n_trees, n, n_candidates, 3)``: every tree's compute saved, regret and killed-best rate (forest only).

        The spread over trees is what the safety floor's conformal intervals scale
        (:mod:`policy_store.meta.learner.calibration`).
        """
        self._check_fitted()
        if not self._has_forest():
            raise InvalidInputError("per-tree predictions need method='forest'", field="method")
        per_tree = self._tree_values(np.ascontiguousarray(self._as_array(X), dtype=np.float32))
        per_tree = per_tree * self.y_scale_ + self.y_mean_
        return per_tree.reshape(per_tree.shape[0], per_tree.shape[1], *self.y_.shape[1:])

    def select(self, X: Any, *, lam: float | None = None, max_regret: float | None = None) -> np.ndarray:
        """Chosen candidate per task for a trade-off (see :func:`select`)."""
        mean = self.predict_outcomes(X)[0]
        return select(mean[:, :, 0], mean[:, :, 1], lam=self.lam if lam is None else lam, max_regret=max_regret)

    def predict(self, X: Any) -> np.ndarray:
        """Index of the recommended candidate per task at ``lam``."""
        return self.select(X)

    def predict_prior(self, X: Any) -> np.ndarray:
        """``(n, 2)`` posterior prior (``prior_mean``, ``prior_beta``): distance-weighted mean of the nearest tasks'."""
        dist, idx = self.kneighbors(X)
        w = 1.0 / (dist + 1e-3)
        w /= w.sum(1, keepdims=True)
        return (w[:, :, None] * self.priors_[idx]).sum(1)
