"""Live ``median``/``percentile``: the strategy's gates, its reference set from the COMPLETE trials, then
:func:`policy_store.rules.strategies.percentile.decide` (gate order: the strategy's module docstring).

>>> import optuna
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study()
>>> for v in (1.0, 2.0, 3.0):
...     t = study.ask(); t.report(v, 0); _ = study.tell(t, v)
>>> t = study.ask(); t.report(2.5, 0)
>>> d = PercentileDecider({"n_startup_trials": 1, "n_warmup_steps": 0, "interval_steps": 1, "n_min_trials": 1})
>>> d.decide(study, study._storage.get_trial(t._trial_id), True)
(True, Reason(threshold=2.0, ref_size=3, text='best 2.5 > p50 2 of 3 COMPLETE trials at step 0'))
"""

from __future__ import annotations

import math
from typing import Any

from policy_store.integrations.deciders._base import Decider, Reason, complete_trials, g, gated_report
from policy_store.rules.strategies.percentile import decide, nanpercentile_linear


class PercentileDecider(Decider):
    """Prune a trial whose best value so far is worse than the percentile of COMPLETE trials at its step."""

    strategy = "percentile"

    def decide(self, study: Any, trial: Any, minimize: bool) -> tuple[bool, Reason]:
        p = self.params
        complete = complete_trials(study)
        n = len(complete)
        if n == 0 or n < p["n_startup_trials"]:
            return False, Reason(None, 0, f"startup: {n} COMPLETE trials < n_startup_trials="
                                          f"{max(p['n_startup_trials'], 1)}")
        step, _, closed = gated_report(trial, p)
        if closed:
            return False, closed
        values = [v for v in trial.intermediate_values.values() if v == v]
        best = (min(values) if minimize else max(values)) if values else math.nan
        ref = [t.intermediate_values[step] for t in complete if step in t.intermediate_values]
        q = p.get("percentile", 50.0)
        thr = nanpercentile_linear(ref, q if minimize else 100 - q)
        verdict = bool(decide(best, thr, len(ref), p["n_min_trials"], not minimize))
        if math.isnan(best):
            return verdict, Reason(None, 0, "every reported value is NaN")
        if len(ref) < p["n_min_trials"]:
            return verdict, Reason(None, len(ref), f"{len(ref)} COMPLETE trials reported step {step} < "
                                                   f"n_min_trials={p['n_min_trials']}")
        if math.isnan(thr):
            return verdict, Reason(None, len(ref), f"the {len(ref)} reference values at step {step} are NaN")
        op = (">" if verdict else "<=") if minimize else ("<" if verdict else ">=")
        return verdict, Reason(thr, len(ref), f"best {g(best)} {op} p{g(q)} {g(thr)} of {len(ref)} COMPLETE "
                                              f"trials at step {step}")
