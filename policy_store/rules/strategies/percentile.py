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

from typing import Any

from policy_store.rules.strategies._base import GATE_PARAMS, Param, Strategy, import_optuna


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
