"""Live ``threshold``: the gate, then :func:`policy_store.rules.strategies.threshold.decide` on the last value.

>>> import optuna
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study()
>>> t = study.ask(); t.report(1.5, 0)
>>> d = ThresholdDecider({"lower": None, "upper": 1.2, "n_warmup_steps": 0, "interval_steps": 1})
>>> d.decide(study, study._storage.get_trial(t._trial_id), True)
(True, Reason(threshold=1.2, ref_size=0, text='value 1.5 > upper 1.2 at step 0'))
"""

from __future__ import annotations

import math
from typing import Any

from policy_store.integrations.deciders._base import Decider, Reason, g, gated_report
from policy_store.rules.strategies.threshold import decide


class ThresholdDecider(Decider):
    """Prune a trial whose latest value leaves ``[lower, upper]`` (:mod:`policy_store.rules.strategies.threshold`)."""

    strategy = "threshold"

    def decide(self, study: Any, trial: Any, minimize: bool) -> tuple[bool, Reason]:
        p = self.params
        step, v, closed = gated_report(trial, p)
        if closed:
            return False, closed
        lo = -math.inf if p["lower"] is None else p["lower"]
        hi = math.inf if p["upper"] is None else p["upper"]
        if not decide(v, lo, hi):
            return False, Reason(None, 0, f"value {g(v)} within [{p['lower']}, {p['upper']}] at step {step}")
        if math.isnan(v):
            return True, Reason(None, 0, f"value at step {step} is NaN")
        if v < lo:
            return True, Reason(lo, 0, f"value {g(v)} < lower {g(lo)} at step {step}")
        return True, Reason(hi, 0, f"value {g(v)} > upper {g(hi)} at step {step}")
