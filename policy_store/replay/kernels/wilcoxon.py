"""Kernel of ``wilcoxon``: one scipy test per decision, as Optuna does.

A signed-rank test per report cannot be vectorised without changing its
numbers (scipy picks exact or asymptotic methods by n, ties and zeros), so this
kernel loops over reports and calls the strategy's decision function
(:func:`policy_store.rules.strategies.wilcoxon.decide`, ``scipy.stats.wilcoxon``
exactly like Optuna's ``WilcoxonPruner``) per report; it is exact but not fast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.replay.kernels._common import KernelOut, Stack
from policy_store.rules.strategies.wilcoxon import decide


def run(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
        call: np.ndarray | None = None) -> KernelOut:
    B, N, _ = st.shape
    out = KernelOut.empty(B, N)
    maximize = st.maximize
    for b in range(B):
        p = params[b]
        vals_b, pres_b, finals = st.values[b], st.present[b], st.final[b]
        fsteps = st.steps[b].astype(np.float64)
        best = -1
        for t in range(N):
            i = orders[b, t]
            cols = np.flatnonzero(pres_b[i])
            calls = pres_b[i] if call is None else call[b, i]
            if best >= 0 and cols.size:
                bcols = np.flatnonzero(pres_b[best])
                b_steps, b_vals = fsteps[bcols], vals_b[best, bcols]
                b_ok = bool(np.all(np.isfinite(b_vals)))
                for n, j in enumerate(cols, start=1):
                    if not calls[j]:
                        continue
                    vals = vals_b[i, cols[:n]]
                    if not np.all(np.isfinite(vals)) or not b_ok:
                        continue
                    prune, pv, _ = decide(fsteps[cols[:n]], vals, b_steps, b_vals, p["p_threshold"],
                                          p["n_startup_steps"], maximize)
                    if prune:
                        out.prune_col[b, t] = j
                        out.threshold[b, t] = pv
                        out.ref_size[b, t] = n
                        break
            done = not (out.prune_col[b, t] >= 0 and not audited[b, t]) and not np.isnan(finals[i])
            if done and (best < 0 or (finals[i] > finals[best] if maximize else finals[i] < finals[best])):
                best = i
    return out
