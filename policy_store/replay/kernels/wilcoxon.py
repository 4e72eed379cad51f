"""Kernel of ``wilcoxon``: one scipy test per decision, as Optuna does.

A signed-rank test per report cannot be vectorised without changing its
numbers (scipy picks exact or asymptotic methods by n, ties and zeros), so this
kernel loops over reports and calls ``scipy.stats.wilcoxon`` exactly like
Optuna's ``WilcoxonPruner``; it is exact but not fast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.replay.kernels._common import KernelOut, Stack


def _decide(steps: np.ndarray, vals: np.ndarray, best_steps: np.ndarray, best_vals: np.ndarray,
            p: dict[str, Any], maximize: bool) -> tuple[bool, float]:
    _, idx1, idx2 = np.intersect1d(steps, best_steps, return_indices=True)
    diff = vals[idx1] - best_vals[idx2]
    if len(diff) < max(2, p["n_startup_steps"]):
        return False, np.nan
    if maximize:
        alt = "less"
        average_is_best = sum(best_vals) / len(best_vals) <= sum(vals) / len(vals)
    else:
        alt = "greater"
        average_is_best = sum(best_vals) / len(best_vals) >= sum(vals) / len(vals)
    from scipy import stats  # here, not at import: scipy.stats costs ~0.5 s that `policy-store cycle` must not pay

    pv = stats.wilcoxon(diff, alternative=alt, zero_method="zsplit").pvalue
    if pv < p["p_threshold"] and average_is_best:
        return False, float(pv)
    return bool(pv < p["p_threshold"]), float(pv)


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
                    prune, pv = _decide(fsteps[cols[:n]], vals, b_steps, b_vals, p, maximize)
                    if prune:
                        out.prune_col[b, t] = j
                        out.threshold[b, t] = pv
                        out.ref_size[b, t] = n
                        break
            done = not (out.prune_col[b, t] >= 0 and not audited[b, t]) and not np.isnan(finals[i])
            if done and (best < 0 or (finals[i] > finals[best] if maximize else finals[i] < finals[best])):
                best = i
    return out
