"""The parametric anchor: each curve fitted on its own by an ensemble of curve families (Domhan et al. 2015).

:class:`ParametricForecaster` fits three of Domhan et al.'s families to the
prefix, direction-aware (better = larger) against ``x = step + 1`` with
``scipy.optimize.curve_fit`` -- ``pow3`` (``c - a x^-alpha``), the power law
(``a x^b``) and ``log-power`` (``a / (1 + (x / e^b)^c)``) -- and extrapolates
them to the budget. The predictive is Gaussian: the mean of the families that
converged, a spread from their disagreement and the fits' residuals. Domhan et
al. sample the ensemble's posterior by MCMC; this is the maximum-likelihood
shortcut, about as much as a per-trial fit can afford in a pruner. With fewer
than three points (or no fit) it falls back to the last value with the
prefix's spread. It is a benchmark anchor: tens of milliseconds per trial.

>>> import numpy as np
>>> fc = ParametricForecaster()
>>> x = np.arange(1, 7)
>>> q = fc.quantiles((0.9 - 0.5 * x ** -0.7)[None, :], np.array([6]), 30, maximize=True)
>>> bool(0.8 < q[0, 1] < 0.9), bool(np.all(np.diff(q) >= 0))
(True, True)
"""

from __future__ import annotations

import warnings

import numpy as np
from policy_store.meta.forecast._base import GRID_LEVELS, Forecaster


def _pow3(x, c, a, alpha):
    return c - a * np.power(x, -alpha)


def _power_law(x, a, b):
    return a * np.power(x, b)


def _log_power(x, a, b, c):
    return a / (1.0 + np.power(x / np.exp(b), c))


def _fits(x: np.ndarray, y: np.ndarray) -> list[tuple[object, tuple]]:
    span = max(float(y.max() - y.min()), 1e-9)
    return [(_pow3, (y[-1] + 0.1 * span, span, 0.5)),
            (_power_law, (y[-1] if y[-1] > 0 else 1.0, 0.1)),
            (_log_power, (y[-1] + 0.1 * span if y[-1] > 0 else 1.0, 1.0, -1.0))]


class ParametricForecaster(Forecaster):
    """Per-curve maximum-likelihood fits of pow3, power law and log-power; Gaussian predictive."""

    name = "parametric"

    def __init__(self, maxfev: int = 600) -> None:
        self.maxfev = maxfev

    def _one(self, y: np.ndarray, n_steps: int, unit: bool) -> tuple[float, float]:
        """Mean and standard deviation of the final in "better" units (offset from the last value)."""
        from scipy.optimize import curve_fit

        k = len(y)
        span = max(float(y.max() - y.min()), 1e-12)
        if k < 3:
            return 0.0, span * (1.0 - k / n_steps) + 1e-12
        x = np.arange(1, k + 1, dtype=np.float64)
        preds, resid = [], []
        for f, p0 in _fits(x, y):
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                try:
                    p, _ = curve_fit(f, x, y, p0=p0, maxfev=self.maxfev)
                    fitted = f(x, *p)
                    at_end = float(f(float(n_steps), *p))
                except (RuntimeError, ValueError, OverflowError, FloatingPointError):
                    continue
            if not (np.isfinite(at_end) and np.isfinite(fitted).all()):
                continue
            # Keep the extrapolation within a plausible band around the prefix (and a bounded metric below 1).
            at_end = float(np.clip(at_end, y.min() - span, y.max() + 2 * span))
            if unit:
                at_end = min(at_end, 1.0)
            preds.append(at_end)
            with np.errstate(all="ignore"):
                resid.append(float(np.mean((fitted - y) ** 2)))
        if not preds:
            return 0.0, span * (1.0 - k / n_steps) + 1e-12
        with np.errstate(all="ignore"):
            mean = float(np.mean(preds))
            sd = float(np.sqrt(np.var(preds) + np.mean(resid))) + 1e-12
        return mean - float(y[-1]), sd

    def normalised_grid(self, values: np.ndarray, seen: np.ndarray, last: np.ndarray, scale: np.ndarray,
                        n_steps: int, maximize: bool,
                        context: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:  # context: unused
        from scipy.stats import norm

        z = norm.ppf(GRID_LEVELS)
        sign = 1.0 if maximize else -1.0
        out = np.zeros((len(values), len(GRID_LEVELS)))
        for i in range(len(values)):
            if seen[i] >= n_steps:
                continue
            y = sign * values[i, :seen[i]]
            unit = bool(maximize and np.all((values[i, :seen[i]] >= 0) & (values[i, :seen[i]] <= 1)))
            mean, sd = self._one(y, n_steps, unit)
            with np.errstate(all="ignore"):
                out[i] = (mean + sd * z) / scale[i]
        return out
