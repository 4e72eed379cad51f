"""Recommending under a compute budget: the best rule expected to finish the study within it, or none.

A candidate's expected compute is ``(1 - expected compute saved) * full`` seconds, where ``full``
is what the study costs unpruned: given (``full_seconds``), or estimated from the new task's first
curves (the mean cost of one of those studies, scaled to the planned number of trials when it is
known). Among the candidates expected to fit, the usual trade-off chooses (``saved - lam * regret``,
or the most saved within ``max_regret``); the chosen spec carries the budget as its
``study_budget_seconds`` safeguard, so a live study stops starting trials once it is spent.

>>> import numpy as np
>>> saved, regret = np.array([0.2, 0.5, 0.8]), np.array([0.0, 0.002, 0.02])
>>> fit_budget(saved, regret, 0, full=100.0, budget=60.0, lam=20.0, max_regret=None, names=["a", "b", "c"])[0]
1
>>> fit_budget(saved, regret, 0, full=100.0, budget=10.0, lam=20.0, max_regret=None, names=["a", "b", "c"])
Traceback (most recent call last):
...
policy_store.meta.budget.NoRuleFitsError: field 'budget_seconds': no rule is expected to fit in 10 s: ...
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from policy_store.curves import StudyCurves
from policy_store.errors import InvalidInputError
from policy_store.rules.spec import RuleSpec


class NoRuleFitsError(InvalidInputError):
    """No candidate rule is expected to finish the study within the compute budget."""


def full_study_seconds(curves: Sequence[StudyCurves], trials: float | None = None) -> float | None:
    """What one study like ``curves`` costs unpruned, in seconds (None: their costs are not all known).

    >>> c = StudyCurves.from_arrays("s", [[1, 1], [1, 1]], cost=[[2.0, 3.0], [1.0, 4.0]])
    >>> full_study_seconds([c]), full_study_seconds([c], trials=10)
    (10.0, 50.0)
    """
    known = [c for c in curves if c.n_trials and c.cost_known]
    if not known or len(known) < len(curves):
        return None
    per_trial = np.mean([np.where(c.present, c.cost, 0.0).sum() / c.n_trials for c in known])
    n = trials if trials is not None else np.mean([c.n_trials for c in known])
    return float(per_trial * n)


def fit_budget(saved: np.ndarray, regret: np.ndarray, choice: int, *, full: float, budget: float, lam: float,
               max_regret: float | None, names: Sequence[str]) -> tuple[int, str]:
    """The candidate to recommend within ``budget`` seconds (``choice`` if it fits) and a note saying why.

    Raises
    ------
    NoRuleFitsError
        No candidate's expected compute is within the budget.
    """
    spent = (1.0 - np.asarray(saved, float)) * full
    fits = np.isfinite(spent) & np.isfinite(regret) & (spent <= budget)
    if not fits.any():
        cheapest = int(np.nanargmin(np.where(np.isfinite(spent), spent, np.inf)))
        raise NoRuleFitsError(
            f"no rule is expected to fit in {budget:g} s: the study costs about {full:.3g} s unpruned and the "
            f"cheapest rule, {names[cheapest]}, is expected to spend {spent[cheapest]:.3g} s; raise the budget or "
            "plan fewer trials", field="budget_seconds")
    if fits[choice]:
        return choice, (f"budget: {names[choice]} is expected to spend {spent[choice]:.3g} s of the "
                        f"{budget:g} s budget (the study costs about {full:.3g} s unpruned)")
    if max_regret is not None and (fits & (regret <= max_regret)).any():
        score = np.where(fits & (regret <= max_regret), saved, -np.inf)
    else:
        score = np.where(fits, saved - lam * regret, -np.inf)
    best = int(np.argmax(score))
    return best, (f"budget: {names[choice]} would spend about {spent[choice]:.3g} s, over the {budget:g} s budget; "
                  f"{names[best]} is the best expected to fit ({spent[best]:.3g} s)")


def with_study_budget(spec: RuleSpec, budget: float) -> RuleSpec:
    """``spec`` carrying ``budget`` seconds as its ``study_budget_seconds`` safeguard."""
    d = spec.to_dict()
    return RuleSpec.parse({**d, "safeguards": {**d["safeguards"], "study_budget_seconds": budget}})
