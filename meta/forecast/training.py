"""Training rows for the forecaster: prefixes of complete curves, their features and where they ended.

:func:`prefix_rows` splits each study of a
:class:`~policy_store.meta.forecast.corpus.CurveSet` into context curves (none
for some studies) and queries, cuts every query at up to ``per_curve`` prefix
lengths (seeded) and returns the features, context ones included
(:func:`~policy_store.meta.forecast.features.prefix_features`), the normalised
target (:func:`~policy_store.meta.forecast.features.targets`) and the row's curve.
:func:`fit_quantile_trees` fits one gradient-boosted quantile regressor per level
of :data:`~policy_store.meta.forecast._base.GRID_LEVELS` and packs them.

>>> from policy_store.meta.forecast.corpus import load_source
>>> rows = prefix_rows(load_source("bundled"), per_curve=2)
>>> rows.X.shape[0] == len(rows.y) < 720, bool(np.isfinite(rows.y).all())
(True, True)
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
#: Most context curves a training query sees, and the share of studies trained without context.
MAX_CONTEXT = 12
NO_CONTEXT = 0.3


@dataclass
class PrefixRows:
    """Features ``X``, targets ``y`` and, per row, the curve it came from and the prefix length."""

    X: np.ndarray
    y: np.ndarray
    curve: np.ndarray
    seen: np.ndarray


def prefix_rows(curves: CurveSet, *, per_curve: int = 6, seed: int = 0, max_context: int = MAX_CONTEXT,
                no_context: float = NO_CONTEXT) -> PrefixRows:
    """Rows from up to ``per_curve`` random prefix lengths per curve, each study split at random into context
    and queries.

    Per study (seeded): with probability ``no_context`` no context (the rows teach the model's context-free
    branch); otherwise ``m`` of its curves, ``m`` uniform in ``1..min(max_context, n - 1)``, are the context
    -- half the time drawn at random, half the time from the better half by final (under a pruner the trials
    that complete are mostly the good ones) -- and the others are the queries, cut at random prefixes.
    """
    rng = np.random.default_rng(seed)
    parts_X, parts_y, parts_curve, parts_seen = [], [], [], []
    order = np.argsort(curves.study, kind="stable")
    bounds = np.r_[0, np.flatnonzero(np.diff(curves.study[order])) + 1, len(order)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        members = order[a:b]
        n_steps, up = int(curves.lengths[members[0]]), bool(curves.maximize[members[0]])
        m = 0 if len(members) < 2 or rng.random() < no_context else int(rng.integers(1, min(max_context,
                                                                                            len(members) - 1) + 1))
        if m and rng.random() < 0.5:
            finals = curves.values[members, n_steps - 1] * (1.0 if up else -1.0)
            better = members[np.argsort(-finals, kind="stable")[:max(m, len(members) // 2)]]
            chosen = rng.choice(better, size=m, replace=False)
        else:
            chosen = rng.choice(members, size=m, replace=False)
        queries = np.setdiff1d(members, chosen)
        curve = np.repeat(queries, min(per_curve, n_steps - 1))
        seen = np.concatenate([rng.choice(np.arange(1, n_steps), size=min(per_curve, n_steps - 1), replace=False)
                               for _ in queries]).astype(np.int64)
        vals = curves.values[curve, :n_steps]
        prefix = np.where(np.arange(n_steps)[None, :] < seen[:, None], vals, np.nan)
        context = (curves.values[chosen, :n_steps], np.full(m, n_steps, dtype=np.int64)) if m else None
        parts_X.append(prefix_features(prefix, seen, n_steps, up, context))
        parts_y.append(targets(vals[:, -1], prefix, seen, np.full(len(seen), up)))
        parts_curve.append(curve)
        parts_seen.append(seen)
    return PrefixRows(np.concatenate(parts_X), np.concatenate(parts_y), np.concatenate(parts_curve),
                      np.concatenate(parts_seen))


def fit_quantile_trees(X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, *, seed: int = 0,
                       levels: Sequence[float] = tuple(GRID_LEVELS)) -> PackedQuantileTrees:
    """One ``HistGradientBoostingRegressor(loss="quantile")`` per level, fitted and packed."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    models = [HistGradientBoostingRegressor(loss="quantile", quantile=float(q), random_state=seed,
                                            early_stopping=False, **TREE_PARAMS).fit(X, y, sample_weight=weight)
              for q in levels]
    return PackedQuantileTrees.from_models(models)
