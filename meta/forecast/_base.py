"""The forecaster's contract: partial learning curves in, quantiles of each trial's final value out.

A :class:`Forecaster` answers, for a batch of trials of one study, "where will
this curve end?" from the values seen so far. Every implementation works in the
curve's own units through :func:`curve_scale`: the target it predicts is the
final's offset from the last seen value, direction-aware (positive = better) and
divided by the prefix's own scale, so one model transfers across metrics, and a
constant or one-step curve still has a finite, positive scale.

:func:`check_batch` validates the inputs once (typed :class:`InvalidInputError`
naming the offending row); :func:`interpolate_levels` turns quantiles predicted
at a fixed grid of levels into any requested levels, monotone by construction.

>>> import numpy as np
>>> values = np.array([[1.0, 0.8, np.nan], [2.0, 2.0, 2.0]])
>>> seen = np.array([2, 3])
>>> last, scale = last_and_scale(*check_batch(values, seen, 4))
>>> last.tolist(), [round(float(s), 4) for s in scale]
([0.8, 2.0], [0.2, 0.04])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from policy_store.errors import InvalidInputError

#: The levels every model predicts at; other levels are interpolated between them.
GRID_LEVELS = np.array([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
#: Relative floor of a curve's scale: a flat or one-point prefix is measured in 2 % of its level ...
RELATIVE_FLOOR = 0.02
#: ... and the absolute floor, for a flat prefix at zero.
ABSOLUTE_FLOOR = 1e-9
#: Predictions are clipped to this magnitude so a huge-scale curve never yields inf.
LARGEST = 1e300


class Forecaster(ABC):
    """Quantiles of each trial's final value from its partial curve (batched, one study at a time)."""

    #: A short name recorded with decisions and benchmark rows.
    name: str = "forecaster"

    def quantiles(self, values: np.ndarray, seen: np.ndarray, n_steps: int, maximize: bool,
                  levels: Sequence[float] = (0.1, 0.5, 0.9), *, context: np.ndarray | None = None) -> np.ndarray:
        """Quantiles of the final value (the value at step ``n_steps``) of each trial.

        Parameters
        ----------
        values:
            float64 ``(n_trials, n_seen)`` prefix values, NaN-padded on the right.
        seen:
            int64 ``(n_trials,)`` steps observed per trial, ``1 <= seen[i] <= n_seen``.
        n_steps:
            The study's full budget in steps.
        maximize:
            The metric's direction.
        levels:
            Quantile levels in (0, 1).
        context:
            Optional float64 ``(n_other, width)``: the study's other trials' curves so far (completed ones and
            any that ran longer), NaN-padded on the right; a row that reached ``n_steps`` counts as completed.
            Forecasters that read it (the learned one) place each prefix among them and learn from how they
            continued; without it (``None``, the default) they forecast from the prefix alone.

        Returns
        -------
        numpy.ndarray
            float64 ``(n_trials, len(levels))``, non-decreasing along the levels, finite.
        """
        values, seen = check_batch(values, seen, n_steps)
        lv = np.asarray(levels, dtype=np.float64)
        if lv.ndim != 1 or not np.all((lv > 0) & (lv < 1)):
            raise InvalidInputError(f"levels must be in (0, 1), got {list(levels)}", field="levels")
        ctx = None if context is None else check_context(context)
        last, scale = last_and_scale(values, seen)
        grid = self.normalised_grid(values, seen, last, scale, n_steps, bool(maximize), context=ctx)
        # In "better" units: the p-quantile of a minimised final is last - scale * (the (1-p)-quantile of the offset).
        offsets = interpolate_levels(grid, lv if maximize else 1.0 - lv)
        sign = 1.0 if maximize else -1.0
        with np.errstate(over="ignore", invalid="ignore"):
            out = last[:, None] + sign * scale[:, None] * offsets
        return np.clip(out, -LARGEST, LARGEST)

    @abstractmethod
    def normalised_grid(self, values: np.ndarray, seen: np.ndarray, last: np.ndarray, scale: np.ndarray,
                        n_steps: int, maximize: bool,
                        context: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Quantiles at :data:`GRID_LEVELS` of ``sign * (final - last) / scale`` (positive = better),
        ``(n_trials, len(GRID_LEVELS))``, non-decreasing along the levels. ``context``: the study's other
        trials as :func:`check_context` returns them, or None."""


def check_batch(values: np.ndarray, seen: np.ndarray, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate a batch: a 2-D float array, ``1 <= seen <= n_seen``, finite observed values, ``n_steps >= 1``.

    Raises
    ------
    InvalidInputError
        Names the offending trial (row) and field.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[None, :]
    seen = np.asarray(seen, dtype=np.int64).reshape(-1)
    if values.ndim != 2 or len(seen) != len(values):
        raise InvalidInputError(f"values must be (n_trials, n_seen) with one `seen` per trial, got "
                                f"{values.shape} and {seen.shape}", field="values")
    if int(n_steps) < 1:
        raise InvalidInputError(f"n_steps must be >= 1, got {n_steps}", field="n_steps")
    bad = np.flatnonzero((seen < 1) | (seen > values.shape[1]))
    if len(bad):
        raise InvalidInputError(f"seen must be in 1..{values.shape[1]}, got {int(seen[bad[0]])}",
                                row=int(bad[0]), field="seen")
    observed = np.arange(values.shape[1])[None, :] < seen[:, None]
    bad = np.flatnonzero((observed & ~np.isfinite(values)).any(axis=1))
    if len(bad):
        raise InvalidInputError("observed values must be finite (NaN only as right padding)",
                                row=int(bad[0]), field="values")
    return values, seen


def check_context(context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate the study's other curves: a 2-D float array, each row finite up to its length, then NaN.

    Returns the values and each row's length (its count of leading finite values); a row of length 0 is
    allowed (a trial that reported nothing yet) and ignored.

    >>> check_context(np.array([[0.1, 0.2, np.nan], [0.3, 0.4, 0.5]]))[1].tolist()
    [2, 3]

    Raises
    ------
    InvalidInputError
        ``context`` is not 2-D, or a row has a non-finite value before a finite one (names the row).
    """
    ref = np.asarray(context, dtype=np.float64)
    if ref.ndim != 2:
        raise InvalidInputError(f"context must be (n_other_trials, n_steps_seen), got shape {ref.shape}",
                                field="context")
    finite = np.isfinite(ref)
    lengths = finite.cumprod(axis=1).sum(axis=1).astype(np.int64)
    bad = np.flatnonzero(finite.sum(axis=1) != lengths)
    if len(bad):
        raise InvalidInputError("context curves must be finite up to their length and NaN after it",
                                row=int(bad[0]), field="context")
    return ref, lengths


def last_and_scale(values: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each trial's last seen value and its prefix's scale.

    The scale is the prefix's range (max - min), floored at
    :data:`RELATIVE_FLOOR` of the last value's magnitude and :data:`ABSOLUTE_FLOOR`.
    """
    rows = np.arange(len(values))
    last = values[rows, seen - 1]
    observed = np.arange(values.shape[1])[None, :] < seen[:, None]
    hi = np.where(observed, values, -np.inf).max(axis=1)
    lo = np.where(observed, values, np.inf).min(axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.nan_to_num(hi - lo, nan=0.0, posinf=LARGEST)
    scale = np.maximum(np.maximum(spread, RELATIVE_FLOOR * np.abs(last)), ABSOLUTE_FLOOR)
    return last, np.minimum(scale, LARGEST)


def interpolate_levels(grid: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Quantiles at ``levels`` from quantiles at :data:`GRID_LEVELS` (sorted first, so monotone; levels
    outside the grid take the nearest end)."""
    grid = np.sort(np.nan_to_num(np.asarray(grid, dtype=np.float64), nan=0.0, posinf=LARGEST, neginf=-LARGEST),
                   axis=1)
    idx = np.clip(np.searchsorted(GRID_LEVELS, levels) - 1, 0, len(GRID_LEVELS) - 2)
    lo, hi = GRID_LEVELS[idx], GRID_LEVELS[idx + 1]
    w = np.clip((levels - lo) / (hi - lo), 0.0, 1.0)
    return grid[:, idx] * (1 - w) + grid[:, idx + 1] * w
