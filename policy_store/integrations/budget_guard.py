"""What :class:`~policy_store.integrations.StorePruner` measures and enforces at each report: memory, time, budgets.

At every ``should_prune`` :class:`LiveBudget`

1. records the trial's peak memory at this step in its ``step_memory_mb`` user attribute
   (``{step: MB}``, read back by :func:`policy_store.ingest.frame_from_optuna`): what the objective
   put there for this step, else its ``peak_memory_mb`` user attribute, else the process's peak
   RSS from ``resource.getrusage`` (a high-water mark: it never goes down within a process);
2. when the spec counts a budget in seconds, records the seconds of this step in ``step_costs``
   (what the objective put there, else the time since the trial's previous report);
3. applies the spec's per-trial caps (:mod:`policy_store.rules.budget`) before the strategy: a
   capped trial is pruned with the budget as its reason and the strategy is not asked;
4. once the seconds of the study's trials reach its budget, calls ``study.stop()`` (no trial
   starts after this one) and appends the budget to this decision's reason.

This is the order :mod:`policy_store.replay.budgets` replays, so a sequential study's decisions
are those of the replay of its curves. Each call costs one user-attribute write (two with a
time budget) and a ``getrusage``.

Examples
--------
>>> peak_rss_mb() > 0
True
"""

from __future__ import annotations

import contextlib
import math
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from policy_store.integrations.reasons import Reason
from policy_store.rules.spec import RuleSpec

MEMORY_ATTR = "step_memory_mb"
COST_ATTR = "step_costs"


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far, in MB (``ru_maxrss``: KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _per_step(trial: Any, attr: str) -> dict[str, float]:
    given = trial.user_attrs.get(attr)
    return {str(k): v for k, v in given.items()} if isinstance(given, dict) else {}


def _number(x: Any) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else math.nan


class LiveBudget:
    """Measures and enforces one spec's budgets in a live study (see the module docstring)."""

    def __init__(self, spec: RuleSpec, previous: LiveBudget | None = None) -> None:
        self.budget = spec.budget
        # What was measured stays when the rule switches (previous: the guard of the rule before).
        self._last_report: dict[tuple[str, int], float] = previous._last_report if previous else {}
        # What this process wrote per trial: Optuna hands the pruner its trial from the objective's cache,
        # which never sees attributes written to the storage behind it.
        self._written: dict[tuple[str, str, int], dict[str, float]] = previous._written if previous else {}
        self._totals: dict[tuple[str, int], float] = {}  # seconds of finished trials, read once
        self.stopped: dict[str, str] = previous.stopped if previous else {}
        """Study name -> the reason its budget stopped it."""

    def decide(self, study: Any, view: Any, trial: Any,
               decide: Callable[[Any, Any], tuple[bool, Reason]]) -> tuple[bool, Reason]:
        """The verdict on ``trial``'s last report: a cap's, else ``decide(view, trial)``'s; the study stopped
        when its budget runs out."""
        step = trial.last_step
        if step is None:
            return decide(view, trial)
        memory = self._note_memory(study, trial, step)
        b = self.budget
        seconds = self._note_seconds(study, trial, step) if b.needs_seconds else {}
        cap = b.trial_cap(memory, _trial_seconds(trial, seconds, step), len(trial.intermediate_values),
                          step=step) if b.caps_trials else None
        verdict, reason = (True, Reason(None, 0, cap)) if cap else decide(view, trial)
        name = study.study_name
        if b.study_seconds is not None and name not in self.stopped:
            before = self._spent_before(view, trial)
            spent = before + _trial_seconds(trial, seconds, step)
            if b.study_exhausted(spent):
                self.stopped[name] = f"{b.stop_reason(spent)} (trial {trial.number}, step {step})"
                reason = Reason(reason.threshold, reason.ref_size, f"{reason.text}; {self.stopped[name]}")
                with contextlib.suppress(RuntimeError):  # ask-and-tell: no optimize() to stop; read `stopped`
                    study.stop()
        return verdict, reason

    def _attr(self, study: Any, trial: Any, attr: str) -> dict[str, float]:
        written = self._written.setdefault((attr, study.study_name, trial.number), {})
        return {**written, **_per_step(trial, attr)}

    def _write(self, study: Any, trial: Any, attr: str, per_step: dict[str, float]) -> None:
        self._written[(attr, study.study_name, trial.number)] = per_step
        study._storage.set_trial_user_attr(trial._trial_id, attr, per_step)

    def _note_memory(self, study: Any, trial: Any, step: int) -> float:
        per_step = self._attr(study, trial, MEMORY_ATTR)
        if str(step) in per_step:
            return _number(per_step[str(step)])
        given = _number(trial.user_attrs.get("peak_memory_mb"))
        memory = given if not math.isnan(given) else peak_rss_mb()
        per_step[str(step)] = memory
        self._write(study, trial, MEMORY_ATTR, per_step)
        return memory

    def _note_seconds(self, study: Any, trial: Any, step: int) -> dict[str, float]:
        key, now = (study.study_name, trial.number), time.time()
        per_step = self._attr(study, trial, COST_ATTR)
        last = self._last_report.get(key)
        self._last_report[key] = now
        if str(step) not in per_step:
            start = trial.datetime_start.timestamp() if trial.datetime_start else now
            per_step[str(step)] = now - (last if last is not None else start)
            self._write(study, trial, COST_ATTR, per_step)
        return per_step

    def _spent_before(self, view: Any, trial: Any) -> float:
        """Seconds of the study's other trials, in trial-number order (as the replay adds them)."""
        total = 0.0
        for other in sorted(view.get_trials(deepcopy=False), key=lambda t: t.number):
            if other.number == trial.number:
                continue
            key = (view.study_name, other.number)
            if key not in self._totals:
                seconds = _trial_seconds(other, self._attr(view, other, COST_ATTR), other.last_step)
                if not other.state.is_finished():
                    total += seconds
                    continue
                self._totals[key] = seconds
            total += self._totals[key]
        return total


def _trial_seconds(trial: Any, per_step: dict[str, float], step: int | None) -> float:
    """Seconds of ``trial``'s reported steps up to ``step``, added in step order (NaN if one is unknown)."""
    total = 0.0
    for s in sorted(trial.intermediate_values):
        if step is None or s > step:
            break
        total += _number(per_step.get(str(s)))
    return total
