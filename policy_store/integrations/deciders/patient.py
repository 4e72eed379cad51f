"""Live ``patient``: :func:`policy_store.rules.strategies.patient.stalled` on the trial's two windows, then the
wrapped strategy's decider, consulted only at candidate reports (as Optuna's ``PatientPruner``).

>>> import optuna
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study()
>>> t = study.ask()
>>> for step, v in enumerate([0.5, 0.6, 0.7]):
...     t.report(v, step)
>>> d = PatientDecider({"patience": 1, "min_delta": 0.0, "wrapped": None})
>>> d.decide(study, study._storage.get_trial(t._trial_id), True)
(True, Reason(threshold=0.5, ref_size=1, text='no improvement over the last 2 reports (0.6 vs 0.5)'))
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from policy_store.integrations.deciders._base import Decider, Reason, g
from policy_store.rules.strategies.patient import stalled


class PatientDecider(Decider):
    """Prune after ``patience`` reports without improvement, if the wrapped strategy agrees."""

    strategy = "patient"

    def __init__(self, params: dict[str, Any]) -> None:
        from policy_store.integrations.deciders import decider_for_strategy

        super().__init__(params)
        inner = params["wrapped"]
        self.wrapped = None if inner is None else decider_for_strategy(inner["strategy"], inner["params"])

    def decide(self, study: Any, trial: Any, minimize: bool) -> tuple[bool, Reason]:
        p = self.params
        iv = trial.intermediate_values
        k = p["patience"]
        if len(iv) <= k + 1:
            return False, Reason(None, 0, f"{len(iv)} reports <= patience + 1 = {k + 1}")
        steps = sorted(iv)
        before = np.array([iv[s] for s in steps[: -k - 1]], dtype=float)
        after = np.array([iv[s] for s in steps[-k - 1:]], dtype=float)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            b, a = (np.nanmin(before), np.nanmin(after)) if minimize else (np.nanmax(before), np.nanmax(after))
        if not stalled(b, a, p["min_delta"], not minimize):
            return False, Reason(None, len(before), f"improved within patience {k}: best after {g(float(a))}, "
                                                    f"best before {g(float(b))} (min_delta {g(p['min_delta'])})")
        text = f"no improvement over the last {k + 1} reports ({g(float(a))} vs {g(float(b))})"
        if self.wrapped is None:
            ref = float(b + p["min_delta"] if minimize else b - p["min_delta"])
            return True, Reason(ref, len(before), text)
        verdict, r = self.wrapped.decide(study, trial, minimize)
        return verdict, Reason(r.threshold, r.ref_size, f"{text}; {self.wrapped.strategy}: {r.text}")
