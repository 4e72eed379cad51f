"""Batched kernel of ``median``/``percentile`` (see :mod:`policy_store.rules.strategies.percentile`).

State per replay: for every step column, the sorted values of COMPLETE trials
(``srt``), with counts of non-NaN values and of reports (NaNs count toward
``n_min_trials`` but not the percentile). Per trial, all its decisions are
computed at once over its steps; the state grows by one sorted insertion per
COMPLETE trial. Verdicts come from the strategy's decision function
(:func:`policy_store.rules.strategies.percentile.decide`), elementwise. With
numba, :mod:`.percentile_jit` runs the same rules as one compiled loop; this
numpy version is the reference and the fallback.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.replay.kernels import _jit
from policy_store.replay.kernels._common import (
    KernelOut,
    Stack,
    gate,
    insert_sorted,
    lookup_percentile,
    param_column,
    param_distinct,
    percentile_tables,
)
from policy_store.rules.strategies.percentile import decide


def run(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
        call: np.ndarray | None = None) -> KernelOut:
    if _jit.compiled():
        return run_jit(st, orders, params, audited, call)
    return run_numpy(st, orders, params, audited, call)


def _q_frac(params: list[dict[str, Any]], maximize: bool) -> np.ndarray:
    pct = [float(p.get("percentile", 50.0)) for p in params]
    return np.true_divide(np.array([100 - q if maximize else q for q in pct]), 100)


def run_jit(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
            call: np.ndarray | None = None) -> KernelOut:
    """The compiled loop of :mod:`.percentile_jit` over the per-study arrays."""
    from policy_store.replay.kernels.percentile_jit import loop

    B, N, _ = st.shape
    out = KernelOut.empty(B, N)
    ints = [param_column(params, lambda p, key=key: p[key], np.int64)
            for key in ("n_warmup_steps", "interval_steps", "n_startup_trials", "n_min_trials")]
    pct, qidx = param_distinct(params, lambda p: float(p.get("percentile", 50.0)))
    tables = percentile_tables(np.true_divide(100 - pct if st.maximize else pct, 100), N)   # one row per spec
    if call is None:
        call, cidx = st.study_present, st.index
    else:
        call, cidx = np.ascontiguousarray(call), np.arange(B, dtype=np.int64)
    loop(st.study_values, st.study_present, st.study_steps, st.study_final, st.index, call, cidx,
         np.ascontiguousarray(orders, dtype=np.int64), np.ascontiguousarray(audited), *ints[:2], qidx, *tables,
         *ints[2:], st.maximize, out.prune_col, out.threshold, out.ref_size)
    return out


def run_numpy(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
              call: np.ndarray | None = None) -> KernelOut:
    """The numpy kernel: whole-batch array operations per entering trial."""
    B, N, J = st.shape
    out = KernelOut.empty(B, N)
    maximize = st.maximize
    q_frac = _q_frac(params, maximize)
    n_startup = np.array([p["n_startup_trials"] for p in params])
    n_min = np.array([p["n_min_trials"] for p in params])[:, None]
    g = gate(st, np.array([p["n_warmup_steps"] for p in params]), np.array([p["interval_steps"] for p in params]))
    if call is not None:
        g &= call
    acc = np.fmax if maximize else np.fmin
    rows = np.arange(B)
    # everything about the trial entering at position t, gathered once in position order
    by_pos = (rows[:, None], orders)
    g_pos = g[by_pos]                                      # (B, N, J)
    best_pos = acc.accumulate(st.values, axis=2)[by_pos]   # NaN only while every value so far is NaN
    x_pos = st.values[by_pos]
    p_pos = st.present[by_pos]
    ok_pos = p_pos & ~np.isnan(x_pos)
    x0_pos = np.where(ok_pos, x_pos, 0.0)
    fin_nan = np.isnan(st.final[by_pos])                   # (B, N)
    tables = percentile_tables(q_frac, N)
    srt = np.full((B, J, N + 1), np.nan)                  # last slot: scratch for insert_sorted
    n_valid = np.zeros((B, J), dtype=np.int64)
    n_ref = np.zeros((B, J), dtype=np.int64)
    n_comp = np.zeros(B, dtype=np.int64)
    live_min = np.maximum(n_startup, 1)
    for t in range(N):
        live = n_comp >= live_min
        if live.any():
            gt = g_pos[:, t] & live[:, None]
            if gt.any():
                b_val = best_pos[:, t]
                thr = lookup_percentile(srt, n_valid, tables)
                with np.errstate(invalid="ignore"):
                    prune = gt & decide(b_val, thr, n_ref, n_min, maximize)
                hit = prune.any(1)
                if hit.any():
                    col = np.where(hit, prune.argmax(1), -1)
                    out.prune_col[:, t] = col
                    cc = np.where(hit, col, 0)
                    out.threshold[:, t] = np.where(hit, thr[rows, cc], np.nan)
                    out.ref_size[:, t] = np.where(hit, n_ref[rows, cc], 0)
        done = ~((out.prune_col[:, t] >= 0) & ~audited[:, t]) & ~fin_nan[:, t]
        if done.any():
            pres = p_pos[:, t] & done[:, None]
            ok = ok_pos[:, t] & done[:, None]
            insert_sorted(srt, t, x0_pos[:, t], ok)
            n_valid += ok
            n_ref += pres
            n_comp += done
    return out
