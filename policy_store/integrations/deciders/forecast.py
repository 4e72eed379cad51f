"""Live ``forecast``: the trial's prefix and the study's incumbent, COMPLETE count and budget
(:func:`policy_store.rules.strategies.forecast.optuna_inputs`), then
:func:`policy_store.rules.strategies.forecast.decide`; the reason is worded from the
decision it returned (its gate code, ``P``).

The recorded ``threshold`` is ``P`` (the statistic the verdict compared with
``alpha``, as the replay records it) and ``ref_size`` the COMPLETE trials the
incumbent came from.

>>> import optuna
>>> from policy_store.rules import RuleSpec
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study(direction="maximize")
>>> t = study.ask()
>>> for final in (0.92, 0.9, 0.88, 0.91):   # 4 COMPLETE trials at the budget: the forecaster calibrates
...     t = study.ask()
...     for s, v in enumerate([0.5, 0.7, 0.8, 0.85, 0.9 * final / 0.92, final]): t.report(v, s)
...     _ = study.tell(t, final)
>>> t = study.ask()
>>> for s, v in enumerate([0.2, 0.25, 0.27]): t.report(v, s)
>>> d = ForecastDecider(RuleSpec.parse({"strategy": "forecast", "params": {"alpha": 0.1}}).params)
>>> verdict, reason = d.decide(study, study._storage.get_trial(t._trial_id), False)
>>> verdict, reason.ref_size, reason.text.split(" = ")[0]
(True, 4, 'forecast P(final beats 0.92)')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.integrations.deciders._base import Decider, Reason, g
from policy_store.rules.strategies.forecast import (
    BUDGET,
    NOT_FINITE,
    STARTUP,
    UNCALIBRATED,
    WARMUP,
    check_model,
    decide,
    optuna_inputs,
)


class ForecastDecider(Decider):
    """Prune a trial whose forecast probability of beating the incumbent is below ``alpha``.

    Raises :class:`~policy_store.errors.ForecasterMismatchError` when made for a rule whose
    ``params.model`` is not the installed forecaster.
    """

    strategy = "forecast"

    def __init__(self, params: dict[str, Any]) -> None:
        check_model(params)
        super().__init__(params)

    def decide(self, study: Any, trial: Any, minimize: bool) -> tuple[bool, Reason]:
        p = self.params
        prefix, step, state, maximize = optuna_inputs(study, trial)
        if step is None:
            return False, Reason(None, 0, "no value reported yet")
        d = decide(prefix, step, state, p, maximize)
        n = state.n_complete
        if d.code == WARMUP:
            return False, Reason(None, 0, f"warm-up: step {step} < n_warmup_steps={p['n_warmup_steps']}")
        if d.code == NOT_FINITE:
            return False, Reason(None, 0, f"value at step {step} is not finite")
        if d.code == STARTUP:
            return False, Reason(None, 0, f"startup: {n} COMPLETE trials < n_startup_trials={p['n_startup_trials']}")
        if d.code == UNCALIBRATED:
            from policy_store.meta.forecast.calibration import MIN_CURVES

            return False, Reason(None, n, f"not forecast yet: {state.n_calibrating} COMPLETE trials reach the budget "
                                          f"({state.n_steps} reports), the forecaster calibrates on the study from "
                                          f"{MIN_CURVES} (calibrated_only)")
        if d.code == BUDGET:
            return False, Reason(None, n, f"not forecast at step {step}: the trial has reached the budget "
                                          f"({state.n_steps} reports)")
        op = "<" if d.prune else ">="
        seen = int(np.isfinite(prefix).sum())
        return d.prune, Reason(d.prob, n, f"forecast P(final beats {g(state.incumbent)}) = {g(d.prob)} {op} alpha "
                                          f"{g(p['alpha'])} from {seen} of {state.n_steps} reports "
                                          f"(forecaster {p['model']})")
