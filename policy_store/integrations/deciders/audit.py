"""The ``audit_fraction`` safeguard live: a seeded set of trials the rule may not prune.

For an audited trial the rule is consulted until it first says "prune" (a
shadow prune, recorded with its reason and the trial runs on), then never
again; :mod:`policy_store.rules.audit` states why. ``shadow_pruned`` is per
process, as Optuna's pruners keep their state.

>>> import optuna
>>> from policy_store.integrations.deciders.threshold import ThresholdDecider
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study()
>>> t = study.ask(); t.report(1.5, 0)
>>> d = AuditDecider(ThresholdDecider({"lower": None, "upper": 1.2, "n_warmup_steps": 0, "interval_steps": 1}),
...                  fraction=1.0, seed=0)
>>> d.decide(study, study._storage.get_trial(t._trial_id), True)[1].text
'audit: would prune at step 0: value 1.5 > upper 1.2 at step 0'
>>> d.shadow_pruned
{0: 0}
"""

from __future__ import annotations

from typing import Any

from policy_store.integrations.deciders._base import Decider, Reason
from policy_store.rules.audit import is_audited


class AuditDecider(Decider):
    """Wrap a decider so that audited trials are never pruned."""

    def __init__(self, wrapped: Decider, fraction: float, seed: int) -> None:
        super().__init__(wrapped.params)
        self.wrapped = wrapped
        self.strategy = wrapped.strategy
        self.fraction = fraction
        self.seed = seed
        self.shadow_pruned: dict[int, int] = {}

    def decide(self, study: Any, trial: Any, minimize: bool) -> tuple[bool, Reason]:
        if trial.number in self.shadow_pruned:
            return False, Reason(None, 0, f"audited trial, exempt since its shadow prune at step "
                                          f"{self.shadow_pruned[trial.number]}")
        verdict, reason = self.wrapped.decide(study, trial, minimize)
        if verdict and is_audited(trial.number, self.fraction, self.seed):
            self.shadow_pruned[trial.number] = int(trial.last_step)
            return False, Reason(reason.threshold, reason.ref_size,
                                 f"audit: would prune at step {trial.last_step}: {reason.text}")
        return verdict, reason
