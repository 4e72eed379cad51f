"""The learned forecaster: gradient-boosted quantiles of the final from the prefix's shape and its study.

:class:`QuantileForecaster` predicts the normalised offset of the final from the
last seen value (:mod:`policy_store.meta.forecast.features`: the prefix's own
features and, when the caller passes the study's other curves as ``context``,
where the prefix stands among them and how they continued) at every level of
:data:`~policy_store.meta.forecast._base.GRID_LEVELS` with packed quantile trees
(:class:`~policy_store.meta.forecast.packed.PackedQuantileTrees`), sorts them (no
crossing) and maps them back to the curve's units. A trial that has reached the
budget gets its last value. Where numba is on, the whole call runs as one compiled
loop (:mod:`policy_store.meta.forecast.fused`; a pruner's one-trial call costs
tens of microseconds); :meth:`QuantileForecaster.reference_quantiles` is the numpy
path. :func:`policy_store.meta.forecast.load_forecaster` gives the one trained on
every corpus and shipped with the package.

>>> import numpy as np
>>> from policy_store.meta.forecast import load_forecaster
>>> fc = load_forecaster()
>>> q = fc.quantiles(np.array([[0.5, 0.6, 0.65]]), np.array([3]), 30, maximize=True)
>>> others = np.array([[0.4, 0.5, 0.55] + [0.6] * 27, [0.7, 0.8, 0.85] + [0.9] * 27])
>>> qc = fc.quantiles(np.array([[0.5, 0.6, 0.65]]), np.array([3]), 30, maximize=True, context=others)
>>> type(fc).__name__, bool(np.all(np.diff(q) >= 0)), bool(np.isfinite(qc).all())
('QuantileForecaster', True, True)
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from policy_store.meta.forecast._base import (
    ABSOLUTE_FLOOR,
    GRID_LEVELS,
    LARGEST,
    RELATIVE_FLOOR,
    Forecaster,
    interpolate_levels,
)
from policy_store.meta.forecast.features import FEATURES, LOOKBACK, PREFIX_FEATURES, TARGET_LIMIT, prefix_features
from policy_store.meta.forecast.packed import PackedQuantileTrees

_NO_CONTEXT = np.empty((0, 1))
_UNSET = object()


class QuantileForecaster(Forecaster):
    """Quantiles of the final from packed gradient-boosted quantile trees (one model per grid level)."""

    name = "learned"

    def __init__(self, trees: PackedQuantileTrees) -> None:
        self.trees = trees
        # (raw path, context shape, context digest, n_steps, maximize, k) -> width_factors' result
        self._factors: dict[tuple[str, tuple[int, ...], bytes, int, bool, int], np.ndarray | None] = {}

    def normalised_grid(self, values: np.ndarray, seen: np.ndarray, last: np.ndarray, scale: np.ndarray,
                        n_steps: int, maximize: bool,
                        context: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        grid = self.trees.predict(prefix_features(values, seen, n_steps, maximize, context))
        return np.where((seen >= n_steps)[:, None], 0.0, np.sort(grid, axis=1))

    #: Rescale the interval by the study's own completed curves when context is given
    #: (:mod:`policy_store.meta.forecast.calibration`).
    calibrate = True

    def reference_quantiles(self, values: np.ndarray, seen: np.ndarray, n_steps: int, maximize: bool,
                            levels: Sequence[float] = (0.1, 0.5, 0.9), *,
                            context: np.ndarray | None = None) -> np.ndarray:
        """:meth:`quantiles` in numpy (the reference, and the path without numba)."""
        return self._calibrated(self._reference_raw, values, seen, n_steps, maximize, levels, context)

    def quantiles(self, values: np.ndarray, seen: np.ndarray, n_steps: int, maximize: bool,
                  levels: Sequence[float] = (0.1, 0.5, 0.9), *, context: np.ndarray | None = None) -> np.ndarray:
        return self._calibrated(self._raw, values, seen, n_steps, maximize, levels, context)

    def _calibrated(self, raw: Any, values: np.ndarray, seen: np.ndarray, n_steps: int, maximize: bool,
                    levels: Sequence[float], context: np.ndarray | None) -> np.ndarray:
        if context is None or not self.calibrate:
            return raw(values, seen, n_steps, maximize, levels, context=context)
        from policy_store.meta.forecast.calibration import rescale, width_factors

        lv = np.asarray(levels, dtype=np.float64)
        if lv.ndim != 1 or not np.all((lv > 0) & (lv < 1)):
            return raw(values, seen, n_steps, maximize, levels, context=context)  # raises the typed error
        grid = raw(values, seen, n_steps, maximize, tuple(GRID_LEVELS), context=context)  # (checks the batch)
        ref = np.ascontiguousarray(context, dtype=np.float64)
        # a pruner asks about many trials of one study state: the factors depend only on it and on k. The key
        # holds a 16-byte digest of the context, not its bytes: a study passes a new context at each completion
        # (the adaptation at each re-scoring), and the cache must stay small however long the curves are
        cache = self._factors
        if len(cache) > 4096:
            cache.clear()
        state = (raw.__name__, ref.shape, hashlib.blake2b(ref, digest_size=16).digest(), int(n_steps),
                 bool(maximize))
        factors = []
        for k in np.asarray(seen, dtype=np.int64).reshape(-1).tolist():
            key = (*state, k)
            f = cache.get(key, _UNSET)  # one read: another thread may clear the cache in between
            if f is _UNSET:
                f = cache[key] = width_factors(raw, ref, k, int(n_steps), bool(maximize))
            factors.append(f)
        if all(f is None for f in factors):
            return np.clip(interpolate_levels(grid, lv), -LARGEST, LARGEST)
        factor = np.vstack([np.ones(3) if f is None else f for f in factors])
        plan = _level_plan(tuple(levels), True)  # the grid is in the curve's units: no direction flip
        if raw == self._raw and _fused_loop() is not None and plan is not None:
            from policy_store.meta.forecast.fused import calibrated_loop

            out = np.empty((len(grid), len(plan[0])))
            calibrated_loop(grid, factor, plan[0], plan[1], LARGEST, out)
            return out
        return np.clip(interpolate_levels(rescale(grid, factor), lv), -LARGEST, LARGEST)

    def _reference_raw(self, values: np.ndarray, seen: np.ndarray, n_steps: int, maximize: bool,
                       levels: Sequence[float], *, context: np.ndarray | None = None) -> np.ndarray:
        return Forecaster.quantiles(self, values, seen, n_steps, maximize, levels, context=context)

    def _raw(self, values: np.ndarray, seen: np.ndarray, n_steps: int, maximize: bool,
             levels: Sequence[float] = (0.1, 0.5, 0.9), *, context: np.ndarray | None = None) -> np.ndarray:
        loop = _fused_loop()
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[None, :]
        seen = np.asarray(seen, dtype=np.int64).reshape(-1)
        plan = _level_plan(tuple(levels), bool(maximize)) if loop is not None else None
        if plan is None or values.ndim != 2 or len(seen) != len(values) or int(n_steps) < 1:
            return self._reference_raw(values, seen, n_steps, maximize, levels, context=context)
        ref = _NO_CONTEXT if context is None else np.asarray(context, dtype=np.float64)
        if ref.ndim != 2:
            return self._reference_raw(values, seen, n_steps, maximize, levels, context=context)
        t = self.trees
        out = np.empty((len(values), len(plan[0])))
        bad = loop(np.ascontiguousarray(values), np.ascontiguousarray(seen), int(n_steps), bool(maximize),
                   context is not None, np.ascontiguousarray(ref), plan[0], plan[1], t.roots, t.left,
                   t.right, t.feature, t.threshold, t.missing_left, t.value, t.bounds, t.baseline, RELATIVE_FLOOR,
                   ABSOLUTE_FLOOR, LARGEST, LOOKBACK, TARGET_LIMIT, len(PREFIX_FEATURES), len(FEATURES), out)
        if bad != -1:  # the numpy path raises the typed error naming the row
            return self._reference_raw(values, seen, n_steps, maximize, levels, context=context)
        return out


@functools.lru_cache(maxsize=64)
def _level_plan(levels: tuple[float, ...], maximize: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Grid index and weight per requested level (as :func:`~policy_store.meta.forecast._base.interpolate_levels`
    reads them, in "better" units), or None for levels the numpy path must refuse."""
    try:
        lv = np.asarray(levels, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if lv.ndim != 1 or not np.all((lv > 0) & (lv < 1)):
        return None
    lv = lv if maximize else 1.0 - lv
    idx = np.clip(np.searchsorted(GRID_LEVELS, lv) - 1, 0, len(GRID_LEVELS) - 2)
    lo, hi = GRID_LEVELS[idx], GRID_LEVELS[idx + 1]
    return idx.astype(np.int64), np.clip((lv - lo) / (hi - lo), 0.0, 1.0)


@functools.cache
def _fused_loop() -> Any:
    """The compiled whole-call loop, or None where numba is off (``POLICY_STORE_REPLAY_JIT=0``)."""
    from policy_store.replay.kernels import _jit

    if not _jit.enabled():
        return None
    from policy_store.meta.forecast.fused import quantiles_loop

    return quantiles_loop
