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

from dataclasses import dataclass

import numpy as np

from policy_store.curves import StudyCurves


@dataclass
class KernelOut:
    """Per-position results of one batched kernel run (arrays of shape ``(B, N)``)."""

    prune_col: np.ndarray
    threshold: np.ndarray
    ref_size: np.ndarray

    @classmethod
    def empty(cls, b: int, n: int) -> KernelOut:
        return cls(np.full((b, n), -1, dtype=np.int64), np.full((b, n), np.nan), np.zeros((b, n), dtype=np.int64))


@dataclass(eq=False)
class Stack:
    """Curves of one or more studies stacked along the batch axis, padded to common sizes.

    ``values``/``present`` are ``(B, N, J)``, ``steps`` ``(B, J)``; a study with
    fewer trials gets trials that never report (placed last in every order, so
    they change no trial number), one with fewer steps gets unreported columns
    at larger steps. All replays in a stack share one direction.
    """

    values: np.ndarray
    present: np.ndarray
    steps: np.ndarray
    last_pos: np.ndarray
    final: np.ndarray
    maximize: bool
    names: list[str]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.values.shape  # type: ignore[return-value]

    @classmethod
    def build(cls, curves: list[StudyCurves], index: np.ndarray, names: list[str]) -> Stack:
        """Stack ``curves[index[b]]`` for every ``b``; ``names`` are the per-study Optuna study names."""
        shapes = [c.values.shape for c in curves]
        n = max(s[0] for s in shapes)
        j = max(s[1] for s in shapes)
        vals = np.full((len(curves), n, j), np.nan)
        pres = np.zeros((len(curves), n, j), dtype=bool)
        steps = np.zeros((len(curves), j), dtype=np.int64)
        last = np.zeros((len(curves), n), dtype=np.int64)
        pad = np.arange(1, j + 1)
        for k, (c, (cn, cj)) in enumerate(zip(curves, shapes, strict=True)):
            vals[k, :cn, :cj] = c.values
            pres[k, :cn, :cj] = c.present
            steps[k, :cj] = c.steps
            steps[k, cj:] = c.steps[-1] + pad[: j - cj]
            last[k, :cn] = c.last_pos
        dirs = {c.direction for c in curves}
        if len(dirs) != 1:
            raise ValueError("a stack holds studies of one direction")
        final = np.take_along_axis(vals, last[:, :, None], axis=2)[:, :, 0]
        final[~pres.any(axis=2)] = np.nan
        return cls(vals[index], pres[index], steps[index], last[index], final[index], dirs.pop() == "maximize",
                   [names[k] for k in index])


def prev_reported_step(st: Stack) -> np.ndarray:
    """``(B, N, J)``: the trial's largest reported step before column ``j`` (-1 if none)."""
    stepped = np.where(st.present, st.steps[:, None, :], -1)
    cm = np.maximum.accumulate(stepped, axis=2)
    return np.concatenate([np.full(cm.shape[:2] + (1,), -1, dtype=cm.dtype), cm[:, :, :-1]], axis=2)


def gate(st: Stack, warmup: np.ndarray, interval: np.ndarray) -> np.ndarray:
    """``(B, N, J)`` warm-up and interval gate of Optuna (``_is_first_in_interval_step``).

    ``warmup``/``interval`` have shape ``(B,)``. The check runs at a reported step
    ``s >= w`` iff the trial's previous reported step is below
    ``L = (s - w) // k * k + w``.
    """
    steps = st.steps
    w = warmup[:, None]
    k = interval[:, None]
    lower = (steps - w) // k * k + w                       # (B, J)
    ok = (steps >= w) & (lower >= 0)
    return st.present & ok[:, None, :] & (prev_reported_step(st) < lower[:, None, :])


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
