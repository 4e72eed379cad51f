"""Batched kernel of ``threshold`` (stateless: every trial is judged on its own values, once per study).

The verdict is :func:`policy_store.rules.strategies.threshold.decide` applied to the whole curve matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.replay.kernels._common import KernelOut, Stack, first_true, gate_arrays, split_params
from policy_store.rules.strategies.threshold import decide


def run(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
        call: np.ndarray | None = None) -> KernelOut:
    B, N, _ = st.shape
    out = KernelOut.empty(B, N)
    members, member = split_params(params)
    lo_m = np.array([-np.inf if p["lower"] is None else p["lower"] for p in members])
    hi_m = np.array([np.inf if p["upper"] is None else p["upper"] for p in members])
    x = st.study_values
    col = np.empty((B, N), dtype=np.int64)                # by trial index
    # a verdict depends on the trial's own curve and the spec only: judge each study once per spec
    for m, p in enumerate(members):
        rows = np.flatnonzero(member == m)
        if rows.size == 0:
            continue
        g = gate_arrays(st.study_present, st.study_steps, p["n_warmup_steps"], p["interval_steps"])
        with np.errstate(invalid="ignore"):
            bad = g & decide(x, lo_m[m], hi_m[m])
        col[rows] = (first_true(bad)[st.index[rows]] if call is None
                     else first_true(bad[st.index[rows]] & call[rows]))
    out.prune_col[:] = np.take_along_axis(col, orders, axis=1)
    hit = out.prune_col >= 0
    vals = x[st.index[:, None], orders, np.where(hit, out.prune_col, 0)]
    lo, hi = lo_m[member][:, None], hi_m[member][:, None]
    with np.errstate(invalid="ignore"):
        thr = np.where(vals < lo, lo, hi)
    out.threshold[:] = np.where(hit, thr, np.nan)
    return out
