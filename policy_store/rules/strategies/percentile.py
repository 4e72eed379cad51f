"""``percentile``: Optuna's ``PercentilePruner``, decision for decision.

Semantics (Optuna 5.x), evaluated at every report of a trial, in this order:

1. ``C`` = trials in state COMPLETE when the call is made (running, pruned and
   failed trials are excluded; a trial whose final value is NaN finishes FAIL).
   Do not prune if ``|C| == 0`` or ``|C| < n_startup_trials``.
2. Do not prune before ``n_warmup_steps`` or when the interval gate fails: with
   ``L = (step - w) // k * k + w`` the check runs only if the trial's largest
   other reported step is below ``L``.
3. ``best`` = nanmin (minimize) / nanmax (maximize) of all of the trial's values
   so far; all NaN -> prune.
4. ``ref`` = values at exactly this step of the trials in ``C`` that reported it;
   fewer than ``n_min_trials`` (NaNs count) -> do not prune.
5. ``p = np.nanpercentile(ref, q)`` (linear), ``q = percentile`` (minimize) or
   ``100 - percentile`` (maximize); NaN -> do not prune.
6. Prune iff ``best > p`` (minimize) / ``best < p`` (maximize): ties never prune.

Examples
--------
>>> from policy_store.rules import RuleSpec
>>> RuleSpec.parse({"strategy": "percentile", "params": {"percentile": 25}}).params["percentile"]
25.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from policy_store.rules.strategies._base import GATE_PARAMS, Param, Strategy, import_optuna


def decide(best: Any, threshold: Any, n_ref: Any, n_min_trials: Any, maximize: bool) -> Any:
    """Steps 3-6 at a checked report: prune iff ``best`` is NaN, or enough references and ``best`` is worse.

    ``best`` is the trial's best value so far, ``threshold`` the percentile of the
    ``n_ref`` reference values (NaN: never worse). The one decision function of
    ``median``/``percentile``: the live decider calls it on scalars, the numpy
    replay kernel elementwise, the compiled replay loop through numba.

    >>> bool(decide(2.5, 2.0, 3, 1, False)), bool(decide(2.0, 2.0, 3, 1, False)), bool(decide(2.5, 2.0, 3, 4, False))
    (True, False, False)
    """
    worse = (best < threshold) if maximize else (best > threshold)
    return np.isnan(best) | ((n_ref >= n_min_trials) & worse)


def lerp(lo: float, hi: float, gamma: float) -> float:
    """numpy's percentile interpolation between neighbours ``lo <= hi`` (the two branches of its ``_lerp``).

    >>> lerp(1.0, 2.0, 0.25), lerp(1.0, 2.0, 0.75)
    (1.25, 1.75)
    """
    diff = hi - lo
    return hi - diff * (1 - gamma) if gamma >= 0.5 else lo + diff * gamma


def nanpercentile_linear(values: list[float], q: float) -> float:
    """``np.nanpercentile(values, q)`` (linear), bit for bit, at a fraction of its cost on short lists.

    Mirrors numpy's arithmetic: virtual index ``(n - 1) * q / 100`` and :func:`lerp`.

    >>> nanpercentile_linear([3.0, float("nan"), 1.0, 2.0], 25) == float(np.nanpercentile([3, np.nan, 1, 2], 25))
    True
    """
    vals = sorted(v for v in values if v == v)
    n = len(vals)
    if n == 0:
        return math.nan
    virt = (n - 1) * (q / 100)
    if virt >= n - 1:
        return vals[-1]
    lo = math.floor(virt)
    return lerp(vals[lo], vals[lo + 1], virt - lo)


class Percentile(Strategy):
    """Keep the top ``percentile`` of trials at each step (see the module docstring)."""

    name = "percentile"
    kernel = "percentile"
    params = (
        Param("percentile", "float", low=0.0, high=100.0),
        Param("n_startup_trials", "int", 5, low=0),
        *GATE_PARAMS,
        Param("n_min_trials", "int", 1, low=1),
    )

    def to_optuna(self, params: dict[str, Any]) -> Any:
        optuna = import_optuna()
        return optuna.pruners.PercentilePruner(
            params["percentile"],
            n_startup_trials=params["n_startup_trials"],
            n_warmup_steps=params["n_warmup_steps"],
            interval_steps=params["interval_steps"],
            n_min_trials=params["n_min_trials"],
        )

    def to_ray_tune(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "scheduler": "MedianStoppingRule",
            "kwargs": {
                "time_attr": "training_iteration",
                "grace_period": float(params["n_warmup_steps"]),
                "min_samples_required": max(params["n_startup_trials"], params["n_min_trials"]),
                "hard_stop": True,
            },
            "differences": [
                "Ray Tune has no percentile rule; MedianStoppingRule always uses the median (50).",
                "Ray compares the trial's best result with the median of other trials' running means "
                "up to the same time, and includes still-running trials; Optuna uses only COMPLETE "
                "trials' values at exactly this step.",
                "interval_steps has no counterpart (Ray checks at every result).",
            ],
        }


class Median(Percentile):
    """``median``: Optuna's ``MedianPruner`` = ``percentile`` with ``percentile=50``.

    Examples
    --------
    >>> Median().validate({})["n_startup_trials"]
    5
    """

    name = "median"
    params = (
        Param("n_startup_trials", "int", 5, low=0),
        *GATE_PARAMS,
        Param("n_min_trials", "int", 1, low=1),
    )

    def to_optuna(self, params: dict[str, Any]) -> Any:
        optuna = import_optuna()
        return optuna.pruners.MedianPruner(
            n_startup_trials=params["n_startup_trials"],
            n_warmup_steps=params["n_warmup_steps"],
            interval_steps=params["interval_steps"],
            n_min_trials=params["n_min_trials"],
        )

    def to_ray_tune(self, params: dict[str, Any]) -> dict[str, Any]:
        out = super().to_ray_tune({**params, "percentile": 50.0})
        out["differences"] = out["differences"][1:]
        return out
