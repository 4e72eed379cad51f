"""``threshold``: Optuna's ``ThresholdPruner``.

At every report that passes the warm-up/interval gate (see :mod:`.percentile`),
take ``v`` = the value at the trial's largest reported step and prune iff ``v``
is NaN, ``v < lower`` or ``v > upper``. It ignores other trials and the study
direction; a spec may still declare ``direction`` so that applying it to a study
of the other direction is refused.

Examples
--------
>>> from policy_store.rules import RuleSpec
>>> RuleSpec.parse({"strategy": "threshold", "params": {"upper": 1.0}}).params["lower"] is None
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.errors import InvalidSpecError
from policy_store.rules.strategies._base import GATE_PARAMS, Param, Strategy, import_optuna


def decide(value: Any, lower: Any, upper: Any) -> Any:
    """The verdict at a checked report: prune iff ``value`` is NaN, below ``lower`` or above ``upper``.

    Missing bounds are ``-inf``/``inf``. The one decision function of the
    strategy: the live decider calls it on one value, the replay kernel on a
    whole curve matrix (elementwise). The bound crossed is ``lower`` when
    ``value < lower``, else ``upper``.

    >>> bool(decide(0.5, 0.2, 1.2)), bool(decide(1.5, 0.2, 1.2)), bool(decide(float("nan"), 0.2, 1.2))
    (False, True, True)
    """
    return np.isnan(value) | (value < lower) | (value > upper)


class Threshold(Strategy):
    """Prune a trial whose latest value leaves ``[lower, upper]``."""

    name = "threshold"
    kernel = "threshold"
    params = (
        Param("lower", "float_or_none", None),
        Param("upper", "float_or_none", None),
        *GATE_PARAMS,
    )

    def check_combination(self, params: dict[str, Any], prefix: str) -> None:
        lo, hi = params["lower"], params["upper"]
        if lo is None and hi is None:
            raise InvalidSpecError("give at least one of lower/upper (numbers)", field=f"{prefix}.lower")
        if lo is not None and hi is not None and lo > hi:
            raise InvalidSpecError(f"lower ({lo}) must be <= upper ({hi})", field=f"{prefix}.lower")

    def to_optuna(self, params: dict[str, Any]) -> Any:
        optuna = import_optuna()
        return optuna.pruners.ThresholdPruner(
            lower=params["lower"],
            upper=params["upper"],
            n_warmup_steps=params["n_warmup_steps"],
            interval_steps=params["interval_steps"],
        )

    def to_ray_tune(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "scheduler": "FIFOScheduler",
            "kwargs": {},
            "stopper": {"lower": params["lower"], "upper": params["upper"],
                        "grace_period": params["n_warmup_steps"]},
            "differences": [
                "Ray Tune has no threshold scheduler: use FIFOScheduler with a custom Stopper "
                "(a function stop(trial_id, result)) that checks the bounds after the grace period.",
                "interval_steps has no counterpart.",
            ],
        }
