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
#: The per-curve extrapolation (see :func:`prefix_features`): its gain to the budget's end in two closed-form
#: families fitted to the prefix's last half, and the first family's residual.
TREND_FEATURES = ["trend_pow", "trend_log", "trend_resid"]
PREFIX_FEATURES = (["fraction", "log_seen", "log_left", "maximize", "z_first", "z_best", "noise", "log_rel_scale",
                   "headroom"] + [f"z_back{j}" for j in range(1, LOOKBACK + 1)] + TREND_FEATURES)
#: Fewest points the extrapolation is fitted to (the prefix's last half, at least these).
TREND_POINTS = 3
#: What the study's other trials say (NaN without them; see :func:`context_features`).
CONTEXT_FEATURES = ["ctx_n", "ctx_rank", "ctx_log_spread", "ctx_cont_lo", "ctx_cont_med", "ctx_cont_hi",
                    "ctx_cont_mine", "ctx_gap_med", "ctx_gap_best"]
FEATURES = PREFIX_FEATURES + CONTEXT_FEATURES
#: The target is clipped to this magnitude (a nearly flat prefix makes any move look huge).
TARGET_LIMIT = 200.0


def prefix_features(values: np.ndarray, seen: np.ndarray, n_steps: int, maximize: bool,
                    context: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The features of a validated batch (see :meth:`Forecaster.quantiles`), ``(n_trials, len(FEATURES))``.

    The prefix's own (:data:`PREFIX_FEATURES`) are compiled by numba where it is on (a loop per row: a pruner's
    one-trial call costs microseconds instead of a hundred numpy calls); :func:`features_numpy` otherwise. Both
    give the same features up to the last bit of a logarithm; within one configuration a row's features never
    depend on the rest of the batch. ``context`` (``(values, lengths)`` of the study's other trials, see
    :func:`~policy_store.meta.forecast._base.check_context`) fills :data:`CONTEXT_FEATURES`; without it they are
    NaN, the model's "no context" branch.

    :data:`TREND_FEATURES` are a per-curve extrapolation in closed form (what a parametric fit per curve knows
    of the curve's own trend, at the cost of two least-squares lines): on the prefix's last
    ``max(TREND_POINTS, seen // 2)`` points, in the features' units, against ``x = step`` (1-based), the
    fitted gain from step ``seen`` to ``n_steps`` of ``z = c + b x^-1/2`` (``trend_pow``: pow3 of Domhan et
    al. with its exponent fixed at 1/2) and of ``z = c + b log x`` (``trend_log``), and the root mean square
    residual of the first (``trend_resid``: how smooth the trend is). NaN below :data:`TREND_POINTS` points.
    """
    compiled = _compiled_features()
    if compiled is None:
        out = features_numpy(values, seen, n_steps, maximize)
    else:
        out = np.empty((len(values), len(FEATURES)))
        compiled(np.ascontiguousarray(values, dtype=np.float64), np.ascontiguousarray(seen, dtype=np.int64),
                 int(n_steps), bool(maximize), RELATIVE_FLOOR, ABSOLUTE_FLOOR, LARGEST, LOOKBACK, out)
    if context is None:
        out[:, len(PREFIX_FEATURES):] = np.nan
    else:
        context_features(values, seen, n_steps, maximize, context, out[:, len(PREFIX_FEATURES):])
    return out


def context_features(values: np.ndarray, seen: np.ndarray, n_steps: int, maximize: bool,
                     context: tuple[np.ndarray, np.ndarray], out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (``(n_trials, len(CONTEXT_FEATURES))``) with what the study's other trials say of each prefix.

    For a prefix of ``k`` steps, the reference trials are the other trials that reached step ``k``; the
    completed ones (``n_steps`` steps) also show how curves of this study continued from step ``k``:

    * ``ctx_n``: how many completed references there are;
    * ``ctx_rank``: the share of references whose value at step ``k`` the prefix's last value beats (ties half);
    * ``ctx_log_spread``: log10 of the references' standard deviation at step ``k`` over the prefix's scale;
    * ``ctx_cont_lo/med/hi``: the 10/50/90 % quantiles of the completed references' continuation from step
      ``k`` (``sign * (final - value at k)``) in units of each one's own prefix scale (the model's target);
    * ``ctx_cont_mine``: their median continuation in units of this prefix's scale;
    * ``ctx_gap_med`` / ``ctx_gap_best``: where they ended (median / best final) relative to this prefix's
      last value, in its scale.

    A feature with no reference behind it is NaN. Compiled by numba where it is on, the same loop in Python
    otherwise (identical results).
    """
    ref, ref_len = context
    loop = _compiled_context() or _context_loop
    loop(np.ascontiguousarray(values, dtype=np.float64), np.ascontiguousarray(seen, dtype=np.int64), int(n_steps),
         bool(maximize), np.ascontiguousarray(ref, dtype=np.float64), np.ascontiguousarray(ref_len, dtype=np.int64),
         RELATIVE_FLOOR, ABSOLUTE_FLOOR, LARGEST, TARGET_LIMIT, out)
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
    out = np.full((n, len(FEATURES)), np.nan)
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
    out[:, 9 + LOOKBACK:12 + LOOKBACK] = _trend_numpy(z, seen, n_steps)
    return np.clip(np.nan_to_num(out, nan=np.nan, posinf=1e6, neginf=-1e6), -1e6, 1e6)


def _trend_numpy(z: np.ndarray, seen: np.ndarray, n_steps: int) -> np.ndarray:
    """:data:`TREND_FEATURES` of each row of ``z`` (the prefix in feature units, NaN after ``seen``)."""
    n, width = z.shape
    h = np.maximum(TREND_POINTS, seen // 2)
    step = np.arange(width)[None, :]
    window = (step < seen[:, None]) & (step >= (seen - h)[:, None]) & (seen >= TREND_POINTS)[:, None]
    x = np.broadcast_to(step + 1.0, z.shape)
    out = np.full((n, 3), np.nan)
    zz = np.where(window, z, 0.0)
    count = np.maximum(window.sum(axis=1), 1)
    for c, (t, ends) in enumerate(((x ** -0.5, (seen ** -0.5, n_steps ** -0.5)),
                                   (np.log(x), (np.log(seen), np.log(max(n_steps, 1)))))):
        tt = np.where(window, t, 0.0)
        t_mean = tt.sum(axis=1) / count
        z_mean = zz.sum(axis=1) / count
        dt = np.where(window, t - t_mean[:, None], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            b = (dt * (zz - z_mean[:, None])).sum(axis=1) / (dt * dt).sum(axis=1)
            out[:, c] = b * (ends[1] - ends[0])
            if c == 0:
                resid = np.where(window, zz - z_mean[:, None] - b[:, None] * dt, 0.0)
                out[:, 2] = np.sqrt((resid * resid).sum(axis=1) / count)
    out[seen < TREND_POINTS] = np.nan
    return out


def targets(finals: np.ndarray, values: np.ndarray, seen: np.ndarray, maximize: np.ndarray) -> np.ndarray:
    """``sign * (final - last) / scale`` per trial, clipped to :data:`TARGET_LIMIT`."""
    last, scale = last_and_scale(values, seen)
    sign = np.where(maximize, 1.0, -1.0)
    return np.clip(sign * (finals - last) / scale, -TARGET_LIMIT, TARGET_LIMIT)


def _features_loop(values, seen, n_steps, maximize, rel_floor, abs_floor, largest, lookback, out):  # pragma: no cover
    sign = 1.0 if maximize else -1.0
    min_points = 3  # TREND_POINTS (numba reads module constants at compile time; kept literal and tested equal)
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
        for c in range(3):
            row[9 + lookback + c] = np.nan
        if k >= min_points:
            h = max(min_points, k // 2)
            for c in range(2):
                t_mean, z_mean = 0.0, 0.0
                for j in range(k - h, k):
                    t_mean += (j + 1.0) ** -0.5 if c == 0 else np.log(j + 1.0)
                    z_mean += sign * (values[i, j] - last) / scale
                t_mean /= h
                z_mean /= h
                sxy, sxx = 0.0, 0.0
                for j in range(k - h, k):
                    dt = ((j + 1.0) ** -0.5 if c == 0 else np.log(j + 1.0)) - t_mean
                    sxy += dt * (sign * (values[i, j] - last) / scale - z_mean)
                    sxx += dt * dt
                b = sxy / sxx
                if c == 0:
                    row[9 + lookback] = b * (n_steps ** -0.5 - k ** -0.5)
                    sse = 0.0
                    for j in range(k - h, k):
                        r = sign * (values[i, j] - last) / scale - z_mean - b * ((j + 1.0) ** -0.5 - t_mean)
                        sse += r * r
                    row[11 + lookback] = np.sqrt(sse / h)
                else:
                    row[10 + lookback] = b * (np.log(max(n_steps, 1)) - np.log(k))
        for c in range(row.shape[0]):
            if row[c] > 1e6:
                row[c] = 1e6
            elif row[c] < -1e6:
                row[c] = -1e6


def _context_loop(values, seen, n_steps, maximize, ref, ref_len, rel_floor, abs_floor, largest, limit,
                  out):  # pragma: no cover - compiled by numba (and run as Python where numba is off)
    sign = 1.0 if maximize else -1.0
    n_ref = ref.shape[0]
    at_k = np.empty(n_ref)
    parts = np.empty((3, n_ref))  # continuation in own scale, in this prefix's scale, gap of the final
    # ctx_cont_lo/med/hi, ctx_cont_mine, ctx_gap_med, ctx_gap_best: which part, at which quantile
    part_of = np.array([0, 0, 0, 1, 2, 2])
    level_of = np.array([0.1, 0.5, 0.9, 0.5, 0.5, 1.0])
    for i in range(values.shape[0]):
        k = seen[i]
        last = values[i, k - 1]
        hi, lo = -np.inf, np.inf
        for j in range(k):
            hi, lo = max(hi, values[i, j]), min(lo, values[i, j])
        spread = 0.0 if np.isnan(hi - lo) else min(hi - lo, largest)
        scale = min(max(max(spread, rel_floor * abs(last)), abs_floor), largest)
        m_at, m_c, beats = 0, 0, 0.0
        for r in range(n_ref):
            if ref_len[r] < k:
                continue
            v = ref[r, k - 1]
            at_k[m_at] = v
            m_at += 1
            d = sign * (last - v)
            beats += 1.0 if d > 0 else (0.5 if d == 0 else 0.0)
            if ref_len[r] >= n_steps and k < n_steps:
                final = ref[r, n_steps - 1]
                hi, lo = -np.inf, np.inf
                for j in range(k):
                    hi, lo = max(hi, ref[r, j]), min(lo, ref[r, j])
                spread = 0.0 if np.isnan(hi - lo) else min(hi - lo, largest)
                own = min(max(max(spread, rel_floor * abs(v)), abs_floor), largest)
                parts[0, m_c] = min(max(sign * (final - v) / own, -limit), limit)
                parts[1, m_c] = min(max(sign * (final - v) / scale, -limit), limit)
                parts[2, m_c] = min(max(sign * (final - last) / scale, -limit), limit)
                m_c += 1
        row = out[i]
        for c in range(row.shape[0]):
            row[c] = np.nan
        row[0] = m_c
        if m_at > 0:
            row[1] = beats / m_at
        if m_at > 1:
            mean = 0.0
            for j in range(m_at):
                mean += at_k[j]
            mean /= m_at
            var = 0.0
            for j in range(m_at):
                var += (at_k[j] - mean) ** 2
            row[2] = min(max(np.log10(max(np.sqrt(var / m_at), 1e-300) / scale), -30.0), 30.0)
        if m_c > 0:
            for part in range(3):
                parts[part, :m_c] = np.sort(parts[part, :m_c])
            for c in range(6):
                x = level_of[c] * (m_c - 1)
                j = int(np.floor(x))
                a = parts[part_of[c]]
                row[3 + c] = a[m_c - 1] if j >= m_c - 1 else a[j] + (x - j) * (a[j + 1] - a[j])


@functools.cache
def _compiled_context():
    """The context loop compiled by numba (on-disk cache), or None where numba is off."""
    from policy_store.replay.kernels import _jit

    return _jit.njit(_context_loop) if _jit.enabled() else None


@functools.cache
def _compiled_features():
    """The feature loop compiled by numba (on-disk cache), or None where numba is off."""
    from policy_store.replay.kernels import _jit

    return _jit.njit(_features_loop) if _jit.enabled() else None
