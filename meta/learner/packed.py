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

:meth:`PackedLearner.save` writes it as one ``.npz`` (no pickle) small enough to
ship in the wheel: a leaf's value is the bootstrap-weighted mean of the training
targets that reached it, so instead of the values (1,140 tasks x 162 outputs per
leaf, ~28 MB) the file keeps which in-bag tasks each leaf holds and how often
each was drawn (:func:`leaf_membership`), and :meth:`PackedLearner.load`
recomputes the values from the training targets it also keeps (equal to
scikit-learn's to ~1e-15; :meth:`PackedLearner.save` checks) -- each leaf's when a
prediction first reads it (:class:`LeafValues`: a recommendation reads one leaf per
tree, not the 56 MB pass over every leaf of the shipped forest that all values take). This is the
shipped knowledge's model (``meta/knowledge/forest.npz``): a first
recommendation loads it instead of fitting the forest.

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

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from policy_store.meta.learner.prediction import LearnerPredictions

#: Version of the packed layout, part of the cache file's name: a change here never unpickles an older layout.
FORMAT = 1
#: Saved arrays of :meth:`PackedLearner.save` other than the fitted attributes (the forest's structure and leaves).
_TREE = ("roots", "left", "right", "feature", "threshold", "missing_left", "leaf_row")
_TEXT = ("candidates_", "tasks_", "feature_names_in_")
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
    values: np.ndarray | LeafValues  # (n_leaves, n_outputs) float64, or computed per leaf as read

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

    def save(self, path: str | os.PathLike[str], learner: Any, X: Any, *, snapshot: dict[str, Any]) -> None:
        """Write this packed forest of ``learner`` (fitted on ``X``, no sample weights) as ``.npz``, leaves as
        membership (module docstring), with the model record's ``snapshot``; checks the recomputed values."""
        rows, samples, counts = leaf_membership(learner.model_, learner._as_array(X))
        target = self._target()
        if not np.allclose(leaf_values(target, rows, samples, counts), self.forest.values, rtol=1e-9, atol=1e-12):
            raise ValueError("leaf values do not follow from the training targets (a forest fitted with weights?)")
        arrays = {f"fitted_{k}": (np.asarray(v, dtype=str) if k in _TEXT else np.asarray(v))
                  for k, v in ((k, getattr(self, k)) for k in FITTED)}
        arrays.update({f"tree_{k}": getattr(self.forest, k) for k in _TREE})
        arrays.update(leaf_rows=rows.astype(np.int32), leaf_samples=samples.astype(np.int32),
                      leaf_counts=counts.astype(np.uint8 if counts.max() < 256 else np.int32),
                      snapshot=np.asarray(json.dumps(snapshot, sort_keys=True)))
        with open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> tuple[PackedLearner, dict[str, Any]]:
        """The packed learner :meth:`save` wrote and its snapshot (no pickle is read)."""
        with np.load(path, allow_pickle=False) as z:
            fitted = {k: z[f"fitted_{k}"] for k in FITTED}
            for k in _TEXT:
                fitted[k] = fitted[k].astype(object)
            for k in ("method",):
                fitted[k] = str(fitted[k])
            for k in ("n_neighbors", "n_features_in_"):
                fitted[k] = int(fitted[k])
            fitted["lam"] = float(fitted["lam"])
            learner = cls(fitted, None)
            tree = {k: z[f"tree_{k}"] for k in _TREE}
            values = LeafValues(learner._target(), z["leaf_rows"].astype(np.int64),
                                z["leaf_samples"].astype(np.int64), z["leaf_counts"])
            learner.forest = ForestArrays(**tree, values=values)
            return learner, json.loads(str(z["snapshot"]))

    def _target(self) -> np.ndarray:
        """The forest's training targets (:meth:`PruningMetaLearner.fit`: outputs in utility units, centred)."""
        flat = self.y_.reshape(len(self.y_), -1)
        return (flat - self.y_mean_) / self.y_scale_

    def _tree_values(self, A32: np.ndarray) -> np.ndarray:
        return self.forest.leaf_values(A32)


def leaf_membership(forest: Any, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (tree, in-bag training row): its global leaf row (as :class:`ForestArrays` numbers them), the row
    and how many times the bootstrap drew it. For a forest fitted without ``sample_weight``."""
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    rows, samples, counts, leaves = [], [], [], 0
    for estimator, drawn in zip(forest.estimators_, forest.estimators_samples_, strict=True):
        t = estimator.tree_
        is_leaf = t.children_left == -1
        local = np.full(t.node_count, -1)
        local[is_leaf] = leaves + np.arange(int(is_leaf.sum()))
        count = np.bincount(drawn, minlength=len(X32))
        inbag = np.flatnonzero(count)
        rows.append(local[t.apply(X32[inbag])])
        samples.append(inbag)
        counts.append(count[inbag])
        leaves += int(is_leaf.sum())
    return np.concatenate(rows), np.concatenate(samples), np.concatenate(counts)


class LeafValues:
    """Leaves' values (:func:`leaf_values`) computed for the leaves read, when first read, and kept.

    Indexed like the ``(n_leaves, n_outputs)`` array :func:`leaf_values` returns (an integer array of leaf
    rows gives those rows' values, the same bits: each leaf's sum runs over the same terms in the same order).
    """

    def __init__(self, target: np.ndarray, rows: np.ndarray, samples: np.ndarray, counts: np.ndarray) -> None:
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        self._target = target
        self._samples = samples[order]
        self._counts = counts[order].astype(np.float64)
        self._starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])   # leaf r's terms start at _starts[r]
        self._ends = np.r_[self._starts[1:], len(rows)]
        self._known: dict[int, np.ndarray] = {}

    @property
    def shape(self) -> tuple[int, int]:
        return len(self._starts), self._target.shape[1]

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        leaves, inverse = np.unique(index, return_inverse=True)
        todo = np.array([r for r in leaves.tolist() if r not in self._known], dtype=np.int64)
        if len(todo):
            lengths = self._ends[todo] - self._starts[todo]
            starts = np.r_[0, np.cumsum(lengths)[:-1]]
            terms = np.repeat(self._starts[todo] - starts, lengths) + np.arange(int(lengths.sum()))
            counts = self._counts[terms]
            total = np.add.reduceat(self._target[self._samples[terms]] * counts[:, None], starts, axis=0)
            for r, v in zip(todo.tolist(), total / np.add.reduceat(counts, starts)[:, None], strict=True):
                self._known[r] = v
        out = np.stack([self._known[r] for r in leaves.tolist()]) if len(leaves) else \
            np.empty((0, self._target.shape[1]))
        return out[inverse.ravel()].reshape(*index.shape, self._target.shape[1])


def leaf_values(target: np.ndarray, rows: np.ndarray, samples: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``(n_leaves, n_outputs)``: each leaf's count-weighted mean of ``target`` over the training rows in it."""
    order = np.argsort(rows, kind="stable")
    rows, samples, counts = rows[order], samples[order], counts[order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    total = np.add.reduceat(target[samples] * counts[:, None], starts, axis=0)
    return total / np.add.reduceat(counts, starts)[:, None]
