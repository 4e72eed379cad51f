"""The learned forecaster's whole call compiled as one loop: checks, features, trees, quantiles.

A pruner asks for one trial's forecast at every report, where numpy's per-call
overhead on tiny arrays (a few dozen calls of microseconds each) is most of the
cost. :func:`quantiles_loop` does in one compiled call what
:meth:`Forecaster.quantiles <policy_store.meta.forecast._base.Forecaster.quantiles>`
does in numpy for :class:`~policy_store.meta.forecast.learned.QuantileForecaster`:
check the batch (returning the first offending row instead of raising: the
caller then lets the numpy path raise its typed error), compute the prefix's
features (its per-curve extrapolation included) and the context's with the same loops
(:mod:`policy_store.meta.forecast.features`), walk the trees
(:mod:`policy_store.meta.forecast.packed`), sort each row's grid (no crossing)
and interpolate the requested levels. It is imported (and numba with it) only
where numba is on; the numpy path stays the reference.

numba's disk cache checks this file only: after editing a loop it compiles from another module in a source
checkout, delete this package's ``__pycache__/*.nbi``.

>>> import numpy as np
>>> from policy_store.meta.forecast import load_forecaster
>>> fc = load_forecaster()
>>> v = np.array([[0.5, 0.6, 0.65]])
>>> bool(np.allclose(fc.quantiles(v, np.array([3]), 20, True), fc.reference_quantiles(v, np.array([3]), 20, True)))
True
"""

from __future__ import annotations

import numpy as np
from policy_store.meta.forecast import features, packed

from policy_store.replay.kernels._jit import njit

_features = njit(features._features_loop)
_context = njit(features._context_loop)
_walk = njit(packed._walk)


@njit
def quantiles_loop(values, seen, n_steps, maximize, has_context, ref, level_index, level_weight,
                   roots, left, right, feature, threshold, missing_left, value, bounds, baseline,
                   rel_floor, abs_floor, largest, lookback, limit, n_prefix_features, n_features, out):
    """Fill ``out`` (``(n, len(level_index))``) with the quantiles; return -1, or ``2 * row`` for a bad ``seen``
    and ``2 * row + 1`` for a non-finite observed value (the first such row, seen checked first), or
    ``-2 - r`` for a context curve ``r`` with a non-finite value before a finite one."""
    n, width = values.shape
    ref_len = np.zeros(ref.shape[0], dtype=np.int64)
    for r in range(ref.shape[0]):
        length = 0
        while length < ref.shape[1] and np.isfinite(ref[r, length]):
            length += 1
        for j in range(length, ref.shape[1]):
            if not np.isnan(ref[r, j]):
                return -2 - r
        ref_len[r] = length
    for i in range(n):
        if seen[i] < 1 or seen[i] > width:
            return 2 * i
    for i in range(n):
        for j in range(seen[i]):
            if not np.isfinite(values[i, j]):
                return 2 * i + 1
    X = np.empty((n, n_features))
    _features(values, seen, n_steps, maximize, rel_floor, abs_floor, largest, lookback, X)
    if has_context:
        _context(values, seen, n_steps, maximize, ref, ref_len, rel_floor, abs_floor, largest, limit,
                 X[:, n_prefix_features:])
    else:
        X[:, n_prefix_features:] = np.nan
    grid = np.empty((n, len(baseline)))
    _walk(X, roots, left, right, feature, threshold, missing_left, value, bounds, baseline, grid)
    sign = 1.0 if maximize else -1.0
    for i in range(n):
        k = seen[i]
        row = grid[i]
        if k >= n_steps:
            row[:] = 0.0
        else:
            for c in range(len(row)):
                if np.isnan(row[c]):
                    row[c] = 0.0
                elif row[c] > largest:
                    row[c] = largest
                elif row[c] < -largest:
                    row[c] = -largest
            row.sort()
        last = values[i, k - 1]
        hi, lo = -np.inf, np.inf
        for j in range(k):
            hi, lo = max(hi, values[i, j]), min(lo, values[i, j])
        spread = hi - lo
        if np.isnan(spread):
            spread = 0.0
        elif spread > largest:
            spread = largest
        scale = min(max(max(spread, rel_floor * abs(last)), abs_floor), largest)
        for c in range(len(level_index)):
            a = level_index[c]
            w = level_weight[c]
            offset = row[a] * (1 - w) + row[a + 1] * w
            q = last + sign * scale * offset
            out[i, c] = min(max(q, -largest), largest)
    return -1


@njit
def calibrated_loop(grid, factors, level_index, level_weight, largest, out):
    """Fill ``out`` with the requested levels of each row of ``grid`` (quantiles at the grid's levels, in the
    curve's units) after :func:`~policy_store.meta.forecast.calibration.rescale` by the row's ``factors``
    (the 50, 80 and 90 % intervals'), as the numpy path does it (same operations, same order)."""
    n, width = grid.shape
    mid = width // 2
    row = np.empty(width)
    for i in range(n):
        median = grid[i, mid]
        for j in range(width):
            f = factors[i, abs(j - mid) - 1] if j != mid else 1.0
            row[j] = median + (grid[i, j] - median) * f
        for j in range(mid + 1, width):
            row[j] = max(row[j], row[j - 1])
        for j in range(mid - 1, -1, -1):
            row[j] = min(row[j], row[j + 1])
        for j in range(width):
            row[j] = max(min(row[j], largest), -largest)
        for c in range(len(level_index)):
            a = level_index[c]
            w = level_weight[c]
            out[i, c] = min(max(row[a] * (1 - w) + row[a + 1] * w, -largest), largest)
