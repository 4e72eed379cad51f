"""Replay rule versions over a study's curves, exactly as a live Optuna pruner would decide.

Trials enter one at a time in a given order (their Optuna trial number is their
position); each reports its steps in increasing order and stops at the first
"prune". Specs of the same kernel family are replayed together with all orders
as one batch (see :mod:`policy_store.replay.kernels`).

Orders: seed 0 is the recorded order (``trial_number``); seed ``k > 0`` is
``numpy.random.default_rng(k).permutation(n_trials)``.

Examples
--------
>>> from policy_store.curves import StudyCurves
>>> from policy_store.rules import RuleSpec
>>> c = StudyCurves.from_arrays("s", [[1.0, 0.9], [1.2, 1.1], [0.5, 0.4]])
>>> spec = RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 1}})
>>> [r.pruned.tolist() for r in replay_study(c, [spec], order_seeds=[0])]
[[False, True, False]]
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from policy_store.curves import StudyCurves
from policy_store.replay.budgets import apply_budgets, cap_key, trial_caps, truncated
from policy_store.replay.kernels import KERNELS, _jit
from policy_store.replay.kernels._common import KernelOut, RowParams, Stack
from policy_store.rules.audit import audit_mask
from policy_store.rules.spec import RuleSpec

if TYPE_CHECKING:
    import pandas as pd


@functools.lru_cache(maxsize=4096)
def _order(n_trials: int, seed: int) -> np.ndarray:
    out = np.arange(n_trials) if seed == 0 else np.random.default_rng(seed).permutation(n_trials)
    out.flags.writeable = False
    return out


def trial_order(n_trials: int, seed: int) -> np.ndarray:
    """The order in which trials enter for ``seed`` (0: recorded order).

    >>> trial_order(4, 0).tolist()
    [0, 1, 2, 3]
    """
    return _order(int(n_trials), int(seed)).copy()


@dataclass(eq=False, slots=True)
class Replay:
    """Decisions of one spec on one study under one order; arrays are by entry position.

    ``prune_col`` is the strategy's; a spec's budget (:mod:`policy_store.replay.budgets`) adds
    ``cap_col``/``cap_reason`` (where a per-trial cap pruned, -1/"" where none did) and ``n_started``
    (the trials started before the study budget ran out, None if it never did) with ``stop_note``.
    """

    spec: RuleSpec
    curves: StudyCurves
    order_seed: int
    order: np.ndarray
    prune_col: np.ndarray
    audited: np.ndarray
    threshold: np.ndarray
    ref_size: np.ndarray
    cap_col: np.ndarray | None = None
    cap_reason: np.ndarray | None = None
    n_started: int | None = None
    stop_note: str = ""

    @property
    def _before_cap(self) -> np.ndarray:
        """Whether the strategy's prune column (by position) comes before any cap (the cap decides at its step)."""
        return np.ones(len(self.order), dtype=bool) if self.cap_col is None else \
            (self.cap_col < 0) | (self.prune_col < self.cap_col)

    @property
    def capped(self) -> np.ndarray:
        """Trials (by position) a per-trial cap of the budget pruned (audited ones too: a cap is not a rule)."""
        if self.cap_col is None:
            return np.zeros(len(self.order), dtype=bool)
        return (self.cap_col >= 0) & ~((self.prune_col >= 0) & ~self.audited & self._before_cap)

    @property
    def started(self) -> np.ndarray:
        """Trials (by position) that started: all but those after the study budget ran out."""
        return np.arange(len(self.order)) < (len(self.order) if self.n_started is None else self.n_started)

    @property
    def pruned(self) -> np.ndarray:
        """Trials (by position) the rule or a cap stopped; audited trials never are by the rule."""
        return ((self.prune_col >= 0) & ~self.audited & self._before_cap) | self.capped

    @property
    def stop_col(self) -> np.ndarray:
        """Column of the last step each trial (by position) ran (or would have, for one never started)."""
        last = self.curves.last_pos[self.order]
        out = np.where(self.pruned, self.prune_col, last)
        return out if self.cap_col is None else np.where(self.capped, self.cap_col, out)

    def decisions(self) -> pd.DataFrame:
        """One row per started trial: the verdict, the step, and its reason (value, threshold, reference size)."""
        import pandas as pd

        c = self.curves
        col = self.stop_col
        pruned, capped = self.pruned, self.capped
        shadow = self.audited & (self.prune_col >= 0) & self._before_cap
        rule_pruned = pruned & ~capped
        reason = np.where(rule_pruned, self.spec.strategy,
                          np.where(shadow, "audit: would prune at step "
                                   + c.steps[np.maximum(self.prune_col, 0)].astype(str), "ran to the end"))
        if self.cap_reason is not None:
            reason = np.where(capped, self.cap_reason, reason).astype(object)
        if self.stop_note:
            reason = reason.astype(object)
            reason[self.n_started - 1] = f"{reason[self.n_started - 1]}; {self.stop_note}"
        n = len(self.order) if self.n_started is None else self.n_started
        return pd.DataFrame({
            "trial": c.trials[self.order], "trial_number": np.arange(len(self.order)),
            "step": c.steps[col], "value": c.values[self.order, col],
            "threshold": np.where(rule_pruned | shadow, self.threshold, np.nan),
            "ref_size": np.where(rule_pruned | shadow, self.ref_size, 0),
            "verdict": np.where(pruned, "prune", "continue"),
            "reason": reason,
        }).iloc[:n]


_MAX_CELLS = 3_000_000   # trials x steps x replays per kernel call: bounds memory, keeps arrays in cache


def _inner_kernel(inner: str) -> str:
    from policy_store.rules.strategies import get_strategy

    return get_strategy(inner).kernel if inner else ""


def _buckets(curves: Sequence[StudyCurves], per_study: int, band: int = 1) -> list[list[int]]:
    """Group studies of one direction and step counts in the same ``band``, in chunks of bounded size.

    Padding to common sizes costs work (``band=1``: equal step counts only); each
    kernel call costs a fixed overhead per trial position (wide bands: fewer calls).
    """
    shapes = [c.values.shape for c in curves]
    keyed: dict[tuple[str, int], list[int]] = defaultdict(list)
    for ci, c in enumerate(curves):
        keyed[(c.direction, shapes[ci][1] // band)].append(ci)
    out = []
    for _, cis in sorted(keyed.items()):
        cis.sort(key=lambda ci: shapes[ci])
        chunk: list[int] = []
        widest = 0
        for ci in cis:
            n, j = shapes[ci]
            widest = max(widest, j)
            if chunk and (len(chunk) + 1) * per_study * n * widest > _MAX_CELLS:
                out.append(chunk)
                chunk, widest = [], j
            chunk.append(ci)
        out.append(chunk)
    return out


def replay_study(curves: StudyCurves, specs: Sequence[RuleSpec], order_seeds: Sequence[int] = (0,), *,
                 study_name: str | None = None) -> list[Replay]:
    """Replay every spec under every order over one study.

    Parameters
    ----------
    curves:
        The study's curve matrix.
    specs:
        Validated specs (:meth:`RuleSpec.parse`).
    order_seeds:
        Seeds of the trial orders (see the module docstring).
    study_name:
        The study name a live Optuna study would have (Hyperband hashes it);
        defaults to ``curves.study``.

    Returns
    -------
    list of Replay
        Spec-major, then order: ``result[s * len(order_seeds) + k]``.

    Raises
    ------
    DirectionMismatchError
        A spec declares the other direction than the study's.
    """
    return replay_many([curves], specs, order_seeds, study_names=None if study_name is None else [study_name])[0]


def replay_many(curves: Sequence[StudyCurves], specs: Sequence[RuleSpec], order_seeds: Sequence[int] = (0,), *,
                study_names: Sequence[str] | None = None) -> list[list[Replay]]:
    """Replay every spec under every order over several studies, stacked into shared batches.

    Stacking studies (padded to common sizes) lets one kernel call serve many
    studies, which is what makes replaying small studies fast. Returns, per
    study, the list :func:`replay_study` would return.
    """
    started = time.thread_time()    # CPU: on a loaded machine the wall clock counts other processes' time
    for c in curves:
        for s in specs:
            s.check_direction(c.direction, f"study {c.study!r}")
    names = [c.study for c in curves] if study_names is None else list(study_names)
    results: list[list[Replay | None]] = [[None] * (len(specs) * len(order_seeds)) for _ in curves]
    if not specs or not order_seeds:
        return [[] for _ in curves]
    groups: dict[tuple[str, str, tuple | None], list[int]] = defaultdict(list)
    for si, s in enumerate(specs):
        inner = s.params.get("wrapped") if s.strategy == "patient" else None
        groups[(s.kernel, inner["strategy"] if inner else "", cap_key(s))].append(si)
    seeds = [int(k) for k in order_seeds]
    n_k = len(seeds)
    for (kernel, inner, caps), members in groups.items():
        # numpy sorted-table kernels pay for padded step columns; compiled ones and the rest only per call
        band = 1 if not _jit.compiled() and "percentile" in (kernel, _inner_kernel(inner)) else 1 << 30
        n_m = len(members)
        member_specs = [specs[si] for si in members]
        member_params = [s.params for s in member_specs]
        for cis in _buckets(curves, n_m * n_k, band):
            sub = [curves[ci] for ci in cis]
            sizes = [c.n_trials for c in sub]
            n_max = max(sizes)
            n_sizes = sorted(set(sizes))
            # (size, order) -> padded order; batch rows are study-major, then spec, then order
            padded = np.array([[np.concatenate([_order(n, k), np.arange(n, n_max)]) for k in seeds]
                               for n in n_sizes], dtype=np.int64)
            size_of = np.searchsorted(n_sizes, sizes)
            li_col = np.repeat(np.arange(len(sub)), n_m * n_k)
            mi_col = np.tile(np.repeat(np.arange(n_m), n_k), len(sub))
            k_col = np.tile(np.arange(n_k), len(sub) * n_m)
            positions = np.arange(n_max)
            audit_rows = np.array([audit_mask(positions, s.audit_fraction, s.audit_seed) for s in member_specs])
            # per-trial caps cut the curves the kernel sees (policy_store.replay.budgets); Replay keeps the real ones
            seen = sub if caps is None else [truncated(c, trial_caps(c, member_specs[0].budget)[0]) for c in sub]
            stack = Stack.build(seen, li_col, [names[ci] for ci in cis])
            order_arr = padded[size_of[li_col], k_col]
            audited = audit_rows[mi_col]
            out = KERNELS[kernel](stack, order_arr, RowParams(member_params, mi_col), audited)
            _collect(results, cis, sub, sizes, members, member_specs, seeds, audit_rows, out)
    apply_budgets(results, curves, specs, n_k)
    _jit.spent_uncompiled(time.thread_time() - started)   # after the call: readying must not slow this one
    return results  # type: ignore[return-value]  # every study is in a bucket, every spec in a group: all filled


def _collect(results: list[list[Replay | None]], cis: list[int], sub: list[StudyCurves], sizes: list[int],
             members: list[int], member_specs: list[RuleSpec], seeds: list[int], audit_rows: np.ndarray,
             out: KernelOut) -> None:
    """Cut a batch's ``(B, N)`` results into one :class:`Replay` per row (study-major, then spec, then order).

    Studies of a bucket come sorted by trial count, so the rows of one count are
    a contiguous block: one slice of each result array per block, then its rows.
    Orders and audit masks are the same for every study of one count, so those
    replays share one read-only array instead of a view each.
    """
    n_k, per_study = len(seeds), len(members) * len(seeds)
    whole = per_study == len(results[cis[0]]) if cis else False    # this batch fills every slot
    slots = [si * n_k + k for si in members for k in range(n_k)]
    start = 0
    while start < len(sub):
        n = sizes[start]
        stop = start
        while stop < len(sub) and sizes[stop] == n:
            stop += 1
        lo, hi, reps = start * per_study, stop * per_study, stop - start
        audit = [m for m in audit_rows[:, :n]]
        for m in audit:
            m.flags.writeable = False
        made = list(map(Replay, [spec for spec in member_specs for _ in seeds] * reps,
                        [c for c in sub[start:stop] for _ in range(per_study)], seeds * (len(members) * reps),
                        [_order(n, k) for k in seeds] * (len(members) * reps),
                        list(out.prune_col[lo:hi, :n]), [m for m in audit for _ in seeds] * reps,
                        list(out.threshold[lo:hi, :n]), list(out.ref_size[lo:hi, :n])))
        for li in range(start, stop):
            a = (li - start) * per_study
            if whole:
                results[cis[li]] = made[a:a + per_study]
            else:
                res = results[cis[li]]
                for slot, r in zip(slots, made[a:a + per_study], strict=True):
                    res[slot] = r
        start = stop
