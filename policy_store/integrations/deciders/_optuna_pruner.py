"""Strategies not yet on their own decision function: Optuna's pruner decides, the reason is re-derived."""

from __future__ import annotations

from typing import Any

from policy_store.integrations.deciders._base import Decider, Reason


class OptunaPrunerDecider(Decider):
    """The strategy's Optuna pruner (``Strategy.to_optuna``) decides; :mod:`..reasons` explains."""

    def __init__(self, strategy: str, params: dict[str, Any]) -> None:
        from policy_store.rules.strategies import get_strategy

        super().__init__(params)
        self.strategy = strategy
        self.pruner = get_strategy(strategy).to_optuna(params)

    def decide(self, study: Any, trial: Any, minimize: bool) -> tuple[bool, Reason]:
        from policy_store.integrations.reasons import explain

        verdict = bool(self.pruner.prune(study, trial))
        try:
            reason = explain(self.strategy, self.params, study, trial, minimize, self.pruner, 0, verdict)
        except Exception as e:  # an explanation never changes or blocks a verdict
            reason = Reason(None, 0, f"(no explanation: {e!r})")
        return verdict, reason
