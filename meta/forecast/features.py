"""What the learned forecaster sees of a partial curve: shape, progress and headroom, in the curve's own units.

Every feature is direction-aware (``better`` values are larger: a minimised
metric is negated) and divided by the prefix's scale
(:func:`policy_store.meta.forecast._base.last_and_scale`), so a log-loss curve
and an accuracy curve of the same shape look alike. The study's budget enters
only as the prefix fraction and the steps left. :func:`targets` is what the
model learns: the final's offset from the last value in the same units.

>>> import numpy as np
>>> X = prefix_features(np.array([[0.5, 0.7, 0.8, np.nan]]), np.array([3]), 10, True)
>>> X.shape == (1, len(FEATURES)), round(float(X[0, FEATURES.index("z_back1")]), 3)
(True, -0.333)
"""

from __future__ import annotations

import functools

import numpy as np
from policy_store.meta.forecast._base import ABSOLUTE_FLOOR, LARGEST, RELATIVE_FLOOR, last_and_scale

#: How many past points the shape features look back.
LOOKBACK = 4
FEATURES = (["fraction", "log_seen", "log_left", "maximize", "z_first", "z_best", "noise", "log_rel_scale",
             "headroom"] + [f"z_back{j}" for j in range(1, LOOKBACK + 1)])
#: The target is clipped to this magnitude (a nearly flat prefix makes any move look huge).
TARGET_LIMIT = 200.0


def prefix_features(values: np.ndarray, seen: np.ndarray, n_steps: int, maximize: bool) -> np.ndarray:
    """The features of a validated batch (see :meth:`Forecaster.quantiles`), ``(n_trials, len(FEATURES))``.

    Compiled by numba where it is on (a loop per row: a pruner's one-trial call costs microseconds instead
    of a hundred numpy calls); :func:`features_numpy` otherwise. Both give the same features up to the last
    bit of a logarithm; within one configuration a row's features never depend on the rest of the batch.
    """
    compiled = _compiled_features()
    if compiled is None:
        return features_numpy(values, seen, n_steps, maximize)
    out = np.empty((len(values), len(FEATURES)))
    compiled(np.ascontiguousarray(values, dtype=np.float64), np.ascontiguousarray(seen, dtype=np.int64),
             int(n_steps), bool(maximize), RELATIVE_FLOOR, ABSOLUTE_FLOOR, LARGEST, LOOKBACK, out)
    return out


def features_numpy(values: np.ndarray, seen: np.ndarray, n_steps: int, maximize: bool) -> np.ndarray:
    """:func:`prefix_features` in numpy (the reference, and the path without numba)."""
    n, width = values.shape
    sign = 1.0 if maximize else -1.0
    last, scale = last_and_scale(values, seen)
    rows = np.arange(n)
    observed = np.arange(width)[None, :] < seen[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        z = sign * (values - last[:, None]) / scale[:, None]
    z = np.where(observed, z, np.nan)
    out = np.empty((n, len(FEATURES)))
    out[:, 0] = seen / float(n_steps)
    out[:, 1] = np.log(seen)
    out[:, 2] = np.log1p(np.maximum(n_steps - seen, 0))
    out[:, 3] = float(maximize)
    out[:, 4] = z[:, 0]
    out[:, 5] = np.nanmax(np.where(observed, z, -np.inf), axis=1)
    # A running sum read at the prefix's end: unlike a pairwise sum, its bits do not depend on the padding's
    # width, so a row forecast alone (live) and in a padded batch (replay) agree exactly.
    second = np.nan_to_num(np.abs(np.diff(z, n=2, axis=1)), nan=0.0)
    count = np.maximum(seen - 2, 0)
    total = np.cumsum(second, axis=1)[rows, np.maximum(count - 1, 0)] if second.shape[1] else np.zeros(n)
    out[:, 6] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, 7] = np.log10(scale / np.maximum(np.abs(last), 1e-300))
    unit = np.where(observed, (values >= 0) & (values <= 1), True).all(axis=1)
    nonneg = np.where(observed, values >= 0, True).all(axis=1)
    # Distance to the metric's natural bound: 1 for a maximised score in [0, 1], 0 for a non-negative loss.
    out[:, 8] = np.where(unit, (1.0 - last) / scale, np.nan) if maximize else np.where(nonneg, last / scale, np.nan)
    for j in range(1, LOOKBACK + 1):
        idx = seen - 1 - j
        out[:, 8 + j] = np.where(idx >= 0, z[rows, np.maximum(idx, 0)], np.nan)
    return np.clip(np.nan_to_num(out, nan=np.nan, posinf=1e6, neginf=-1e6), -1e6, 1e6)


def targets(finals: np.ndarray, values: np.ndarray, seen: np.ndarray, maximize: np.ndarray) -> np.ndarray:
    """``sign * (final - last) / scale`` per trial, clipped to :data:`TARGET_LIMIT`."""
    last, scale = last_and_scale(values, seen)
    sign = np.where(maximize, 1.0, -1.0)
    return np.clip(sign * (finals - last) / scale, -TARGET_LIMIT, TARGET_LIMIT)


def _features_loop(values, seen, n_steps, maximize, rel_floor, abs_floor, largest, lookback, out):  # pragma: no cover
    sign = 1.0 if maximize else -1.0
    for i in range(values.shape[0]):
        k = seen[i]
        last = values[i, k - 1]
        hi, lo = -np.inf, np.inf
        unit, nonneg = True, True
        for j in range(k):
            v = values[i, j]
            hi, lo = max(hi, v), min(lo, v)
            unit = unit and 0.0 <= v <= 1.0
            nonneg = nonneg and v >= 0.0
        spread = hi - lo
        if np.isnan(spread):
            spread = 0.0
        elif spread > largest:
            spread = largest
        scale = min(max(max(spread, rel_floor * abs(last)), abs_floor), largest)
        best, total = -np.inf, 0.0
        for j in range(k):
            best = max(best, sign * (values[i, j] - last) / scale)
        for j in range(k - 2):
            z0 = sign * (values[i, j] - last) / scale
            z1 = sign * (values[i, j + 1] - last) / scale
            z2 = sign * (values[i, j + 2] - last) / scale
            d = abs((z2 - z1) - (z1 - z0))
            total += 0.0 if np.isnan(d) else min(d, 1.7976931348623157e308)
        row = out[i]
        row[0] = k / n_steps
        row[1] = np.log(k)
        row[2] = np.log1p(max(n_steps - k, 0))
        row[3] = 1.0 if maximize else 0.0
        row[4] = sign * (values[i, 0] - last) / scale
        row[5] = best
        row[6] = total / (k - 2) if k > 2 else np.nan
        row[7] = np.log10(scale / max(abs(last), 1e-300))
        if maximize:
            row[8] = (1.0 - last) / scale if unit else np.nan
        else:
            row[8] = last / scale if nonneg else np.nan
        for j in range(1, lookback + 1):
            row[8 + j] = sign * (values[i, k - 1 - j] - last) / scale if k - 1 - j >= 0 else np.nan
        for c in range(row.shape[0]):
            if row[c] > 1e6:
                row[c] = 1e6
            elif row[c] < -1e6:
                row[c] = -1e6


@functools.cache
def _compiled_features():
    """The feature loop compiled by numba (on-disk cache), or None where numba is off."""
    from policy_store.replay.kernels import _jit

    return _jit.njit(_features_loop) if _jit.enabled() else None
