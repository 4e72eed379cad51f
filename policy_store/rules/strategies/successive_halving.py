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

import numpy as np

from policy_store.errors import InvalidSpecError
from policy_store.rules.strategies._base import Param, Strategy, import_optuna


def rung_step(min_resource: Any, reduction_factor: Any, rate: Any, rung: Any) -> Any:
    """The step of rung ``rung``: ``min_resource * reduction_factor ** (rate + rung)``, in float64.

    Floats, not Python's unbounded integers, so that the compiled replay loop computes the same
    (exact below 2**53; beyond, a rung no curve reaches).

    >>> float(rung_step(1, 3, 0, 2)), float(rung_step(2, 4, 1, 0))
    (9.0, 8.0)
    """
    return np.float64(min_resource) * np.float64(reduction_factor) ** (rate + rung)


def auto_min_resource(largest_complete_last_step: Any) -> Any:
    """``min_resource="auto"`` once a COMPLETE trial exists: ``max(largest last step // 100, 1)``.

    >>> int(auto_min_resource(250)), int(auto_min_resource(30))
    (2, 1)
    """
    return np.maximum(largest_complete_last_step // 100, 1)


def promotes(n_better: Any, n_others: Any, reduction_factor: Any, bootstrap_count: Any) -> Any:
    """Is a rung value kept (the trial promoted) among the rung's other ``n_others`` values?

    ``n_better`` is how many of those are strictly better than it. Optuna keeps
    the value iff it is at least as good as ``sorted(competing)[idx]`` with
    ``competing`` = the others plus the value and ``idx = max(len(competing) //
    reduction_factor - 1, 0)``, which is ``n_better <= idx``; and never while
    ``len(competing) <= bootstrap_count``. The one decision function of
    ``successive_halving`` and ``hyperband``: the live deciders call it per rung,
    the numpy kernel elementwise, the compiled loop through numba.

    >>> bool(promotes(0, 3, 4, 0)), bool(promotes(1, 3, 4, 0)), bool(promotes(1, 7, 4, 0)), bool(promotes(0, 0, 2, 1))
    (True, False, True, False)
    """
    # cutoff_index(n_others + 1, reduction_factor), written out: numba compiles this function on its own
    idx = np.maximum((n_others + 1) // reduction_factor - 1, 0)
    return (n_others + 1 > bootstrap_count) & (n_better <= idx)


def cutoff_index(n_competing: Any, reduction_factor: Any) -> Any:
    """``idx = max(n_competing // reduction_factor - 1, 0)``: the promotion cut-off's rank among the competing values.

    >>> int(cutoff_index(9, 3)), int(cutoff_index(2, 3))
    (2, 0)
    """
    return np.maximum(n_competing // reduction_factor - 1, 0)


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
