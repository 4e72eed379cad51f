"""Per-replay outcomes: compute saved, regret, killed best, false-prune rate, ...

Definitions (one replay = one spec on one study under one order):

- ``compute_saved`` = 1 - spent / full, in cost seconds when every point of the
  study has a cost, else in reported steps. A pruned trial has run the step it
  was pruned at.
- ``regret`` = best final value among all trials minus the best among the trials
  the rule let finish, direction-aware (>= 0, metric units); NaN if none finished.
- ``killed_best`` = no trial attaining the best final value finished.
- ``false_prune_rate`` = share of pruned trials whose final value is in the top
  10 % (fewer than ``ceil(0.1 * n)`` trials strictly better); 0 when none pruned.
- ``audit_false_prune_rate``: the same over the audited trials' shadow prunes
  (NaN when there are none) -- unbiased, since those trials ran to the end.

Trials with a NaN final value count for cost but never as best or top-10 %.

Resources and budgets (:mod:`policy_store.replay.budgets`): a trial a per-trial cap stopped counts as
pruned; a trial never started because the study budget ran out costs nothing and never finishes (so
it can be the killed best). ``peak_memory_mb`` is the most memory any step the rule let run used (NaN
when the study records none), ``trials_capped`` the trials a cap pruned, ``budget_stopped_at`` the
trials started when the study budget ran out (NaN: it never did).

>>> from policy_store.curves import StudyCurves
>>> from policy_store.replay.engine import replay_study
>>> from policy_store.rules import RuleSpec
>>> c = StudyCurves.from_arrays("s", [[1.0, 0.9], [1.2, 1.1], [0.5, 0.4]])
>>> r = replay_study(c, [RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 1}})])
>>> o = outcome_arrays(c, r)
>>> float(o["compute_saved"][0]), float(o["regret"][0]), int(o["trials_pruned"][0])
(0.16666666666666663, 0.0, 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from policy_store.curves import StudyCurves
from policy_store.replay.engine import Replay

OUTCOME_FIELDS = ("compute_saved", "regret", "killed_best", "false_prune_rate", "audit_false_prune_rate",
                  "trials_pruned", "n_trials", "steps_run", "cost_spent", "cost_full")
RESOURCE_FIELDS = ("peak_memory_mb", "trials_capped", "budget_stopped_at")
"""Outcome fields kept in ``outcome_resources`` beside the ``outcomes`` row."""


def outcome_arrays(c: StudyCurves, replays: Sequence[Replay]) -> dict[str, np.ndarray]:
    """Outcomes of many replays of one study at once (one entry per replay)."""
    n = c.n_trials
    if not replays:
        return {k: np.array([]) for k in (*OUTCOME_FIELDS, *RESOURCE_FIELDS)}
    order = np.stack([r.order for r in replays])                       # (R, N) trial index by position
    prune_col = np.stack([r.prune_col for r in replays])
    audited = np.stack([r.audited for r in replays])
    budgeted = any(r.cap_col is not None or r.n_started is not None for r in replays)
    if budgeted:
        pruned_pos = np.stack([r.pruned & r.started for r in replays])
        stop_pos = np.stack([r.stop_col for r in replays])
        shadow_pos = np.stack([r.audited & (r.prune_col >= 0) & r._before_cap & r.started for r in replays])
        started_pos = np.stack([r.started for r in replays])
    else:
        pruned_pos = (prune_col >= 0) & ~audited
        stop_pos = np.where(pruned_pos, prune_col, c.last_pos[order])
        shadow_pos = audited & (prune_col >= 0)
        started_pos = np.ones_like(pruned_pos)
    # back to trial-index space
    rows = np.arange(len(replays))[:, None]
    pruned = np.zeros_like(pruned_pos)
    pruned[rows, order] = pruned_pos
    stop = np.tile(c.last_pos, (len(replays), 1))
    stop[rows, order] = stop_pos
    shadow = np.zeros_like(pruned_pos)
    shadow[rows, order] = shadow_pos
    started = np.zeros_like(pruned_pos)
    started[rows, order] = started_pos

    steps_cum = np.cumsum(c.present, axis=1)
    use_cost = c.cost_known
    unit = np.cumsum(np.where(c.present, c.cost, 0.0), axis=1) if use_cost else steps_cum.astype(float)
    trial_idx = np.arange(n)[None, :]
    spent = np.where(started, unit[trial_idx, stop], 0.0).sum(1)
    full = float(unit[np.arange(n), c.last_pos].sum())
    steps_run = np.where(started, steps_cum[trial_idx, stop], 0).sum(1)
    peak = np.full(len(replays), np.nan)
    if not np.isnan(c.memory).all():
        ran = started[:, :, None] & c.present[None] & (np.arange(c.n_steps)[None, None, :] <= stop[:, :, None])
        memory = np.where(ran & ~np.isnan(c.memory)[None], c.memory[None], -np.inf).max(axis=(1, 2))
        peak = np.where(np.isfinite(memory), memory, np.nan)
    finished = ~pruned & started

    finals = c.final_values
    valid = ~np.isnan(finals)
    maximize = c.direction == "maximize"
    sign = -1.0 if maximize else 1.0                                  # lower is better after signing
    f = np.where(valid, sign * finals, np.inf)
    best_all = f.min() if valid.any() else np.nan
    kept = np.where(finished & valid[None, :], f[None, :], np.inf)
    best_kept = kept.min(1)
    regret = np.where(np.isfinite(best_kept), best_kept - best_all, np.nan)
    killed = ~(finished & valid[None, :] & (f[None, :] == best_all)).any(1)
    k = math.ceil(0.1 * int(valid.sum()))
    better = (f[None, :] < f[:, None]).sum(1)                          # strictly better trials, per trial
    top = valid & (better < k)
    n_pruned = pruned.sum(1)
    fp = np.where(n_pruned > 0, (pruned & top[None, :]).sum(1) / np.maximum(n_pruned, 1), 0.0)
    n_shadow = shadow.sum(1)
    afp = np.where(n_shadow > 0, (shadow & top[None, :]).sum(1) / np.maximum(n_shadow, 1), np.nan)
    return {
        "compute_saved": 1.0 - spent / full if full > 0 else np.zeros(len(replays)),
        "regret": regret,
        "killed_best": killed,
        "false_prune_rate": fp,
        "audit_false_prune_rate": afp,
        "trials_pruned": n_pruned,
        "n_trials": np.full(len(replays), n),
        "steps_run": steps_run,
        "cost_spent": spent if use_cost else np.full(len(replays), np.nan),
        "cost_full": np.full(len(replays), full if use_cost else np.nan),
        "peak_memory_mb": peak,
        "trials_capped": np.array([int(r.capped[r.started].sum()) for r in replays]) if budgeted
        else np.zeros(len(replays), dtype=np.int64),
        "budget_stopped_at": np.array([np.nan if r.n_started is None else r.n_started for r in replays],
                                      dtype=float),
    }
