"""Within-study calibration: widen or narrow the forecast's intervals by how they fared on the study's own curves.

A model trained on other sources can be too wide or too narrow on a new one (held out by source: too wide
on the HPO corpus, too narrow on LCDB), and the study's completed curves show by how much. For a prefix of
``k`` steps, :func:`width_factors` forecasts each completed context curve cut at ``k`` (leave-one-out: the
other context curves as its context) at :data:`~policy_store.meta.forecast._base.GRID_LEVELS`, and measures,
for each central interval of the grid (50 %, 80 % and 90 %: levels 0.25-0.75, 0.1-0.9, 0.05-0.95), the
standardised miss ``e = |final - median| / half-width``; for a calibrated forecaster ``e <= 1`` with the
interval's coverage. Each interval's factor is the split-conformal quantile of its ``m`` misses (at most
:data:`MAX_CURVES` curves, the latest) at its coverage ``c``, with the finite-sample correction: their order
statistic of rank ``c * (m + 1)`` (1-based, interpolated between neighbours, at most ``m``). A new curve's
miss, exchangeable with the backtested ones, falls inside the rescaled interval with a probability between
those of the neighbouring ranks, ``j / (m + 1)`` for rank ``j`` (about ``c``; ``m / (m + 1)`` when
``c * (m + 1) > m``: then the largest miss). Each interval gets its own factor, so heavy tails widen the
outer quantiles without blurring the inner ones. No prior, nothing tuned on any source; clipped to
``[1/4, 4]``. With fewer than :data:`MIN_CURVES` completed curves there is none (the model's intervals stand):
the 80 % interval's rank needs ``0.8 * (m + 1) <= m``; and in replays of the forecast rule, rescaling by the
largest of two or three misses (early in a study) made it kill the best trial more often.
:func:`rescale` stretches each grid quantile around the median by its interval's factor.

>>> import numpy as np
>>> grid = np.array([[0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7]])
>>> np.round(rescale(grid, np.array([[1.0, 2.0, 4.0]])), 6).tolist()  # factors of the 50, 80, 90 % intervals
[[-0.3, 0.3, 0.45, 0.5, 0.55, 0.7, 1.3]]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: The grid's central intervals (their coverages, and the grid indices of their ends), and the most curves
#: backtested.
COVERAGES = (0.5, 0.8, 0.9)
ENDS = ((2, 4), (1, 5), (0, 6))
MEDIAN = 3
MIN_CURVES, MAX_CURVES = 4, 8
#: The factor's range.
LOWEST, HIGHEST = 0.25, 4.0


def width_factors(raw: Callable[..., np.ndarray], ref: np.ndarray, k: int, n_steps: int,
                  maximize: bool) -> np.ndarray | None:
    """The factors of the 50, 80 and 90 % intervals at prefix length ``k`` from the complete rows of ``ref``
    (see the module), or None when fewer than :data:`MIN_CURVES` rows are complete (or ``k`` is the budget).

    ``raw(values, seen, n_steps, maximize, levels, context=...)`` is the uncalibrated forecaster.
    """
    from policy_store.meta.forecast._base import GRID_LEVELS

    complete = np.flatnonzero(reaches_budget(ref, n_steps))[-MAX_CURVES:]
    m = len(complete)
    if m < MIN_CURVES or k >= n_steps:
        return None
    q = np.vstack([raw(ref[r:r + 1, :k], np.array([k]), n_steps, maximize, tuple(GRID_LEVELS),
                       context=np.delete(ref, r, axis=0)) for r in complete])
    miss = np.abs(ref[complete, n_steps - 1] - q[:, MEDIAN])
    factors = np.empty(len(COVERAGES))
    for i, (c, (lo, hi)) in enumerate(zip(COVERAGES, ENDS, strict=True)):
        half = (q[:, hi] - q[:, lo]) / 2.0
        with np.errstate(divide="ignore", invalid="ignore"):
            e = np.where(half > 0, miss / half, np.where(miss == 0, 0.0, np.inf))
        factors[i] = conformal_quantile(e, c)
    return np.clip(factors, LOWEST, HIGHEST)


def reaches_budget(ref: np.ndarray, n_steps: int) -> np.ndarray:
    """Which rows of ``ref`` (curves, NaN-padded) run finite from their first column to ``n_steps`` reports:
    the curves :func:`width_factors` backtests; with fewer than :data:`MIN_CURVES` of them there is no
    calibration (the ``forecast`` rule's gate counts them).

    >>> nan = np.nan
    >>> reaches_budget(np.array([[0.1, 0.2, 0.3], [0.1, nan, 0.3], [0.1, 0.2, nan]]), 3).tolist()
    [True, False, False]
    """
    return np.isfinite(ref).cumprod(axis=-1).sum(axis=-1) >= n_steps


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The order statistic of rank ``level * (m + 1)`` of ``m`` scores (1-based, linearly interpolated, at most
    the largest): a new exchangeable score is at most it with probability between ``floor(rank) / (m + 1)`` and
    ``ceil(rank) / (m + 1)``, whatever the scores' distribution.

    >>> round(conformal_quantile(np.array([0.5, 1.0, 2.0, 3.0, 4.0]), 0.8), 6)  # rank 4.8: 3 + 0.8 * (4 - 3)
    3.8
    """
    s = np.sort(scores)
    rank = min(level * (len(s) + 1), len(s))
    below = int(np.floor(rank))
    w = rank - below
    if below >= len(s) or w == 0.0:
        return float(s[below - 1])
    # an infinite miss (a zero-width backtest that missed) makes the rank's value infinite, never NaN
    return float(s[below - 1] + w * (s[below] - s[below - 1])) if np.isfinite(s[below - 1]) else float("inf")


def rescale(grid: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Quantiles at :data:`~policy_store.meta.forecast._base.GRID_LEVELS` (one row per trial, in the curve's
    units) stretched around their median by their interval's factor (``factors``: one row of the 50, 80 and
    90 % intervals' per trial), kept monotone outward from the median (an outer quantile never comes inside an
    inner one, so no interval is narrower than its own factor makes it) and finite."""
    from policy_store.meta.forecast._base import LARGEST

    per_level = factors[:, [2, 1, 0, 0, 0, 1, 2]]
    median = grid[:, MEDIAN:MEDIAN + 1]
    # |grid| <= LARGEST = 1e300 and factor <= HIGHEST: no overflow
    out = median + (grid - median) * per_level
    out[:, MEDIAN:] = np.maximum.accumulate(out[:, MEDIAN:], axis=1)
    out[:, :MEDIAN + 1] = np.minimum.accumulate(out[:, MEDIAN::-1], axis=1)[:, ::-1]
    return np.maximum(np.minimum(out, LARGEST, out=out), -LARGEST, out=out)
