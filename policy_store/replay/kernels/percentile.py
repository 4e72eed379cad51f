"""Batched kernel of ``median``/``percentile`` (see :mod:`policy_store.rules.strategies.percentile`).

State per replay: for every step column, the sorted values of COMPLETE trials
(``srt``), with counts of non-NaN values and of reports (NaNs count toward
``n_min_trials`` but not the percentile). Per trial, all its decisions are
computed at once over its steps; the state grows by one sorted insertion per
COMPLETE trial.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.replay.kernels._common import (
    KernelOut,
    Stack,
    gate,
    insert_sorted,
    lookup_percentile,
    percentile_tables,
)


def run(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
        call: np.ndarray | None = None) -> KernelOut:
    B, N, J = st.shape
    out = KernelOut.empty(B, N)
    maximize = st.maximize
    pct = [float(p.get("percentile", 50.0)) for p in params]
    q_frac = np.true_divide(np.array([100 - q if maximize else q for q in pct]), 100)
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
                    worse = (b_val < thr) if maximize else (b_val > thr)
                prune = gt & (np.isnan(b_val) | ((n_ref >= n_min) & worse))
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
