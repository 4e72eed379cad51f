"""The baseline forecaster: the last seen value carried forward, with an empirical spread by prefix fraction.

:class:`LastValueForecaster` predicts the final at the last seen value and
spreads it by a table of normalised offsets (the final's offset from the last
value in units of the prefix's scale, positive = better; see
:mod:`policy_store.meta.forecast._base`) per bin of prefix fraction ``seen / n_steps``.
:meth:`LastValueForecaster.fit` measures that table on complete curves;
the shipped model carries one measured on the corpora
(:func:`policy_store.meta.forecast.load_forecaster`). Without a table it uses
:data:`DEFAULT_TABLE`, a conservative spread that shrinks to zero as the prefix
reaches the budget.

>>> import numpy as np
>>> fc = LastValueForecaster()
>>> q = fc.quantiles(np.array([[0.9, 0.7, 0.6]]), np.array([3]), 10, maximize=False)
>>> bool(q[0, 1] <= 0.6 <= q[0, 2]), bool(np.all(np.diff(q) >= 0))
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from policy_store.meta.forecast._base import GRID_LEVELS, Forecaster, last_and_scale

#: Upper edges of the prefix-fraction bins.
FRACTION_EDGES = np.array([0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
#: A spread with no data behind it: mostly a little better than the last value, with a longer good tail,
#: scaled by the share of the budget still to run.
_SHAPE = np.array([-0.6, -0.4, -0.1, 0.1, 0.3, 0.7, 1.0])
DEFAULT_TABLE = (1.0 - np.r_[0.0, FRACTION_EDGES[:-1]])[:, None] * _SHAPE[None, :]


class LastValueForecaster(Forecaster):
    """Last value carried forward; quantiles from an empirical spread per prefix-fraction bin.

    Parameters
    ----------
    table:
        ``(len(FRACTION_EDGES), len(GRID_LEVELS))`` normalised offsets; ``None`` for :data:`DEFAULT_TABLE`.
    """

    name = "last-value"

    def __init__(self, table: np.ndarray | None = None) -> None:
        self.table = np.sort(np.asarray(DEFAULT_TABLE if table is None else table, dtype=np.float64), axis=1)

    def fit(self, curves: Sequence[np.ndarray], maximize: Sequence[bool], prefixes: int = 8,
            seed: int = 0) -> LastValueForecaster:
        """Measure the table on complete curves (each a 1-D array whose last value is the final).

        ``prefixes`` random prefix lengths are drawn per curve (seeded); empty bins keep the default.
        """
        rng = np.random.default_rng(seed)
        fractions, offsets = [], []
        for curve, up in zip(curves, maximize, strict=True):
            curve = np.asarray(curve, dtype=np.float64)
            n = len(curve)
            if n < 2 or not np.isfinite(curve).all():
                continue
            for k in rng.integers(1, n, size=prefixes):
                last, scale = last_and_scale(curve[None, :k], np.array([k]))
                fractions.append(k / n)
                offsets.append((1.0 if up else -1.0) * (curve[-1] - last[0]) / scale[0])
        fractions, offsets = np.asarray(fractions), np.asarray(offsets)
        table = DEFAULT_TABLE.copy()
        bins = np.searchsorted(FRACTION_EDGES, fractions, side="left")
        for b in range(len(FRACTION_EDGES)):
            chosen = offsets[bins == b]
            if len(chosen) >= 20:
                table[b] = np.quantile(chosen, GRID_LEVELS)
        self.table = table
        return self

    def normalised_grid(self, values: np.ndarray, seen: np.ndarray, last: np.ndarray, scale: np.ndarray,
                        n_steps: int, maximize: bool,
                        context: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:  # context: unused
        fraction = np.minimum(seen / float(n_steps), 1.0)
        grid = self.table[np.minimum(np.searchsorted(FRACTION_EDGES, fraction, side="left"),
                                     len(FRACTION_EDGES) - 1)]
        # The budget reached: the final is the last value.
        return np.where((seen >= n_steps)[:, None], 0.0, grid)


__all__ = ["LastValueForecaster"]
