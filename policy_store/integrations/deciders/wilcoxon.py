"""Live ``wilcoxon``: the trial's and the best trial's reports (as Optuna's ``WilcoxonPruner`` reads them), then
:func:`policy_store.rules.strategies.wilcoxon.decide`, the function the replay kernel calls per report.

>>> import optuna
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study()
>>> t = study.ask()
>>> for step in range(6):
...     t.report(float(step), step)
>>> _ = study.tell(t, 5.0)
>>> t = study.ask()
>>> for step in range(6):
...     t.report(step + 1.0, step)
>>> d = WilcoxonDecider({"p_threshold": 0.1, "n_startup_steps": 2})
>>> d.decide(study, study._storage.get_trial(t._trial_id), True)[1].text
'Wilcoxon p=0.015625 < 0.1 against best trial 0 over 6 paired steps'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.integrations.deciders._base import Decider, Reason, g
from policy_store.rules.strategies.wilcoxon import decide


class WilcoxonDecider(Decider):
    """Prune a trial significantly worse than the best trial on their common steps."""

    strategy = "wilcoxon"

    def decide(self, study: Any, trial: Any, minimize: bool) -> tuple[bool, Reason]:
        p = self.params
        iv = trial.intermediate_values
        if not iv:
            return False, Reason(None, 0, "no value reported yet")
        steps, vals = np.array(list(iv.items())).T
        if not np.isfinite(vals).all():
            return False, Reason(None, 0, "a reported value is not finite")
        try:
            best = study.best_trial
        except ValueError:
            return False, Reason(None, 0, "no COMPLETE trial to compare with")
        if not best.intermediate_values:
            return False, Reason(None, 0, f"best trial {best.number} reported no value")
        best_steps, best_vals = np.array(list(best.intermediate_values.items())).T
        if not np.isfinite(best_vals).all():
            return False, Reason(None, 0, f"a value of best trial {best.number} is not finite")
        prune, pv, pairs = decide(steps, vals, best_steps, best_vals, p["p_threshold"], p["n_startup_steps"],
                                  not minimize)
        thr = p["p_threshold"]
        if pv != pv:
            return False, Reason(thr, pairs, f"{pairs} steps paired with best trial {best.number} < "
                                             f"{max(2, p['n_startup_steps'])}")
        if prune:
            return True, Reason(thr, pairs, f"Wilcoxon p={g(pv)} < {g(thr)} against best trial {best.number} "
                                            f"over {pairs} paired steps")
        why = "its mean is at least as good" if pv < thr else f"Wilcoxon p={g(pv)} >= {g(thr)}"
        return False, Reason(thr, pairs, f"not significantly worse than best trial {best.number} over {pairs} "
                                         f"paired steps ({why})")
