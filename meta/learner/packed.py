"""A fitted meta-learner as plain arrays: the same trees, loaded without scikit-learn.

:class:`ForestArrays` holds a fitted random forest's trees -- children, split
feature, threshold, where a missing value goes, and the leaves' values -- in flat
NumPy arrays, and walks all trees at once. It follows scikit-learn's own tree
walk (a NaN goes where the split sent missing values in training, else left when
``x <= threshold`` in float64 of the float32 feature), so every tree lands in the
same leaf and returns the same bits. :class:`PackedLearner` is a
:class:`~policy_store.meta.learner.estimator.PruningMetaLearner`'s fitted arrays
with its forest packed: it predicts the same outcomes, intervals, neighbours and
priors (:class:`~policy_store.meta.learner.prediction.LearnerPredictions`), and
unpickling it imports NumPy and pandas only, which is what a warm recommendation
from the shipped knowledge loads (:func:`policy_store.meta.learner.knowledge.shipped_model`).
Internal nodes' values are not kept (a prediction reads leaves only), which
halves the bytes.

>>> import numpy as np, pandas as pd
>>> from policy_store.meta.learner.estimator import PruningMetaLearner
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
>>> y = rng.uniform(size=(40, 4, 3))
>>> fitted = PruningMetaLearner(n_estimators=10, random_state=0).fit(X, y)
>>> packed = PackedLearner.from_learner(fitted)
>>> new = pd.DataFrame({"a": [0.3, np.nan], "b": [np.nan, -1.0]})
>>> bool((packed.predict_trees(new) == fitted.predict_trees(new)).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from policy_store.meta.learner.prediction import LearnerPredictions

#: Version of the packed layout, part of the cache file's name: a change here never unpickles an older layout.
FORMAT = 1
#: The fitted attributes a prediction reads (:class:`~policy_store.meta.learner.prediction.LearnerPredictions`).
FITTED = ("method", "n_neighbors", "lam", "y_", "y_mean_", "y_scale_", "candidates_", "tasks_", "priors_",
          "ranks_", "n_ranked_", "X_rank_", "n_features_in_", "feature_names_in_", "residual_sd_")


@dataclass
class ForestArrays:
    """Every tree of a fitted forest, concatenated (node ids are global; ``roots`` are the trees' first nodes)."""

    roots: np.ndarray          # (n_trees,) int64
    left: np.ndarray           # (n_nodes,) int64, -1 at a leaf
    right: np.ndarray          # (n_nodes,) int64
    feature: np.ndarray        # (n_nodes,) int64
    threshold: np.ndarray      # (n_nodes,) float64
    missing_left: np.ndarray   # (n_nodes,) bool: where a NaN goes
    leaf_row: np.ndarray       # (n_nodes,) int64: the node's row of ``values`` (-1 for internal nodes)
    values: np.ndarray         # (n_leaves, n_outputs) float64

    @classmethod
    def from_forest(cls, forest: Any) -> ForestArrays:
        """Pack a fitted scikit-learn forest of single-output-column regression trees."""
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("left", "right", "feature", "threshold",
                                                              "missing_left", "leaf_row", "values")}
        roots, offset, leaves = [], 0, 0
        for estimator in forest.estimators_:
            t = estimator.tree_
            is_leaf = t.children_left == -1
            roots.append(offset)
            parts["left"].append(np.where(is_leaf, -1, t.children_left + offset))
            parts["right"].append(np.where(is_leaf, -1, t.children_right + offset))
            parts["feature"].append(np.where(is_leaf, 0, t.feature))
            parts["threshold"].append(t.threshold)
            parts["missing_left"].append(np.asarray(t.missing_go_to_left, dtype=bool))
            rows = np.full(t.node_count, -1)
            rows[is_leaf] = leaves + np.arange(int(is_leaf.sum()))
            parts["leaf_row"].append(rows)
            parts["values"].append(t.value[is_leaf, :, 0])
            offset += t.node_count
            leaves += int(is_leaf.sum())
        cat = {k: np.concatenate(v) for k, v in parts.items()}
        return cls(np.asarray(roots, dtype=np.int64), cat["left"].astype(np.int64), cat["right"].astype(np.int64),
                   cat["feature"].astype(np.int64), cat["threshold"].astype(np.float64), cat["missing_left"],
                   cat["leaf_row"].astype(np.int64), np.ascontiguousarray(cat["values"], dtype=np.float64))

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    def apply(self, X32: np.ndarray) -> np.ndarray:
        """``(n_trees, n)`` global leaf node of every tree for every row of float32 features."""
        node = np.repeat(self.roots[:, None], X32.shape[0], axis=1)
        rows = np.arange(X32.shape[0])[None, :]
        inner = self.left[node] >= 0
        while inner.any():
            x = X32[rows, self.feature[node]].astype(np.float64)
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
            inner = self.left[node] >= 0
        return node

    def leaf_values(self, X32: np.ndarray) -> np.ndarray:
        """``(n_trees, n, n_outputs)``: every tree's leaf value for every row (as ``tree_.value[apply(X), :, 0]``)."""
        return self.values[self.leaf_row[self.apply(X32)]]


class PackedLearner(LearnerPredictions):
    """A fitted meta-learner's arrays and its forest as :class:`ForestArrays` (see the module docstring)."""

    def __init__(self, fitted: dict[str, Any], forest: ForestArrays | None) -> None:
        for name, value in fitted.items():
            setattr(self, name, value)
        self.forest = forest

    @classmethod
    def from_learner(cls, learner: Any) -> PackedLearner:
        """Pack a fitted :class:`~policy_store.meta.learner.estimator.PruningMetaLearner`."""
        learner._check_fitted()
        fitted = {name: getattr(learner, name, None) for name in FITTED}
        return cls(fitted, ForestArrays.from_forest(learner.model_) if learner._has_forest() else None)

    def _has_forest(self) -> bool:
        return self.forest is not None

    def _tree_values(self, A32: np.ndarray) -> np.ndarray:
        return self.forest.leaf_values(A32)
