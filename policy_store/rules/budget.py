"""Budgets: safeguards any rule can carry, applied the same way live and in replay.

A spec's ``safeguards`` may hold, besides the audit settings:

=====================  ======================================================================
key                    meaning
=====================  ======================================================================
study_budget_seconds   compute budget of the study: once the seconds spent by its trials reach
                       it, no further trial starts (the running one goes on under the rule)
trial_memory_mb        per-trial memory cap: a trial whose peak memory at a reported step is
                       above it is pruned at that step
trial_max_seconds      per-trial time cap: pruned at the step where its seconds exceed it
trial_max_steps        per-trial step cap: pruned at its N-th reported step
=====================  ======================================================================

The per-trial caps are checked at every report *before* the strategy: a capped trial is pruned
with the budget as its reason, whatever the strategy would have said; it then counts as a
pruned trial for the strategy (never a reference of later trials). At one step the memory cap
is checked first, then time, then steps. A budget left out is not there: specs without one keep
their canonical form and hash.

Examples
--------
>>> b = Budget(trial_memory_mb=512.0, study_seconds=3600.0)
>>> b.trial_cap(600.0, 12.0, 3, step=2)
'budget: trial_memory_mb 512 exceeded (600.0 MB at step 2)'
>>> b.trial_cap(100.0, 12.0, 3, step=2) is None, b.study_exhausted(3600.0)
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policy_store.rules.strategies._base import MAX_INT, Param

BUDGET_SAFEGUARDS = (
    Param("study_budget_seconds", "float", None, low=0.0, low_open=True),
    Param("trial_memory_mb", "float", None, low=0.0, low_open=True),
    Param("trial_max_seconds", "float", None, low=0.0, low_open=True),
    Param("trial_max_steps", "int", None, low=1, high=MAX_INT),
)
"""The budget keys of a spec's ``safeguards``; each optional (absent or null: no such budget)."""


def check_budgets(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The budget safeguards given in ``raw`` (a spec's ``safeguards``), validated; null ones dropped.

    >>> check_budgets({"trial_max_steps": 5, "study_budget_seconds": None, "audit_fraction": 0.1})
    {'trial_max_steps': 5}
    """
    return {p.name: p.check(raw[p.name], "safeguards") for p in BUDGET_SAFEGUARDS if raw.get(p.name) is not None}


@dataclass(frozen=True)
class Budget:
    """The budgets of one spec (each None when the spec has none)."""

    study_seconds: float | None = None
    trial_memory_mb: float | None = None
    trial_max_seconds: float | None = None
    trial_max_steps: int | None = None

    @classmethod
    def of(cls, safeguards: Mapping[str, Any]) -> Budget:
        """The budget of a spec's validated ``safeguards``."""
        return cls(safeguards.get("study_budget_seconds"), safeguards.get("trial_memory_mb"),
                   safeguards.get("trial_max_seconds"), safeguards.get("trial_max_steps"))

    @property
    def caps_trials(self) -> bool:
        """Whether a per-trial cap is set (they truncate curves before the strategy runs)."""
        return any(v is not None for v in (self.trial_memory_mb, self.trial_max_seconds, self.trial_max_steps))

    @property
    def needs_seconds(self) -> bool:
        """Whether a budget is counted in seconds (the live pruner then times every step)."""
        return self.study_seconds is not None or self.trial_max_seconds is not None

    def __bool__(self) -> bool:
        return self.caps_trials or self.study_seconds is not None

    def trial_cap(self, memory_mb: float, seconds: float, reports: int, *, step: int) -> str | None:
        """The reason a trial is capped at this report, or None.

        Parameters
        ----------
        memory_mb:
            The trial's peak memory at this step (NaN: unknown, never capped).
        seconds:
            Its seconds spent up to and including this step (NaN: unknown).
        reports:
            How many steps it has reported, this one included.
        step:
            The step, for the reason.
        """
        if self.trial_memory_mb is not None and not math.isnan(memory_mb) and memory_mb > self.trial_memory_mb:
            return f"budget: trial_memory_mb {self.trial_memory_mb:g} exceeded ({memory_mb:.1f} MB at step {step})"
        if self.trial_max_seconds is not None and not math.isnan(seconds) and seconds > self.trial_max_seconds:
            return f"budget: trial_max_seconds {self.trial_max_seconds:g} exceeded ({seconds:.1f} s at step {step})"
        if self.trial_max_steps is not None and reports >= self.trial_max_steps:
            return f"budget: trial_max_steps {self.trial_max_steps} reached at step {step}"
        return None

    def study_exhausted(self, spent_seconds: float) -> bool:
        """Whether ``spent_seconds`` of the study's trials use up its budget (no trial starts after)."""
        return self.study_seconds is not None and spent_seconds >= self.study_seconds

    def stop_reason(self, spent_seconds: float) -> str:
        """The audit trail's words for a study stopped by its budget."""
        return (f"budget: study_budget_seconds {self.study_seconds:g} exhausted ({spent_seconds:.1f} s spent); "
                "no further trial starts")
