"""Training rows for the forecaster: prefixes of complete curves, their features and where they ended.

:func:`prefix_rows` cuts every complete curve of a
:class:`~policy_store.meta.forecast.corpus.CurveSet` at up to ``per_curve``
prefix lengths (seeded) and returns the features
(:func:`~policy_store.meta.forecast.features.prefix_features`), the normalised
target (:func:`~policy_store.meta.forecast.features.targets`) and the row's curve.
:func:`fit_quantile_trees` fits one gradient-boosted quantile regressor per level
of :data:`~policy_store.meta.forecast._base.GRID_LEVELS` and packs them.

>>> from policy_store.meta.forecast.corpus import load_source
>>> rows = prefix_rows(load_source("bundled"), per_curve=2)
>>> rows.X.shape[0] == len(rows.y) == 720
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from policy_store.meta.forecast._base import GRID_LEVELS
from policy_store.meta.forecast.corpus import CurveSet
from policy_store.meta.forecast.features import prefix_features, targets
from policy_store.meta.forecast.packed import PackedQuantileTrees

#: Hyper-parameters of each level's regressor (small trees: the packed model stays well under 2 MB).
TREE_PARAMS = {"max_iter": 60, "max_leaf_nodes": 15, "max_depth": 6, "learning_rate": 0.12,
               "min_samples_leaf": 80, "l2_regularization": 1.0}


@dataclass
class PrefixRows:
    """Features ``X``, targets ``y`` and, per row, the curve it came from and the prefix length."""

    X: np.ndarray
    y: np.ndarray
    curve: np.ndarray
    seen: np.ndarray


def prefix_rows(curves: CurveSet, *, per_curve: int = 6, seed: int = 0,
                fractions: Sequence[float] | None = None) -> PrefixRows:
    """Rows from up to ``per_curve`` random prefix lengths per curve (or exactly ``fractions`` of its budget)."""
    rng = np.random.default_rng(seed)
    pick_curve, pick_seen = [], []
    for i, n in enumerate(curves.lengths):
        if fractions is not None:
            ks = np.unique(np.clip(np.round(np.asarray(fractions) * n).astype(np.int64), 1, n - 1))
        else:
            ks = rng.choice(np.arange(1, n), size=min(per_curve, n - 1), replace=False)
        pick_curve.append(np.full(len(ks), i))
        pick_seen.append(ks)
    curve = np.concatenate(pick_curve)
    seen = np.concatenate(pick_seen).astype(np.int64)
    X = np.empty((len(curve), 0))
    parts_X, parts_y, order = [], [], []
    n_steps = curves.lengths[curve]
    up = curves.maximize[curve]
    for key in sorted(set(zip(n_steps.tolist(), up.tolist(), strict=True))):
        idx = np.flatnonzero((n_steps == key[0]) & (up == key[1]))
        vals = curves.values[curve[idx], :key[0]]
        cols = np.arange(key[0])[None, :]
        prefix = np.where(cols < seen[idx, None], vals, np.nan)
        parts_X.append(prefix_features(prefix, seen[idx], key[0], key[1]))
        parts_y.append(targets(vals[:, -1], prefix, seen[idx], up[idx]))
        order.append(idx)
    order = np.concatenate(order)
    X = np.concatenate(parts_X)
    y = np.concatenate(parts_y)
    return PrefixRows(X, y, curve[order], seen[order])


def fit_quantile_trees(X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, *, seed: int = 0,
                       levels: Sequence[float] = tuple(GRID_LEVELS)) -> PackedQuantileTrees:
    """One ``HistGradientBoostingRegressor(loss="quantile")`` per level, fitted and packed."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    models = [HistGradientBoostingRegressor(loss="quantile", quantile=float(q), random_state=seed,
                                            early_stopping=False, **TREE_PARAMS).fit(X, y, sample_weight=weight)
              for q in levels]
    return PackedQuantileTrees.from_models(models)
