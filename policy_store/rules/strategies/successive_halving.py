"""``successive_halving``: Optuna's ``SuccessiveHalvingPruner`` (asynchronous SHA).

Each trial climbs rungs ``r = 0, 1, ...``; rung ``r`` sits at
``rung_step = min_resource * reduction_factor ** (min_early_stopping_rate + r)``.
At each report (step = the trial's largest reported step, value = the value *at
that step*, not the best):

- ``min_resource="auto"``: no pruning (and nothing recorded) until a COMPLETE
  trial exists; then ``max(max(last_step of COMPLETE trials) // 100, 1)``, fixed
  from that call on.
- While ``step >= rung_step`` of the current rung: NaN value -> prune (nothing
  written); otherwise write the value as the trial's rung-``r`` value (before
  deciding), compare it with the rung-``r`` values of every other trial of the
  study in any state; ``len(competing) <= bootstrap_count`` -> prune;
  ``idx = len(competing) // reduction_factor - 1`` (at least 0); promote iff the
  value is ``<= sorted(competing)[idx]`` (minimize) or ``>= sorted(...)[-idx-1]``
  (maximize), so ties promote. A report that jumps several rungs fills each with
  the same value.

Examples
--------
>>> from policy_store.rules import RuleSpec
>>> RuleSpec.parse({"strategy": "successive_halving"}).params["min_resource"]
'auto'
"""

from __future__ import annotations

from typing import Any

from policy_store.errors import InvalidSpecError
from policy_store.rules.strategies._base import Param, Strategy, import_optuna


class SuccessiveHalving(Strategy):
    """Asynchronous successive halving (see the module docstring)."""

    name = "successive_halving"
    kernel = "successive_halving"
    params = (
        Param("min_resource", "int_or_auto", "auto", low=1),
        Param("reduction_factor", "int", 4, low=2),
        Param("min_early_stopping_rate", "int", 0, low=0),
        Param("bootstrap_count", "int", 0, low=0),
    )

    def check_combination(self, params: dict[str, Any], prefix: str) -> None:
        if params["bootstrap_count"] > 0 and params["min_resource"] == "auto":
            raise InvalidSpecError("bootstrap_count > 0 needs an integer min_resource (not 'auto')",
                                   field=f"{prefix}.bootstrap_count")

    def to_optuna(self, params: dict[str, Any]) -> Any:
        optuna = import_optuna()
        return optuna.pruners.SuccessiveHalvingPruner(**params)

    def to_ray_tune(self, params: dict[str, Any]) -> dict[str, Any]:
        mr = params["min_resource"]
        return {
            "scheduler": "ASHAScheduler",
            "kwargs": {"time_attr": "training_iteration", "grace_period": 1 if mr == "auto" else mr,
                       "reduction_factor": params["reduction_factor"], "brackets": 1},
            "differences": [
                "Ray's ASHA promotes by quantile of recorded rung results like Optuna, but its "
                "rungs are grace_period * eta**k and it needs max_t; min_early_stopping_rate is "
                "folded into grace_period = min_resource * eta**rate.",
                "min_resource='auto' has no counterpart (grace_period defaults to 1 here).",
                "bootstrap_count has no counterpart.",
            ],
        }
