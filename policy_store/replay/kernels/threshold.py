"""Batched kernel of ``threshold`` (stateless: every trial is judged on its own values)."""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.curves import StudyCurves
from policy_store.replay.kernels._common import KernelOut, first_true, gate


def run(c: StudyCurves, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
        study_name: str, call: np.ndarray | None = None) -> KernelOut:
    B, N = orders.shape
    out = KernelOut.empty(B, N)
    lo = np.array([-np.inf if p["lower"] is None else p["lower"] for p in params])[:, None, None]
    hi = np.array([np.inf if p["upper"] is None else p["upper"] for p in params])[:, None, None]
    g = gate(c, np.array([p["n_warmup_steps"] for p in params]), np.array([p["interval_steps"] for p in params]))
    if call is not None:
        g = g & call
    x = c.values[None, :, :]
    with np.errstate(invalid="ignore"):
        bad = np.isnan(x) | (x < lo) | (x > hi)
    col = first_true(g & bad)                              # (B, N) by trial index
    out.prune_col[:] = np.take_along_axis(col, orders, axis=1)
    hit = out.prune_col >= 0
    vals = c.values[orders, np.where(hit, out.prune_col, 0)]
    with np.errstate(invalid="ignore"):
        thr = np.where(vals < lo[:, :, 0], lo[:, :, 0], hi[:, :, 0])
    out.threshold[:] = np.where(hit, thr, np.nan)
    return out
