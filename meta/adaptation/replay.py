"""Offline replay of a study run under the adaptive policy (:class:`~.selector.AdaptiveSelector`).

:func:`adaptive_replay` simulates one study in a trial order, one trial after
another as in a sequential Optuna study: each trial is decided by the rule in
force when it runs; when it completes, the selector sees the completed trials
so far and may switch rule for the trials still to come. The outcome counts
every trial's cost under the rule that actually decided it -- the trials run
before a switch were pruned (or not) by the then-current rule -- and is
measured by the replay's own outcome function
(:func:`policy_store.replay.outcome_arrays`): compute saved, regret, killed best.

A rule that takes over at position ``a`` decides the later trials with the
study's real history behind it: the earlier trials as they actually ran
(pruned ones cut where they were pruned), which it never re-decides. The
replay kernels get that history as trials that run to their recorded end
(their "audited" rows). What counts as history follows Optuna's pruners:
rung-based ones (successive halving, Hyperband) see every earlier trial's
rung values, pruned or not; the percentile family, ``posterior`` and
``patient`` see only the COMPLETE ones (Optuna's own reference set), so the
pruned earlier trials are left out for them.

>>> import numpy as np
>>> from policy_store.curves import StudyCurves
>>> from policy_store.meta.adaptation.selector import Prior
>>> from policy_store.rules import RuleSpec
>>> rng = np.random.default_rng(0)
>>> finals = rng.uniform(0.5, 0.9, 80)
>>> c = StudyCurves.from_arrays("s", finals[:, None] * (1 - 0.5 ** np.arange(1, 9))[None, :]
...                             + rng.normal(0, 0.01, (80, 8)), direction="maximize")
>>> specs = tuple(RuleSpec.parse({"strategy": "median", "params": {"n_warmup_steps": w}}) for w in (0, 6))
>>> prior = Prior(("w0", "w6"), specs, np.array([0.3, 0.5]), np.zeros(2), np.full(2, 0.15), np.full(2, 0.001))
>>> out = adaptive_replay(c, 0, prior, min_trials=6, seed=0)
>>> out.start, out.final, [s.n_completed for s in out.switches], round(out.compute_saved, 3)
('w6', 'w0', [9], 0.63)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from policy_store.meta.adaptation.evidence import EndedTrials
from policy_store.meta.adaptation.selector import AdaptiveSelector, Prior, Switch

from policy_store.curves import StudyCurves
from policy_store.replay.engine import Replay, trial_order
from policy_store.replay.kernels import KERNELS
from policy_store.replay.kernels._common import RowParams, Stack
from policy_store.replay.outcomes import outcome_arrays
from policy_store.rules.audit import audit_mask
from policy_store.rules.spec import RuleSpec

#: Kernels whose pruners read the rung values of every earlier trial, pruned or not.
_SEE_PRUNED = ("successive_halving", "hyperband")


@dataclass
class AdaptiveOutcome:
    """One study run under the adaptive policy."""

    compute_saved: float
    regret: float
    killed_best: bool
    trials_pruned: int
    n_trials: int
    start: str
    final: str
    switches: list[Switch] = field(default_factory=list)
    rule_of: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    """Candidate index that decided each trial, by position."""
    prune_step: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    """The step each trial (by position) was pruned at, -1 where it ran to the end."""
    n_rescores: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"compute_saved": self.compute_saved, "regret": self.regret, "killed_best": self.killed_best,
                "trials_pruned": self.trials_pruned, "n_trials": self.n_trials, "start": self.start,
                "final": self.final, "n_rescores": self.n_rescores, "switches": [s.to_dict() for s in self.switches]}


def _rows(c: StudyCurves, rows: np.ndarray, stop: np.ndarray | None = None) -> StudyCurves:
    present = c.present[rows]
    if stop is not None:
        present = present & (np.arange(c.n_steps)[None, :] <= stop[:, None])
    return StudyCurves(c.study, c.task, c.direction, c.trials[rows], np.arange(len(rows)), c.steps,
                       np.where(present, c.values[rows], np.nan), present, np.where(present, c.cost[rows], np.nan))


def segment_decisions(curves: StudyCurves, order: np.ndarray, stop: np.ndarray, pruned: np.ndarray, start: int,
                      spec: RuleSpec) -> tuple[np.ndarray, np.ndarray]:
    """``spec``'s prune columns and audit flags for positions ``start..`` given the history before ``start``.

    ``stop``/``pruned`` (by position) say how the earlier trials actually ran
    (see the module docstring).
    """
    spec.check_direction(curves.direction, f"study {curves.study!r}")
    hist = np.arange(start)
    if spec.kernel not in _SEE_PRUNED:
        hist = hist[~pruned[:start]]
    rows = np.concatenate([order[hist], order[start:]]).astype(np.int64)
    cut = np.concatenate([stop[hist], curves.last_pos[order[start:]]])
    sub = _rows(curves, rows, cut)
    positions = np.arange(start, len(order))
    audited = np.concatenate([np.ones(len(hist), dtype=bool),
                              audit_mask(positions, spec.audit_fraction, spec.audit_seed)])
    stack = Stack.build([sub], np.zeros(1, dtype=np.int64), [curves.study])
    out = KERNELS[spec.kernel](stack, np.arange(len(rows), dtype=np.int64)[None, :],
                               RowParams([spec.params], np.zeros(1, dtype=np.int64)), audited[None, :])
    return out.prune_col[0, len(hist):], audited[len(hist):]


def ended_so_far(curves: StudyCurves, order: np.ndarray, stop: np.ndarray, pruned: np.ndarray, shadow: np.ndarray,
                 n: int) -> EndedTrials:
    """The first ``n`` trials (by position) as they ended: pruned ones cut at ``stop``, audited shadow prunes."""
    return EndedTrials.build(_rows(curves, order[:n], stop[:n]), pruned[:n], shadow[:n])


def adaptive_replay(curves: StudyCurves, order: int | np.ndarray, prior: Prior, *, lam: float = 20.0,
                    min_trials: int = 4, every: int = 1, margin: float = 1.0, n_boot: int = 16,
                    seed: int = 0, small_study: float = 0.1, forecaster: Any = None,
                    **options: Any) -> AdaptiveOutcome:
    """Simulate one study under the adaptive policy, in trial order ``order``.

    Parameters
    ----------
    curves:
        The study's full curves.
    order:
        A trial-order seed (:func:`policy_store.replay.trial_order`: 0 is the
        recorded order) or the trial indices in entry order.
    prior:
        Candidates and their meta-learned expectations; the study starts from
        ``prior.start`` (default: the best prior utility).
    lam, min_trials, every, margin, n_boot, seed, small_study, forecaster:
        Of :class:`~policy_store.meta.adaptation.selector.AdaptiveSelector`.
    options:
        Its other options (``rank``, ``cooldown``, ``return_margin``, ``gate``, ``order_gate``).
    """
    order = trial_order(curves.n_trials, order) if np.isscalar(order) else np.asarray(order, dtype=np.int64)
    n = len(order)
    sel = AdaptiveSelector(prior, lam=lam, min_trials=min_trials, every=every, margin=margin, n_boot=n_boot,
                           seed=seed, small_study=small_study, forecaster=forecaster, **options)
    start_name = sel.incumbent_name
    stop = np.zeros(n, dtype=np.int64)
    pruned = np.zeros(n, dtype=bool)
    audited = np.zeros(n, dtype=bool)
    prune_col = np.full(n, -1, dtype=np.int64)
    shadow = np.full(n, -1, dtype=np.int64)
    rule_of = np.zeros(n, dtype=np.int64)
    seg, seg_cols, seg_aud = 0, *segment_decisions(curves, order, stop, pruned, 0, sel.spec)
    for t in range(n):
        rule_of[t] = sel.incumbent
        col, aud = int(seg_cols[t - seg]), bool(seg_aud[t - seg])
        last = int(curves.last_pos[order[t]])
        audited[t] = aud
        prune_col[t] = col
        pruned[t] = col >= 0 and not aud
        shadow[t] = col if col >= 0 and aud else -1
        stop[t] = col if pruned[t] else last
        if t + 1 < n and sel.due(t + 1) and sel.observe(ended_so_far(curves, order, stop, pruned, shadow, t + 1)):
            seg, (seg_cols, seg_aud) = t + 1, segment_decisions(curves, order, stop, pruned, t + 1, sel.spec)
    replay = Replay(prior.specs[rule_of[0]], curves, 0, order, prune_col, audited, np.full(n, np.nan),
                    np.zeros(n, dtype=np.int64))
    o = outcome_arrays(curves, [replay])
    return AdaptiveOutcome(float(o["compute_saved"][0]), float(o["regret"][0]), bool(o["killed_best"][0]),
                           int(o["trials_pruned"][0]), n, start_name, sel.incumbent_name, list(sel.switches),
                           rule_of, np.where(pruned, curves.steps[stop], -1), len(sel.evidence))
