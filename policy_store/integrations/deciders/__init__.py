"""Live deciders: each strategy's one decision function applied to an Optuna study, verdict and reason together.

:class:`policy_store.integrations.optuna.StorePruner` (and through it the Ray
``StoreScheduler``) decides every report with :func:`decider_for`; the replay
kernels run the same decision functions (:mod:`policy_store.rules.strategies`)
over curve matrices, so a live study and the replay of its curves decide alike.

>>> from policy_store.rules import RuleSpec
>>> spec = RuleSpec.parse({"strategy": "threshold", "params": {"upper": 1.0},
...                        "safeguards": {"audit_fraction": 0.1}})
>>> type(decider_for(spec)).__name__, decider_for(spec).strategy
('AuditDecider', 'threshold')
"""

from __future__ import annotations

from typing import Any

from policy_store.integrations.deciders._base import Decider, Reason


def decider_for_strategy(strategy: str, params: dict[str, Any]) -> Decider:
    """The live decider of ``strategy`` with validated ``params``."""
    from policy_store.integrations.deciders.forecast import ForecastDecider
    from policy_store.integrations.deciders.halving import HyperbandDecider, SuccessiveHalvingDecider
    from policy_store.integrations.deciders.patient import PatientDecider
    from policy_store.integrations.deciders.percentile import PercentileDecider
    from policy_store.integrations.deciders.posterior import PosteriorDecider
    from policy_store.integrations.deciders.threshold import ThresholdDecider
    from policy_store.integrations.deciders.wilcoxon import WilcoxonDecider

    deciders: dict[str, type[Decider]] = {
        "threshold": ThresholdDecider, "patient": PatientDecider, "median": PercentileDecider,
        "percentile": PercentileDecider, "successive_halving": SuccessiveHalvingDecider,
        "hyperband": HyperbandDecider, "wilcoxon": WilcoxonDecider, "posterior": PosteriorDecider,
        "forecast": ForecastDecider,
    }
    if strategy not in deciders:
        from policy_store.errors import InvalidSpecError

        raise InvalidSpecError(f"no live decider for strategy {strategy!r}; known: {sorted(deciders)}",
                               field="strategy")
    return deciders[strategy](params)


def decider_for(spec: Any) -> Decider:
    """The live decider of a :class:`~policy_store.rules.spec.RuleSpec`, with its ``audit_fraction`` safeguard."""
    decider = decider_for_strategy(spec.strategy, spec.params)
    if spec.audit_fraction > 0:
        from policy_store.integrations.deciders.audit import AuditDecider

        return AuditDecider(decider, spec.audit_fraction, spec.audit_seed)
    return decider


__all__ = ["Decider", "Reason", "decider_for", "decider_for_strategy"]
