"""Live ``posterior``: the observations at the step from the COMPLETE trials (in trial-number order, like the
replay kernel), then :func:`policy_store.rules.strategies.posterior.decide`.

>>> import optuna
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study()
>>> t = study.ask(); t.report(0.5, 0); _ = study.tell(t, 0.4)
>>> t = study.ask(); t.report(0.9, 0)
>>> d = PosteriorDecider({"alpha": 0.05, "prior_mean": 0.0, "prior_kappa": 1.0, "prior_alpha": 2.0,
...                       "prior_beta": 0.01, "n_startup_trials": 1, "n_warmup_steps": 0, "min_observations": 0})
>>> verdict, reason = d.decide(study, study._storage.get_trial(t._trial_id), True)
>>> verdict, reason.ref_size
(True, 1)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from policy_store.integrations.deciders._base import Decider, Reason, complete_trials, g
from policy_store.rules.strategies.posterior import decide


class PosteriorDecider(Decider):
    """Prune a trial whose posterior probability of ending better than the incumbent is below ``alpha``."""

    strategy = "posterior"

    def decide(self, study: Any, trial: Any, minimize: bool) -> tuple[bool, Reason]:
        p = self.params
        step = trial.last_step
        if step is None or step < p["n_warmup_steps"]:
            return False, Reason(None, 0, f"warm-up: step {step} < n_warmup_steps={p['n_warmup_steps']}")
        x = trial.intermediate_values[step]
        if not math.isfinite(x):
            return False, Reason(None, 0, f"value at step {step} is not finite")
        complete = sorted(complete_trials(study), key=lambda t: t.number)
        if len(complete) < p["n_startup_trials"]:
            return False, Reason(None, 0, f"startup: {len(complete)} COMPLETE trials < n_startup_trials="
                                          f"{p['n_startup_trials']}")
        best = complete[0].value
        n, s, q = 0, np.float64(0.0), np.float64(0.0)
        for t in complete:
            best = min(best, t.value) if minimize else max(best, t.value)
            xi = t.intermediate_values.get(step)
            if xi is not None and math.isfinite(xi):
                d = np.float64(t.value) - np.float64(xi)
                n, s, q = n + 1, s + d, q + d * d
        prune, prob = decide(np.array([n]), np.array([s]), np.array([q]), np.array([x]), np.float64(best), p,
                             not minimize)
        if n < p["min_observations"]:
            return False, Reason(p["alpha"], n, f"{n} observations at step {step} < min_observations="
                                                f"{p['min_observations']}")
        pr = float(prob[0])
        op = "<" if prune[0] else ">="
        return bool(prune[0]), Reason(p["alpha"], n, f"P(ends better than {g(best)}) = {g(pr)} {op} alpha "
                                                     f"{g(p['alpha'])} from {n} observations at step {step}")
