"""A spec's budgets in replay, in the order the live pruner applies them.

Live (:class:`policy_store.integrations.budget_guard.LiveBudget`), at every report of a trial: a
per-trial cap that fires prunes it with the budget as reason and the strategy is not asked;
otherwise the strategy decides. Then, whatever the verdict, once the seconds of the study's trials
reach its budget no further trial starts.

In replay the per-trial caps depend only on the trial's own curve, so they are applied before the
strategy's kernel runs: the curve is cut at the capped step and its value there made NaN, which
makes the kernel treat the trial as one that never completes (it is never a reference of a later
trial, as a PRUNED trial is not); a strategy prune before the cap stands. The study budget depends
on what the rule let each trial spend, so it is applied after the kernel, in entry order; trials
that enter later are never started. Neither changes a decision made before it.

Examples
--------
>>> from policy_store.curves import StudyCurves
>>> from policy_store.rules.budget import Budget
>>> c = StudyCurves.from_arrays("s", [[1.0, 0.9, 0.8], [1.1, 1.0, 0.9]], memory=[[10, 20, 30], [10, 90, 95]])
>>> cols, reasons = trial_caps(c, Budget(trial_memory_mb=50.0))
>>> cols.tolist(), reasons[1]
([-1, 1], 'budget: trial_memory_mb 50 exceeded (90.0 MB at step 1)')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from policy_store.curves import StudyCurves
from policy_store.rules.budget import Budget
from policy_store.rules.spec import RuleSpec


def trial_caps(c: StudyCurves, budget: Budget) -> tuple[np.ndarray, np.ndarray]:
    """Per trial (curve row): the column where a per-trial cap prunes it (-1: never) and the reason ("")."""
    n, j = c.values.shape
    cols = np.full(n, -1, dtype=np.int64)
    reasons = np.full(n, "", dtype=object)
    if not budget.caps_trials or not n:
        return cols, reasons
    reports = np.cumsum(c.present, axis=1)
    seconds = np.cumsum(np.where(c.present, c.cost, 0.0), axis=1)   # an unknown cost leaves the rest unknown
    hit = np.zeros((n, j), dtype=bool)
    with np.errstate(invalid="ignore"):
        if budget.trial_memory_mb is not None:
            hit |= c.memory > budget.trial_memory_mb
        if budget.trial_max_seconds is not None:
            hit |= seconds > budget.trial_max_seconds
    if budget.trial_max_steps is not None:
        hit |= reports >= budget.trial_max_steps
    hit &= c.present
    rows = np.flatnonzero(hit.any(axis=1))
    cols[rows] = hit[rows].argmax(axis=1)
    for i in rows:
        k = cols[i]
        reasons[i] = budget.trial_cap(float(c.memory[i, k]), float(seconds[i, k]), int(reports[i, k]),
                                      step=int(c.steps[k]))
    return cols, reasons


def truncated(c: StudyCurves, cols: np.ndarray) -> StudyCurves:
    """The curves the strategy's kernel sees: each capped trial ends at its cap with a NaN value (not COMPLETE)."""
    rows = np.flatnonzero(cols >= 0)
    if not rows.size:
        return c
    after = np.arange(c.n_steps)[None, :] >= cols[rows][:, None]
    values, present = c.values.copy(), c.present.copy()
    values[rows] = np.where(after, np.nan, values[rows])
    present[rows] &= np.arange(c.n_steps)[None, :] <= cols[rows][:, None]
    nan = np.full(c.values.shape, np.nan)
    return StudyCurves(c.study, c.task, c.direction, c.trials, c.trial_numbers, c.steps, values, present,
                       np.where(present, c.cost, nan), np.where(present, c.memory, nan))


def cap_key(spec: RuleSpec) -> tuple | None:
    """What the per-trial caps of ``spec`` are (specs with equal keys share one truncated stack)."""
    b = spec.budget
    return (b.trial_memory_mb, b.trial_max_seconds, b.trial_max_steps) if b.caps_trials else None


def apply_budgets(results: list[list], curves: Sequence[StudyCurves], specs: Sequence[RuleSpec],
                  n_orders: int) -> None:
    """Give every replay of a spec with a budget its caps and where its study stopped (in place).

    A study's caps are worked out once per :func:`cap_key`, shared by the specs that have it.
    """
    for c, per_study in zip(curves, results, strict=True):
        caps: dict[tuple | None, tuple[np.ndarray, np.ndarray]] = {}
        for si, spec in enumerate(specs):
            budget = spec.budget
            if not budget:
                continue
            key = cap_key(spec)
            if key not in caps:
                caps[key] = trial_caps(c, budget)
            cols, reasons = caps[key]
            for r in per_study[si * n_orders:(si + 1) * n_orders]:
                r.cap_col, r.cap_reason = cols[r.order], reasons[r.order]
                if budget.study_seconds is not None:
                    _stop(r, budget)


def _stop(r, budget: Budget) -> None:
    """Where the study budget stops the replay ``r``: the trials started and the note on the last one."""
    c = r.curves
    stop = r.stop_col                                                   # by position
    trial_seconds = np.cumsum(np.where(c.present, c.cost, 0.0), axis=1)[r.order]   # (N, J) by position
    spent = trial_seconds[np.arange(len(r.order)), stop]
    with np.errstate(invalid="ignore"):
        total = np.cumsum(spent)
        over = np.flatnonzero(total >= budget.study_seconds)
    if not over.size:
        return
    p = int(over[0])
    before = float(total[p - 1]) if p else 0.0
    with np.errstate(invalid="ignore"):
        k = int(np.argmax(before + trial_seconds[p, :stop[p] + 1] >= budget.study_seconds))
    r.n_started = p + 1
    r.stop_note = (f"{budget.stop_reason(before + float(trial_seconds[p, k]))} (trial {p}, step "
                   f"{int(c.steps[k])})")
