"""What :class:`~policy_store.integrations.StorePruner` measures and enforces at each report: memory, time, budgets.

At every ``should_prune`` :class:`LiveBudget`

1. records the trial's peak memory at this step in the block of its ``step_memory_mb`` user attributes
   that holds the step (:mod:`policy_store.trial_resources`, read back by
   :func:`policy_store.ingest.frame_from_optuna`), unless the objective's own ``step_memory_mb`` mapping
   has this step: its ``peak_memory_mb`` user attribute, else the process's peak RSS from
   ``resource.getrusage`` (a high-water mark: it never goes down within a process);
2. when the spec counts a budget in seconds, records the seconds of this step in a ``step_costs`` block
   (unless the objective's ``step_costs`` has it): the time since the trial's previous report;
3. applies the spec's per-trial caps (:mod:`policy_store.rules.budget`) before the strategy: a
   capped trial is pruned with the budget as its reason and the strategy is not asked;
4. once the seconds of the study's trials reach its budget, calls ``study.stop()`` (no trial
   starts after this one) and appends the budget to this decision's reason.

This is the order :mod:`policy_store.replay.budgets` replays, so a sequential study's decisions
are those of the replay of its curves. Each call writes one user attribute (two with a time budget)
of at most :data:`~policy_store.trial_resources.BLOCK` entries, whatever the trial's length, so a
trial's storage traffic grows linearly with its steps; and it calls ``getrusage``. What the guard
keeps of a trial (the block it writes, the seconds it timed) lives while the trial runs: it is
dropped once the trial has ended, when another trial of the study first reports in this process.

Examples
--------
>>> import optuna
>>> from policy_store.rules import RuleSpec
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study(study_name="doc")
>>> guard = LiveBudget(RuleSpec.parse({"strategy": "median", "safeguards": {"trial_memory_mb": 1e6}}))
>>> for number in range(2):
...     t = study.ask(); t.set_user_attr("peak_memory_mb", 100.0 + number); t.report(1.0, 0)
...     frozen = study._storage.get_trial(t._trial_id)
...     verdict, reason = guard.decide(study, study, frozen, lambda view, trial: (False, None))
...     _ = study.tell(t, 1.0)
>>> [t.user_attrs[block_attr(MEMORY_ATTR, 0)] for t in study.trials]
[{'0': 100.0}, {'0': 101.0}]
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from policy_store.integrations.deciders import Reason
from policy_store.rules.spec import RuleSpec
from policy_store.trial_resources import COST_ATTR, MEMORY_ATTR, block_attr, number_or_nan, peak_rss_mb, step_value


@dataclass
class _Running:
    """What this process measured of one running trial.

    The trial the pruner is handed is the objective's cached copy, which never sees attributes written
    to the storage behind it, so what was written for it is read from here.
    """

    last_report: float | None = None
    """``time.time()`` of its previous report."""
    seconds: dict[int, float] = field(default_factory=dict)
    """Step -> the seconds this process timed for it."""
    blocks: dict[str, tuple[str, dict[str, float]]] = field(default_factory=dict)
    """Attribute name -> the block written last: its attribute and entries."""

    def noted(self, name: str, step: int) -> float | None:
        """What this process wrote for ``step`` under ``name``, None if nothing."""
        attr, entries = self.blocks.get(name, ("", {}))
        return entries.get(str(step)) if attr == block_attr(name, step) else None

    def note(self, study: Any, trial: Any, name: str, step: int, value: float) -> None:
        """Write ``value`` for ``step`` under ``name``: the step's block, in one user-attribute write."""
        attr = block_attr(name, step)
        held = self.blocks.get(name)
        entries = held[1] if held is not None and held[0] == attr else {}
        entries[str(step)] = value
        self.blocks[name] = (attr, entries)
        study._storage.set_trial_user_attr(trial._trial_id, attr, dict(entries))


class LiveBudget:
    """Measures and enforces one spec's budgets in a live study (see the module docstring)."""

    def __init__(self, spec: RuleSpec, previous: LiveBudget | None = None) -> None:
        self.budget = spec.budget
        # What was measured stays when the rule switches (previous: the guard of the rule before).
        self._running: dict[tuple[str, int], _Running] = previous._running if previous else {}
        self._prefix: dict[str, tuple[int, float]] = {}  # study -> (finished trials added, their seconds)
        self.stopped: dict[str, str] = previous.stopped if previous else {}
        """Study name -> the reason its budget stopped it."""

    def decide(self, study: Any, view: Any, trial: Any,
               decide: Callable[[Any, Any], tuple[bool, Reason]]) -> tuple[bool, Reason]:
        """The verdict on ``trial``'s last report: a cap's, else ``decide(view, trial)``'s; the study stopped
        when its budget runs out."""
        step = trial.last_step
        if step is None:
            return decide(view, trial)
        run = self._running_trial(view, trial)
        memory = self._note_memory(study, trial, step, run)
        b = self.budget
        if b.needs_seconds:
            self._note_seconds(study, trial, step, run)
        seconds = _trial_seconds(trial, step, run.seconds) if b.needs_seconds else math.nan
        cap = b.trial_cap(memory, seconds, len(trial.intermediate_values), step=step) if b.caps_trials else None
        verdict, reason = (True, Reason(None, 0, cap)) if cap else decide(view, trial)
        name = study.study_name
        if b.study_seconds is not None and name not in self.stopped:
            spent = self._spent_before(view, trial) + seconds
            if b.study_exhausted(spent):
                self.stopped[name] = f"{b.stop_reason(spent)} (trial {trial.number}, step {step})"
                reason = Reason(reason.threshold, reason.ref_size, f"{reason.text}; {self.stopped[name]}")
                with contextlib.suppress(RuntimeError):  # ask-and-tell: no optimize() to stop; read `stopped`
                    study.stop()
        return verdict, reason

    def _running_trial(self, view: Any, trial: Any) -> _Running:
        """This process's record of ``trial``; at a trial's first report here, those of ended trials are dropped."""
        key = (view.study_name, trial.number)
        run = self._running.get(key)
        if run is None:
            mine = [k for k in list(self._running) if k[0] == key[0]]
            if mine:
                trials = view.get_trials(deepcopy=False)
                for k in mine:
                    if _has_ended(trials, k[1]):
                        self._running.pop(k, None)
            run = self._running[key] = _Running()
        return run

    def _note_memory(self, study: Any, trial: Any, step: int, run: _Running) -> float:
        given = step_value(trial.user_attrs, MEMORY_ATTR, step)
        if given is None:
            given = run.noted(MEMORY_ATTR, step)
        if given is not None:
            return number_or_nan(given)
        memory = number_or_nan(trial.user_attrs.get("peak_memory_mb"))
        memory = memory if not math.isnan(memory) else peak_rss_mb()
        run.note(study, trial, MEMORY_ATTR, step, memory)
        return memory

    def _note_seconds(self, study: Any, trial: Any, step: int, run: _Running) -> None:
        now = time.time()
        last, run.last_report = run.last_report, now
        if step not in run.seconds and step_value(trial.user_attrs, COST_ATTR, step) is None:
            start = trial.datetime_start.timestamp() if trial.datetime_start else now
            run.seconds[step] = now - (last if last is not None else start)
            run.note(study, trial, COST_ATTR, step, run.seconds[step])

    def _spent_before(self, view: Any, trial: Any) -> float:
        """Seconds of the study's other trials, added in trial-number order (as the replay adds them).

        The finished trials at the front of the list are added once and kept (per study), so a call costs
        what the running trials cost, not the whole study. Their seconds are read from the storage, which
        holds what every worker recorded.
        """
        trials = sorted(view.get_trials(deepcopy=False), key=lambda t: t.number)
        upto, total = self._prefix.get(view.study_name, (0, 0.0))
        while upto < len(trials) and trials[upto].number != trial.number and trials[upto].state.is_finished():
            total += _trial_seconds(trials[upto], trials[upto].last_step)
            upto += 1
        self._prefix[view.study_name] = (upto, total)
        for other in trials[upto:]:
            if other.number != trial.number:
                total += _trial_seconds(other, other.last_step)
        return total


def _has_ended(trials: list[Any], number: int) -> bool:
    """Whether trial ``number`` of a study's trial list has ended (False if it is not in the list).

    A study lists its trials by number, so the trial is looked up at its index: a trial's first report
    costs the same at trial 10 and at trial 10,000 (a scan is the fallback for a list that is not so).
    """
    t = trials[number] if 0 <= number < len(trials) and trials[number].number == number else \
        next((t for t in trials if t.number == number), None)
    return t is not None and t.state.is_finished()


def _trial_seconds(trial: Any, step: int | None, timed: dict[int, float] | None = None) -> float:
    """Seconds of ``trial``'s reported steps up to ``step``, added in step order (NaN if one is unknown):
    its recorded ones, else those this process ``timed``."""
    total = 0.0
    for s in sorted(trial.intermediate_values):
        if step is None or s > step:
            break
        given = step_value(trial.user_attrs, COST_ATTR, s)
        total += number_or_nan(given if given is not None or timed is None else timed.get(s))
    return total
