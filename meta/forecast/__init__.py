"""Learning-curve forecasting: the distribution of a trial's final value from its partial curve.

:func:`load_forecaster` gives the forecaster the package ships (cached per
process; never downloads). Every forecaster follows
:class:`~policy_store.meta.forecast._base.Forecaster`: ``quantiles(values, seen,
n_steps, maximize, levels)`` on a batch of NaN-padded prefixes of one study.

>>> import numpy as np
>>> fc = load_forecaster()
>>> q = fc.quantiles(np.array([[0.5, 0.6, 0.65]]), np.array([3]), 20, maximize=True)
>>> q.shape, bool(np.all(np.diff(q, axis=1) >= 0))
((1, 3), True)
"""

from __future__ import annotations

from functools import lru_cache

from policy_store.meta.forecast._base import GRID_LEVELS, Forecaster
from policy_store.meta.forecast.last_value import LastValueForecaster

__all__ = ["GRID_LEVELS", "Forecaster", "LastValueForecaster", "load_forecaster"]


@lru_cache(maxsize=1)
def load_forecaster() -> Forecaster:
    """The shipped forecaster (for now the last-value baseline; the learned model replaces it)."""
    return LastValueForecaster()
