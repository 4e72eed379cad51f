"""Shared pieces of the batched replay kernels.

A kernel replays one strategy family over one study for a *batch* of ``B``
(parameter set, trial order) pairs at once: ``orders[b, t]`` is the trial index
that enters ``t``-th in replay ``b`` (its Optuna trial number is ``t``). Trials run
one after another, each to completion or until pruned, so at trial ``t`` the
state (reference tables, rung values, counts of COMPLETE trials) holds exactly
the trials ``0..t-1``: what a live pruner would have seen at that moment.

Kernels return, by position: ``prune_col[b, t]`` (the column of ``steps`` at
which the rule said "prune", -1 for never), ``threshold`` and ``ref_size`` (the
reason), and they update their state treating audited trials
(``audited[b, t]``) as never pruned.

>>> import numpy as np
>>> x = np.array([[3.0, 1.0, np.nan, 2.0]])
>>> srt = np.sort(x, axis=1)[:, None, :]                          # (B=1, J=1, rows)
>>> float(sorted_nanpercentile(srt, np.array([[3]]), np.array([0.25]))[0, 0]) == float(np.nanpercentile(x, 25))
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from policy_store.curves import StudyCurves
from policy_store.replay.kernels import _jit
from policy_store.rules.strategies._base import passes_gate


@dataclass
class KernelOut:
    """Per-position results of one batched kernel run (arrays of shape ``(B, N)``)."""

    prune_col: np.ndarray
    threshold: np.ndarray
    ref_size: np.ndarray

    @classmethod
    def empty(cls, b: int, n: int) -> KernelOut:
        return cls(np.full((b, n), -1, dtype=np.int64), np.full((b, n), np.nan), np.zeros((b, n), dtype=np.int64))


class RowParams(Sequence):
    """Per-replay parameter dicts held once per spec: ``rows[b] is members[member[b]]``.

    Kernels take one dict per replay; a batch of a few specs under many
    studies and orders repeats the same dicts, so :func:`param_column` reads
    each spec once instead of once per replay.

    >>> rows = RowParams([{"a": 1}, {"a": 2}], np.array([0, 1, 1]))
    >>> len(rows), rows[2], param_column(rows, lambda p: p["a"]).tolist()
    (3, {'a': 2}, [1, 2, 2])
    """

    __slots__ = ("member", "members")

    def __init__(self, members: list[dict[str, Any]], member: np.ndarray) -> None:
        self.members = members
        self.member = member

    def __len__(self) -> int:
        return len(self.member)

    def __getitem__(self, b: Any) -> Any:
        if isinstance(b, slice):
            return [self.members[m] for m in self.member[b].tolist()]
        return self.members[self.member[b]]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        members = self.members
        return (members[m] for m in self.member.tolist())


def split_params(params: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``(members, member)``: the distinct parameter dicts and each row's index into them."""
    if isinstance(params, RowParams):
        return params.members, params.member
    return list(params), np.arange(len(params), dtype=np.int64)


def param_distinct(params: Sequence[dict[str, Any]], get: Callable[[dict[str, Any]], Any],
                   dtype: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(values, index)`` with ``values[index[b]] == get(params[b])``: per spec for :class:`RowParams`."""
    if isinstance(params, RowParams):
        return np.array([get(p) for p in params.members], dtype=dtype), params.member
    return np.array([get(p) for p in params], dtype=dtype), np.arange(len(params), dtype=np.int64)


def param_column(params: Sequence[dict[str, Any]], get: Callable[[dict[str, Any]], Any],
                 dtype: Any = None) -> np.ndarray:
    """``np.array([get(p) for p in params], dtype)``, evaluated once per spec for :class:`RowParams`."""
    values, index = param_distinct(params, get, dtype)
    return values[index]


class Stack:
    """Curves of one or more studies stacked along the batch axis, padded to common sizes.

    Each study is stored once (``study_values``/``study_present`` ``(S, N, J)``,
    ``study_steps`` ``(S, J)``, ...); replay ``b`` reads study ``index[b]``. The
    per-replay views ``values``/``present`` ``(B, N, J)``, ``steps`` ``(B, J)``,
    ``last_pos``/``final`` ``(B, N)`` are gathered on first use only: compiled
    kernels index the per-study arrays directly, so a study replayed under many
    orders and specs is never copied. A study with fewer trials gets trials that
    never report (placed last in every order, so they change no trial number),
    one with fewer steps gets unreported columns at larger steps. All replays in
    a stack share one direction.
    """

    def __init__(self, values: np.ndarray, present: np.ndarray, steps: np.ndarray, last_pos: np.ndarray,
                 final: np.ndarray, index: np.ndarray, maximize: bool, names: list[str]) -> None:
        self.study_values = values
        self.study_present = present
        self.study_steps = steps
        self.study_last = last_pos
        self.study_final = final
        self.index = np.ascontiguousarray(index, dtype=np.int64)
        self.maximize = maximize
        self.study_names = names
        self._rows: dict[str, Any] = {}

    def _by_row(self, key: str, base: Any) -> Any:
        if key not in self._rows:
            self._rows[key] = base[self.index] if isinstance(base, np.ndarray) else [base[k] for k in self.index]
        return self._rows[key]

    values = property(lambda self: self._by_row("values", self.study_values))
    present = property(lambda self: self._by_row("present", self.study_present))
    steps = property(lambda self: self._by_row("steps", self.study_steps))
    last_pos = property(lambda self: self._by_row("last_pos", self.study_last))
    final = property(lambda self: self._by_row("final", self.study_final))
    names = property(lambda self: self._by_row("names", self.study_names))

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.index),) + self.study_values.shape[1:]  # type: ignore[return-value]

    @classmethod
    def build(cls, curves: list[StudyCurves], index: np.ndarray, names: list[str]) -> Stack:
        """Stack ``curves[index[b]]`` for every ``b``; ``names`` are the per-study Optuna study names."""
        dirs = {c.direction for c in curves}
        if len(dirs) != 1:
            raise ValueError("a stack holds studies of one direction")
        n_s = len(curves)
        shapes = np.array([c.values.shape for c in curves], dtype=np.int64).reshape(n_s, 2)
        # contiguous: numba compiles one version per memory layout, and a 1-element view counts as contiguous
        cn, cj = np.ascontiguousarray(shapes.T)
        n, j = int(cn.max()), int(cj.max())
        vals = np.full((n_s, n, j), np.nan)
        pres = np.zeros((n_s, n, j), dtype=bool)
        flat_v = np.concatenate([c.values.ravel() for c in curves])
        flat_p = np.concatenate([c.present.ravel() for c in curves])
        if _jit.compiled():
            from policy_store.replay.kernels._stack_jit import scatter

            cells = cn * cj
            offset = np.cumsum(cells) - cells
            scatter(flat_v, offset, cn, cj, vals)
            scatter(flat_p, offset, cn, cj, pres)
        else:
            for k, c in enumerate(curves):
                vals[k, : cn[k], : cj[k]] = c.values
                pres[k, : cn[k], : cj[k]] = c.present
        # padded step columns come after the last real step, one apart
        last_step = np.array([c.steps[-1] for c in curves], dtype=np.int64)
        steps = last_step[:, None] + np.arange(1, j + 1)[None, :] - cj[:, None]
        sk = np.repeat(np.arange(n_s), cj)
        steps[sk, np.arange(int(cj.sum())) - np.repeat(np.cumsum(cj) - cj, cj)] = np.concatenate(
            [c.steps for c in curves])
        last = np.zeros((n_s, n), dtype=np.int64)
        tk = np.repeat(np.arange(n_s), cn)
        last[tk, np.arange(int(cn.sum())) - np.repeat(np.cumsum(cn) - cn, cn)] = np.concatenate(
            [c.last_pos for c in curves])
        # a padded trial's row is all NaN, so its final value is NaN: it never completes
        final = np.ascontiguousarray(np.take_along_axis(vals, last[:, :, None], axis=2)[:, :, 0])
        return cls(vals, pres, steps, last, final, index, dirs.pop() == "maximize", list(names))


def prev_reported_step(st: Stack) -> np.ndarray:
    """``(B, N, J)``: the trial's largest reported step before column ``j`` (-1 if none)."""
    return _prev_reported_step(st.present, st.steps)


def _prev_reported_step(present: np.ndarray, steps: np.ndarray) -> np.ndarray:
    stepped = np.where(present, steps[:, None, :], -1)
    cm = np.maximum.accumulate(stepped, axis=2)
    return np.concatenate([np.full(cm.shape[:2] + (1,), -1, dtype=cm.dtype), cm[:, :, :-1]], axis=2)


def gate(st: Stack, warmup: np.ndarray, interval: np.ndarray) -> np.ndarray:
    """``(B, N, J)`` warm-up and interval gate of Optuna (``_is_first_in_interval_step``).

    ``warmup``/``interval`` have shape ``(B,)``; the gate itself is
    :func:`policy_store.rules.strategies._base.passes_gate`, applied elementwise.
    """
    return gate_arrays(st.present, st.steps, warmup, interval)


def gate_arrays(present: np.ndarray, steps: np.ndarray, warmup: Any, interval: Any) -> np.ndarray:
    """:func:`gate` on ``present`` ``(X, N, J)`` and ``steps`` ``(X, J)`` (per replay or per study)."""
    w = np.broadcast_to(warmup, steps.shape[:1])[:, None, None]
    k = np.broadcast_to(interval, steps.shape[:1])[:, None, None]
    return present & passes_gate(steps[:, None, :], _prev_reported_step(present, steps), w, k)


def percentile_tables(q_frac: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolation indices and weights of ``np.nanpercentile`` for every count ``0..n_max``.

    Returns ``(prev_idx, next_idx, gamma)``, each ``(B, n_max + 1)``, computed with
    numpy's own arithmetic (virtual index ``(n - 1) * q``; above the top both
    indices are ``n - 1`` and gamma is taken against index -1).
    """
    n = np.arange(n_max + 1)[None, :]
    virt = (n - 1) * q_frac[:, None]
    prev = np.floor(virt)
    above = virt >= n - 1
    top = np.maximum(n - 1, 0)
    prev_idx = np.where(above, top, np.maximum(prev, 0)).astype(np.intp)
    next_idx = np.where(above, top, prev + 1).astype(np.intp)
    gamma = virt - np.where(above, -1.0, prev)
    return prev_idx, next_idx, gamma


def lookup_percentile(srt: np.ndarray, n_valid: np.ndarray,
                      tables: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """``(B, J)`` percentiles of the sorted table ``srt`` (``(B, J, rows)``) via :func:`percentile_tables`."""
    prev_t, next_t, gamma_t = tables
    bi = np.arange(srt.shape[0])[:, None]
    ji = np.arange(srt.shape[1])[None, :]
    a = srt[bi, ji, prev_t[bi, n_valid]]
    b = srt[bi, ji, next_t[bi, n_valid]]
    gamma = gamma_t[bi, n_valid]
    with np.errstate(invalid="ignore"):
        diff = b - a
        res = a + diff * gamma
        res = np.where(gamma >= 0.5, b - diff * (1 - gamma), res)
    return np.where(n_valid > 0, res, np.nan)


def sorted_nanpercentile(srt: np.ndarray, n_valid: np.ndarray, q_frac: np.ndarray) -> np.ndarray:
    """``np.nanpercentile`` (linear) of each column of a sorted, NaN-padded table, bit for bit.

    Parameters
    ----------
    srt:
        ``(B, J, rows)``; the first ``n_valid[b, j]`` entries of ``srt[b, j]``
        are column ``j``'s non-NaN values in ascending order.
    n_valid:
        ``(B, J)`` counts.
    q_frac:
        ``(B,)`` quantiles already divided by 100 (``np.true_divide(q, 100)``).

    Returns
    -------
    numpy.ndarray
        ``(B, J)``, NaN where a column has no valid value. The arithmetic mirrors
        numpy's ``_quantile``/``_lerp`` (virtual index ``(n - 1) * q``, gamma taken
        against index -1 above the top, the ``t >= 0.5`` branch of the lerp).
    """
    if srt.shape[2] == 0:
        return np.full(n_valid.shape, np.nan)
    return lookup_percentile(srt, n_valid, percentile_tables(q_frac, srt.shape[2]))


def insert_sorted(srt: np.ndarray, rows: int, x: np.ndarray, mask: np.ndarray) -> None:
    """Insert ``x[b, j]`` into ``srt[b, j, :rows + 1]`` where ``mask`` (in place).

    ``srt`` is ``(B, J, R)`` with ascending non-NaN values then NaN padding along
    the last axis, ``R >= rows + 2`` (the last slot is scratch); ``x`` must be
    non-NaN where ``mask``. Costs ``O(B * J * rows)``: once per finished trial,
    never per decision.
    """
    if not mask.any():
        return
    with np.errstate(invalid="ignore"):
        pos = np.count_nonzero(srt[:, :, :rows] < x[:, :, None], axis=2)   # NaN padding never counts
    pos = np.where(mask, pos, srt.shape[2] - 1)           # masked-off columns write to the scratch slot
    r = np.arange(1, rows + 1)
    # shift the tail right by one (copyto handles the overlap), then drop x into the gap
    np.copyto(srt[:, :, 1:rows + 1], srt[:, :, :rows], where=r > pos[:, :, None])
    srt[np.arange(srt.shape[0])[:, None], np.arange(srt.shape[1])[None, :], pos] = x


def first_true(mask: np.ndarray) -> np.ndarray:
    """Index of the first True along the last axis, -1 when there is none."""
    hit = mask.any(axis=-1)
    return np.where(hit, mask.argmax(axis=-1), -1)


def completes(st: Stack, idx: np.ndarray, pruned: np.ndarray, audited: np.ndarray) -> np.ndarray:
    """Which trials (``idx[b]`` in replay ``b``) end COMPLETE: not (effectively) pruned, finite final value.

    A NaN final value makes Optuna's ``tell`` fail the trial (state FAIL), which
    excludes it from every COMPLETE-only reference set; padding trials never complete.
    """
    return ~(pruned & ~audited) & ~np.isnan(st.final[np.arange(len(idx)), idx])
