"""How a forecaster is judged on complete curves it has never seen: interval coverage and CRPS per prefix.

:func:`score` cuts every curve of a :class:`~policy_store.meta.forecast.corpus.CurveSet`
at each fraction of its budget, asks the forecaster for quantiles of the final
at :data:`CRPS_LEVELS`, and reports per fraction the share of finals inside the
central 80 % interval (levels 0.1 and 0.9) and the CRPS, approximated by twice
the mean pinball loss over the levels (mean and median over curves), in units of the study's scale (the standard
deviation of every value its curves reported, :func:`study_spread`), so studies of
every metric weigh alike.

>>> from policy_store.meta.forecast import LastValueForecaster
>>> from policy_store.meta.forecast.corpus import load_source
>>> table = score(LastValueForecaster(), load_source("bundled"), fractions=(0.2,))
>>> list(table.columns)
['fraction', 'n', 'coverage80', 'crps', 'crps_median']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from policy_store.meta.forecast._base import Forecaster
from policy_store.meta.forecast.corpus import CurveSet

#: Levels the CRPS is approximated on (the 80 % interval's ends are among them).
CRPS_LEVELS = np.round(np.arange(0.05, 0.951, 0.05), 2)
FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5)


def study_spread(curves: CurveSet) -> np.ndarray:
    """Per curve, its study's scale: the standard deviation of every value its complete curves reported.

    Not the spread of the finals alone: in a study whose finals all agree (a learner that saturates on every
    configuration) that is ~0 and one curve's error would swamp every other study's; the values along the
    curves give each study a scale in its own units either way (floored for a study of constant curves).
    """
    finals = curves.values[np.arange(len(curves)), curves.lengths - 1]
    sd = np.zeros(len(curves.studies))
    level = np.zeros(len(curves.studies))
    order = np.argsort(curves.study, kind="stable")
    bounds = np.r_[0, np.flatnonzero(np.diff(curves.study[order])) + 1, len(order)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        rows = order[a:b]
        vals = curves.values[rows]
        sd[curves.study[rows[0]]] = float(np.nanstd(vals))
        level[curves.study[rows[0]]] = float(np.median(np.abs(finals[rows])))
    return np.maximum(sd, np.maximum(1e-3 * level, 1e-12))[curves.study]


def pinball(q: np.ndarray, y: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Mean pinball loss over ``levels`` per row."""
    diff = y[:, None] - q
    return np.mean(np.maximum(levels * diff, (levels - 1) * diff), axis=1)


def context_split(curves: CurveSet, size: int, seed: int = 0) -> np.ndarray:
    """Per study, ``size`` curves drawn at random (seeded) as the context the others are forecast with
    (at most half a study's curves, so every study keeps queries); True where a curve is context."""
    rng = np.random.default_rng(seed)
    is_context = np.zeros(len(curves), dtype=bool)
    if size <= 0:
        return is_context
    order = np.argsort(curves.study, kind="stable")
    bounds = np.r_[0, np.flatnonzero(np.diff(curves.study[order])) + 1, len(order)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        members = order[a:b]
        is_context[rng.choice(members, size=min(size, len(members) // 2), replace=False)] = True
    return is_context


def predict_at(forecaster: Forecaster, curves: CurveSet, fraction: float,
               levels: Sequence[float] = tuple(CRPS_LEVELS), *, queries: np.ndarray | None = None,
               context: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantiles for every query curve cut at ``fraction`` of its budget (at least one step, at most all but
    one), with the finals and the prefix lengths.

    ``queries``: a mask of the curves to forecast (all by default); ``context``: a mask of the curves each
    study's queries are given as context (:func:`context_split`), or None for none.
    """
    rows = np.arange(len(curves)) if queries is None else np.flatnonzero(queries)
    lengths, study = curves.lengths[rows], curves.study[rows]
    seen = np.clip(np.round(fraction * lengths).astype(np.int64), 1, lengths - 1)
    out = np.empty((len(rows), len(levels)))
    if context is None:
        keys = zip(lengths.tolist(), curves.maximize[rows].tolist(), seen.tolist(), strict=True)
        for key in sorted(set(keys)):
            idx = np.flatnonzero((lengths == key[0]) & (curves.maximize[rows] == key[1]) & (seen == key[2]))
            out[idx] = forecaster.quantiles(curves.values[rows[idx], :key[2]], seen[idx], key[0], key[1], levels)
    else:
        for s in np.unique(study):
            idx = np.flatnonzero(study == s)
            n, k = int(lengths[idx[0]]), int(seen[idx[0]])
            ref = curves.values[context & (curves.study == s), :n]
            out[idx] = forecaster.quantiles(curves.values[rows[idx], :k], seen[idx], n,
                                            bool(curves.maximize[rows[idx[0]]]), levels, context=ref)
    finals = curves.values[rows, lengths - 1]
    return out, finals, seen


def score(forecaster: Forecaster, curves: CurveSet, fractions: Sequence[float] = FRACTIONS, *,
          queries: np.ndarray | None = None, context: np.ndarray | None = None,
          per_curve: dict[float, np.ndarray] | None = None) -> pd.DataFrame:
    """Coverage of the 80 % interval and CRPS (study-spread units) per prefix fraction (``queries`` and
    ``context`` as in :func:`predict_at`); ``per_curve``, when given, receives each fraction's per-curve CRPS."""
    spread = study_spread(curves)
    if queries is not None:
        spread = spread[queries]
    lo, hi = int(np.flatnonzero(np.isclose(CRPS_LEVELS, 0.1))[0]), int(np.flatnonzero(np.isclose(CRPS_LEVELS, 0.9))[0])
    rows = []
    for f in fractions:
        q, y, _ = predict_at(forecaster, curves, f, queries=queries, context=context)
        inside = (y >= q[:, lo]) & (y <= q[:, hi])
        crps = 2.0 * pinball(q / spread[:, None], y / spread, CRPS_LEVELS)
        if per_curve is not None:
            per_curve[f] = crps
        rows.append({"fraction": f, "n": len(y), "coverage80": float(inside.mean()), "crps": float(crps.mean()),
                     "crps_median": float(np.median(crps))})
    return pd.DataFrame(rows)
