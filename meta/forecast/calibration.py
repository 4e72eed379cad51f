"""Within-study calibration: widen or narrow the forecast's interval by how it fared on the study's own curves.

A model trained on other sources can be too wide or too narrow on a new one (held out by source: too wide
on the HPO corpus, too narrow on LCDB), and the study's completed curves show by how much. For a prefix of
``k`` steps, :func:`width_factor` forecasts each completed context curve cut at ``k`` (leave-one-out: the
other context curves as its context), and measures its standardised miss
``e = (final - median) / ((q90 - q10) / 2)``; for a calibrated forecaster ``|e| <= 1`` four times in five.
The factor is the split-conformal quantile of the ``m`` misses (at most :data:`MAX_CURVES` curves, the latest)
with the finite-sample correction: their order statistic of rank ``LEVEL * (m + 1)`` (1-based, interpolated
between neighbours, at most ``m``): a new curve's miss, exchangeable with the backtested ones, falls inside the
rescaled interval with a probability between those of the neighbouring ranks, ``j / (m + 1)`` for rank ``j``
(about ``LEVEL``; ``m / (m + 1)`` when ``m < 4``: then the largest miss). No prior, nothing tuned on any
source; clipped to ``[1/4, 4]``; with fewer than two curves it is 1.
:func:`rescale` applies it around each forecast's median.

>>> import numpy as np
>>> q = np.array([[0.4, 0.5, 0.7]])
>>> np.round(rescale(q, np.array([0.5]), np.array([2.0])), 6).tolist()
[[0.3, 0.5, 0.9]]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: The rescaled 80 % interval's target coverage, and the most curves backtested.
LEVEL = 0.8
MAX_CURVES = 8
#: The factor's range.
LOWEST, HIGHEST = 0.25, 4.0


def width_factor(raw: Callable[..., np.ndarray], ref: np.ndarray, k: int, n_steps: int, maximize: bool) -> float:
    """The interval-width factor at prefix length ``k`` from the complete rows of ``ref`` (see the module).

    ``raw(values, seen, n_steps, maximize, levels, context=...)`` is the uncalibrated forecaster.
    """
    lengths = np.isfinite(ref).cumprod(axis=1).sum(axis=1)
    complete = np.flatnonzero(lengths >= n_steps)[-MAX_CURVES:]
    m = len(complete)
    if m < 2 or k >= n_steps:
        return 1.0
    misses = np.empty(m)
    for j, r in enumerate(complete):
        q = raw(ref[r:r + 1, :k], np.array([k]), n_steps, maximize, (0.1, 0.5, 0.9),
                context=np.delete(ref, r, axis=0))[0]
        final = ref[r, n_steps - 1]
        half = (q[2] - q[0]) / 2.0
        misses[j] = abs(final - q[1]) / half if half > 0 else (0.0 if final == q[1] else np.inf)
    return float(np.clip(conformal_quantile(misses, LEVEL), LOWEST, HIGHEST))


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


def rescale(q: np.ndarray, median: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Each row's quantiles stretched by its factor around its median (monotone for a positive factor)."""
    from policy_store.meta.forecast._base import LARGEST

    # |q|, |median| <= LARGEST = 1e300 and factor <= HIGHEST: no overflow
    out = median[:, None] + (q - median[:, None]) * factor[:, None]
    out = np.where(factor[:, None] == 1.0, q, out)
    return np.maximum(np.minimum(out, LARGEST, out=out), -LARGEST, out=out)
