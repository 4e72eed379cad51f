"""Optuna ``BasePruner`` subclasses for what Optuna lacks: ``posterior``, ``forecast`` and ``audit_fraction``.

``RuleSpec.to_optuna()`` returns them for users of plain Optuna and for the parity tests;
``StorePruner`` decides with :mod:`policy_store.integrations.deciders` instead.

Imported lazily (optuna is an optional extra).
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection

from policy_store.rules.audit import is_audited


class PosteriorPruner(BasePruner):
    """Live form of the ``posterior`` strategy for a plain Optuna study (``to_optuna()``).

    Decides with the strategy's live decider
    (:class:`policy_store.integrations.deciders.posterior.PosteriorDecider`), the
    one ``StorePruner`` uses.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        from policy_store.integrations.deciders.posterior import PosteriorDecider

        self._decider = PosteriorDecider(dict(params))

    def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return self._decider.decide(study, trial, study.direction == StudyDirection.MINIMIZE)[0]


class ForecastPruner(BasePruner):
    """Live form of the ``forecast`` strategy for a plain Optuna study (``to_optuna()``).

    Decides with the strategy's live decider
    (:class:`policy_store.integrations.deciders.forecast.ForecastDecider`), the
    one ``StorePruner`` uses; refuses a rule made with another forecaster model.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        from policy_store.integrations.deciders.forecast import ForecastDecider

        self._decider = ForecastDecider(dict(params))

    def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return self._decider.decide(study, trial, study.direction == StudyDirection.MINIMIZE)[0]


class AuditPruner(BasePruner):
    """Wrap a pruner so that a seeded fraction of trials is never pruned (``audit_fraction``).

    For an audited trial the wrapped pruner is consulted until it first says
    "prune" (a shadow prune, kept in ``shadow_pruned``), then never again.
    """

    def __init__(self, wrapped: BasePruner, fraction: float, seed: int) -> None:
        self._wrapped = wrapped
        self._fraction = fraction
        self._seed = seed
        self.shadow_pruned: dict[int, int] = {}

    def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
        if trial.number in self.shadow_pruned:
            return False
        verdict = self._wrapped.prune(study, trial)
        if verdict and is_audited(trial.number, self._fraction, self._seed):
            self.shadow_pruned[trial.number] = int(trial.last_step)
            return False
        return bool(verdict)
