"""Within-study calibration: widen or narrow the forecast's interval by how it fared on the study's own curves.

A model trained on other sources can be too wide or too narrow on a new one (held out by source: too wide
on the HPO corpus, too narrow on LCDB), and the study's completed curves show by how much. For a prefix of
``k`` steps, :func:`width_factor` forecasts each completed context curve cut at ``k`` (leave-one-out: the
other context curves as its context), and measures its standardised miss
``e = (final - median) / ((q90 - q10) / 2)``; for a calibrated forecaster ``|e| <= 1`` four times in five.
The factor is the 80 % quantile of ``|e|``, clipped to ``[1/4, 4]`` and shrunk towards 1 in log scale with
weight ``m / (m + PRIOR_CURVES)`` for ``m`` curves (at most :data:`MAX_CURVES`, the latest); with fewer than
two it is 1. :func:`rescale` applies it around each forecast's median.

>>> import numpy as np
>>> q = np.array([[0.4, 0.5, 0.7]])
>>> np.round(rescale(q, np.array([0.5]), np.array([2.0])), 6).tolist()
[[0.3, 0.5, 0.9]]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Prior weight (in curves) of "the model is calibrated here", and the most curves backtested.
PRIOR_CURVES = 3.0
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
    factor = float(np.clip(np.quantile(misses, 0.8), LOWEST, HIGHEST))
    return float(np.exp(m / (m + PRIOR_CURVES) * np.log(factor)))


def rescale(q: np.ndarray, median: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Each row's quantiles stretched by its factor around its median (monotone for a positive factor)."""
    from policy_store.meta.forecast._base import LARGEST

    # |q|, |median| <= LARGEST = 1e300 and factor <= HIGHEST: no overflow
    out = median[:, None] + (q - median[:, None]) * factor[:, None]
    out = np.where(factor[:, None] == 1.0, q, out)
    return np.maximum(np.minimum(out, LARGEST, out=out), -LARGEST, out=out)
