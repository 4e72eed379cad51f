"""The learned forecaster: gradient-boosted quantiles of the final from the prefix's shape.

:class:`QuantileForecaster` predicts the normalised offset of the final from the
last seen value (:mod:`policy_store.meta.forecast.features`) at every level of
:data:`~policy_store.meta.forecast._base.GRID_LEVELS` with packed quantile trees
(:class:`~policy_store.meta.forecast.packed.PackedQuantileTrees`), sorts them (no
crossing) and maps them back to the curve's units. A trial that has reached the
budget gets its last value. :func:`policy_store.meta.forecast.load_forecaster`
gives the one trained on every corpus and shipped with the package.

>>> import numpy as np
>>> from policy_store.meta.forecast import load_forecaster
>>> fc = load_forecaster()
>>> q = fc.quantiles(np.array([[0.5, 0.6, 0.65]]), np.array([3]), 30, maximize=True)
>>> type(fc).__name__, bool(np.all(np.diff(q) >= 0)), bool(np.isfinite(q).all())
('QuantileForecaster', True, True)
"""

from __future__ import annotations

import numpy as np
from policy_store.meta.forecast._base import Forecaster
from policy_store.meta.forecast.features import prefix_features
from policy_store.meta.forecast.packed import PackedQuantileTrees


class QuantileForecaster(Forecaster):
    """Quantiles of the final from packed gradient-boosted quantile trees (one model per grid level)."""

    name = "learned"

    def __init__(self, trees: PackedQuantileTrees) -> None:
        self.trees = trees

    def normalised_grid(self, values: np.ndarray, seen: np.ndarray, last: np.ndarray, scale: np.ndarray,
                        n_steps: int, maximize: bool) -> np.ndarray:
        grid = self.trees.predict(prefix_features(values, seen, n_steps, maximize))
        return np.where((seen >= n_steps)[:, None], 0.0, np.sort(grid, axis=1))
