"""Batched kernel of ``threshold`` (stateless: every trial is judged on its own values)."""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.replay.kernels._common import KernelOut, Stack, first_true, gate


def run(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
        call: np.ndarray | None = None) -> KernelOut:
    B, N, _ = st.shape
    out = KernelOut.empty(B, N)
    lo = np.array([-np.inf if p["lower"] is None else p["lower"] for p in params])[:, None]
    hi = np.array([np.inf if p["upper"] is None else p["upper"] for p in params])[:, None]
    g = gate(st, np.array([p["n_warmup_steps"] for p in params]), np.array([p["interval_steps"] for p in params]))
    if call is not None:
        g &= call
    x = st.values
    with np.errstate(invalid="ignore"):
        bad = np.isnan(x) | (x < lo[:, :, None]) | (x > hi[:, :, None])
    col = first_true(g & bad)                              # (B, N) by trial index
    out.prune_col[:] = np.take_along_axis(col, orders, axis=1)
    hit = out.prune_col >= 0
    vals = x[np.arange(B)[:, None], orders, np.where(hit, out.prune_col, 0)]
    with np.errstate(invalid="ignore"):
        thr = np.where(vals < lo, lo, hi)
    out.threshold[:] = np.where(hit, thr, np.nan)
    return out
