"""Live ``successive_halving`` and ``hyperband``: rung values kept in the study, each rung decided by
:func:`policy_store.rules.strategies.successive_halving.promotes`.

As Optuna's pruners, a trial's rung-``r`` value is written to the study's
storage as the trial's system attribute ``completed_rung_{r}`` before the rung
is decided, so every worker of the study sees it; ``min_resource="auto"``
(successive halving) and the brackets (Hyperband) are resolved once per
process. Hyperband hashes the trial number into its bracket
(:func:`policy_store.rules.strategies.hyperband.bracket_of`) and decides among
that bracket's trials only.

>>> import optuna
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study()
>>> d = SuccessiveHalvingDecider({"min_resource": 1, "reduction_factor": 2, "min_early_stopping_rate": 0,
...                               "bootstrap_count": 0})
>>> verdicts = []
>>> for v in (0.5, 0.4, 0.7):
...     t = study.ask(); t.report(v, 1)
...     verdicts.append(d.decide(study, study._storage.get_trial(t._trial_id), True))
>>> [v for v, _ in verdicts]
[False, False, True]
>>> verdicts[2][1].text
'rung 0 (step 1): value 0.7 > cutoff 0.4 among top 1/2 of 3'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from policy_store.integrations.deciders._base import Decider, Reason, complete_trials, g, last_report
from policy_store.rules.strategies.hyperband import bracket_budgets, bracket_of, trial_hash
from policy_store.rules.strategies.successive_halving import (
    auto_min_resource,
    cutoff_index,
    promotes,
    rung_step,
)


def current_rung(trial: Any) -> int:
    """The rung a trial is at: the lowest without a recorded value."""
    rung = 0
    while f"completed_rung_{rung}" in trial.system_attrs:
        rung += 1
    return rung


def halve(study: Any, trials: Callable[[], list[Any]], trial: Any, minimize: bool, min_resource: int, eta: int,
          rate: int, bootstrap: int, where: str = "") -> tuple[bool, Reason]:
    """Successive halving at ``trial``'s last report among ``trials()``.

    ``trials`` is called (once, before any write) only when the report reaches a
    rung, as Optuna reads the trial list only then (a storage round trip).
    """
    step, v, _ = last_report(trial)
    rung = current_rung(trial)
    last: Reason | None = None
    competitors: list[Any] | None = None
    while True:
        at = rung_step(min_resource, eta, rate, rung)
        if step < at:
            return False, last or Reason(None, 0, f"step {step} below rung {rung} at step {g(at)}{where}")
        if math.isnan(v):
            return True, Reason(None, 0, f"value at step {step} is NaN")
        if competitors is None:
            competitors = trials()
        key = f"completed_rung_{rung}"
        study._storage.set_trial_system_attr(trial._trial_id, key, v)
        others = [t.system_attrs[key] for t in competitors if key in t.system_attrs and t.number != trial.number]
        n_better = sum(1 for o in others if (o < v if minimize else o > v))
        kept = bool(promotes(n_better, len(others), eta, bootstrap))
        n = len(others) + 1
        if n <= bootstrap:
            return True, Reason(None, n, f"rung {rung}: {n} values <= bootstrap_count={bootstrap}")
        competing = sorted([*others, v])
        idx = int(cutoff_index(n, eta))
        cut = competing[idx] if minimize else competing[-idx - 1]
        op = ("<=" if kept else ">") if minimize else (">=" if kept else "<")
        last = Reason(cut, n, f"rung {rung} (step {g(at)}){where}: value {g(v)} {op} cutoff {g(cut)} "
                              f"among top 1/{eta} of {n}")
        if not kept:
            return True, last
        rung += 1


class SuccessiveHalvingDecider(Decider):
    """Asynchronous successive halving (:mod:`policy_store.rules.strategies.successive_halving`)."""

    strategy = "successive_halving"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.min_resource: int | None = None if params["min_resource"] == "auto" else params["min_resource"]

    def decide(self, study: Any, trial: Any, minimize: bool) -> tuple[bool, Reason]:
        p = self.params
        if trial.last_step is None:
            return False, Reason(None, 0, "no value reported yet")
        if self.min_resource is None:
            done = [t.last_step for t in complete_trials(study) if t.last_step is not None]
            if not done:
                return False, Reason(None, 0, "min_resource='auto' waits for the first COMPLETE trial")
            self.min_resource = int(auto_min_resource(max(done)))
        return halve(study, lambda: study.get_trials(deepcopy=False), trial, minimize, self.min_resource,
                     p["reduction_factor"], p["min_early_stopping_rate"], p["bootstrap_count"])


class HyperbandDecider(Decider):
    """Hyperband over successive-halving brackets (:mod:`policy_store.rules.strategies.hyperband`)."""

    strategy = "hyperband"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.budgets: list[int] | None = None

    def decide(self, study: Any, trial: Any, minimize: bool) -> tuple[bool, Reason]:
        p = self.params
        if self.budgets is None:
            max_resource = p["max_resource"]
            if max_resource == "auto":
                done = [t.last_step for t in complete_trials(study) if t.last_step is not None]
                if not done:
                    return False, Reason(None, 0, "hyperband not initialised (waits for the first COMPLETE trial)")
                max_resource = max(done) + 1
            self.budgets = bracket_budgets(max_resource, p["min_resource"], p["reduction_factor"])
        if not self.budgets:
            return False, Reason(None, 0, "hyperband has no bracket (max_resource < min_resource)")
        if trial.last_step is None:
            return False, Reason(None, 0, "no value reported yet")
        name = study.study_name
        b = bracket_of(trial_hash(name, trial.number), self.budgets)
        budgets = self.budgets

        def bracket_trials() -> list[Any]:
            return [t for t in study.get_trials(deepcopy=False) if bracket_of(trial_hash(name, t.number), budgets) == b]

        return halve(study, bracket_trials, trial, minimize, p["min_resource"], p["reduction_factor"], b,
                     p["bootstrap_count"], f" of bracket {b}")
