"""Optuna ``BasePruner`` subclasses for what Optuna lacks: ``posterior``, ``forecast`` and ``audit_fraction``.

Imported lazily (optuna is an optional extra).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection
from optuna.trial import TrialState

from policy_store.rules.audit import is_audited
from policy_store.rules.strategies.posterior import prob_improvement


class PosteriorPruner(BasePruner):
    """Live form of the ``posterior`` strategy (see :mod:`policy_store.rules.strategies.posterior`)."""

    def __init__(self, params: dict[str, Any]) -> None:
        self._p = dict(params)

    def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
        p = self._p
        step = trial.last_step
        if step is None or step < p["n_warmup_steps"]:
            return False
        x = trial.intermediate_values[step]
        if not math.isfinite(x):
            return False
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) < p["n_startup_trials"]:
            return False
        minimize = study.direction == StudyDirection.MINIMIZE
        complete = sorted(complete, key=lambda t: t.number)
        best = complete[0].value
        n, s, q = 0, np.float64(0.0), np.float64(0.0)
        for t in complete:
            v = t.value
            best = min(best, v) if minimize else max(best, v)
            xi = t.intermediate_values.get(step)
            if xi is not None and math.isfinite(xi):
                d = np.float64(v) - np.float64(xi)
                n, s, q = n + 1, s + d, q + d * d
        if n < p["min_observations"]:
            return False
        prob = prob_improvement(np.array([n]), np.array([s]), np.array([q]), np.array([x]), np.float64(best), p,
                                "minimize" if minimize else "maximize")
        return bool(prob[0] < p["alpha"])


class ForecastPruner(BasePruner):
    """Live form of the ``forecast`` strategy (see :mod:`policy_store.rules.strategies.forecast`)."""

    def __init__(self, params: dict[str, Any]) -> None:
        self._p = dict(params)

    def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
        from policy_store.rules.strategies.forecast import decide, optuna_inputs

        prefix, step, state, maximize = optuna_inputs(study, trial)
        return step is not None and decide(prefix, step, state, self._p, maximize)[0]


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
