"""Gradient-boosted quantile regressors as plain arrays, walked for a whole batch at once.

:class:`PackedQuantileTrees` holds one scikit-learn
``HistGradientBoostingRegressor(loss="quantile")`` per quantile level, its trees
concatenated into flat NumPy arrays (children, split feature, threshold, where a
missing value goes, leaf values) and its baseline. :meth:`PackedQuantileTrees.predict`
walks every tree of every level for every row in one vectorised loop over the
depth, following scikit-learn's own walk (a NaN goes where training sent
missing values, else left when ``x <= threshold``), so it returns scikit-learn's
predictions without importing scikit-learn or paying its per-call overhead.
:meth:`to_arrays` / :meth:`from_arrays` round-trip through a plain ``.npz``.

>>> import numpy as np
>>> from sklearn.ensemble import HistGradientBoostingRegressor
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 3)); X[::7, 1] = np.nan
>>> y = X[:, 0] + rng.normal(size=300)
>>> models = [HistGradientBoostingRegressor(loss="quantile", quantile=q, max_iter=20, random_state=0).fit(X, y)
...           for q in (0.1, 0.9)]
>>> packed = PackedQuantileTrees.from_models(models)
>>> bool(np.allclose(packed.predict(X), np.column_stack([m.predict(X) for m in models])))
True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any

import numpy as np


@dataclass
class PackedQuantileTrees:
    """Every tree of every level's model (node ids are global; ``model`` says which level a tree adds to)."""

    roots: np.ndarray          # (n_trees,) int64
    model: np.ndarray          # (n_trees,) int64: the level the tree belongs to
    left: np.ndarray           # (n_nodes,) int64 (a leaf points to itself)
    right: np.ndarray          # (n_nodes,) int64
    feature: np.ndarray        # (n_nodes,) int64
    threshold: np.ndarray      # (n_nodes,) float64
    missing_left: np.ndarray   # (n_nodes,) bool
    value: np.ndarray          # (n_nodes,) float64 (leaves' values; 0 at internal nodes)
    baseline: np.ndarray       # (n_levels,) float64
    depth: int

    @property
    def bounds(self) -> np.ndarray:
        """Where each level's trees start and end in :attr:`roots` (``n_levels + 1`` offsets)."""
        cached = self.__dict__.get("_bounds")
        if cached is None:
            m = self.model
            cached = np.r_[0, np.flatnonzero(m[1:] != m[:-1]) + 1, len(m)].astype(np.int64)
            self.__dict__["_bounds"] = cached
        return cached

    @classmethod
    def from_models(cls, models: list[Any]) -> PackedQuantileTrees:
        """Pack fitted single-output ``HistGradientBoostingRegressor`` models, one per level."""
        roots, owner, parts = [], [], {k: [] for k in ("left", "right", "feature", "threshold", "missing_left",
                                                      "value")}
        offset, depth = 0, 0
        for m, model in enumerate(models):
            for stage in model._predictors:
                nodes = stage[0].nodes
                leaf = nodes["is_leaf"].astype(bool)
                own = np.arange(len(nodes)) + offset
                roots.append(offset)
                owner.append(m)
                parts["left"].append(np.where(leaf, own, nodes["left"].astype(np.int64) + offset))
                parts["right"].append(np.where(leaf, own, nodes["right"].astype(np.int64) + offset))
                parts["feature"].append(np.where(leaf, 0, nodes["feature_idx"]).astype(np.int64))
                parts["threshold"].append(nodes["num_threshold"].astype(np.float64))
                parts["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
                parts["value"].append(np.where(leaf, nodes["value"], 0.0))
                depth = max(depth, int(nodes["depth"].max()))
                offset += len(nodes)
        cat = {k: np.concatenate(v) for k, v in parts.items()}
        baseline = np.array([float(np.ravel(m._baseline_prediction)[0]) for m in models])
        return cls(np.asarray(roots, np.int64), np.asarray(owner, np.int64), cat["left"], cat["right"],
                   cat["feature"], cat["threshold"], cat["missing_left"], cat["value"], baseline, depth)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Each level's prediction for each row of ``X``, ``(n_rows, n_levels)`` (compiled where numba is)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        bounds = self.bounds
        walk = _compiled_walk()
        if walk is not None:
            out = np.empty((len(X), len(self.baseline)))
            walk(X, self.roots, self.left, self.right, self.feature, self.threshold, self.missing_left, self.value,
                 bounds, self.baseline, out)
            return out
        node = np.broadcast_to(self.roots, (len(X), len(self.roots))).copy()
        rows = np.arange(len(X))[:, None]
        for _ in range(self.depth):
            x = X[rows, self.feature[node]]
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(go_left, self.left[node], self.right[node])
        # A running sum over each level's trees (they are contiguous), in tree order like the compiled walk: its
        # bits do not depend on how many rows are predicted together (numpy's pairwise reduction's would), so a
        # trial forecast alone equals the same trial in a batch, compiled or not.
        leaves = self.value[node]
        out = np.column_stack([np.cumsum(leaves[:, a:b], axis=1)[:, -1] for a, b in zip(bounds[:-1], bounds[1:],
                                                                                         strict=True)])
        return out + self.baseline

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fields as arrays (for ``numpy.savez``)."""
        return {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: Any) -> PackedQuantileTrees:
        """Rebuild from :meth:`to_arrays`'s output (or an opened ``.npz``)."""
        kw = {f.name: np.asarray(arrays[f.name]) for f in fields(cls)}
        kw["depth"] = int(kw["depth"])
        return cls(**kw)


def _walk(X, roots, left, right, feature, threshold, missing_left, value, bounds, baseline, out):  # pragma: no cover
    for r in range(X.shape[0]):
        for m in range(len(bounds) - 1):
            acc = 0.0
            for t in range(bounds[m], bounds[m + 1]):
                node = roots[t]
                while left[node] != node:
                    x = X[r, feature[node]]
                    go_left = missing_left[node] if np.isnan(x) else x <= threshold[node]
                    node = left[node] if go_left else right[node]
                acc += value[node]
            out[r, m] = acc + baseline[m]


@functools.cache
def _compiled_walk():
    """The tree walk compiled by numba (on-disk cache), or None where numba is off (``POLICY_STORE_REPLAY_JIT=0``)."""
    from policy_store.replay.kernels import _jit

    return _jit.njit(_walk) if _jit.enabled() else None
