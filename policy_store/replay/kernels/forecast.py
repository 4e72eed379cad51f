"""Batched kernel of ``forecast`` (see :mod:`policy_store.rules.strategies.forecast`).

State per replay: the number of COMPLETE trials, the incumbent and the budget
(the most finite reports of a COMPLETE trial) and the COMPLETE trials in the order
they completed (the context), updated in trial-number order like the live decider.
At each trial the reports :func:`~policy_store.rules.strategies.forecast.gate`
lets through have their prefix (finite values so far, left-packed) forecast in one
batch per replay with its COMPLETE trials' curves as context,
through the same :func:`~policy_store.rules.strategies.forecast.forecast_prob`
the live decider's :func:`~policy_store.rules.strategies.forecast.decide` calls.
With ``calibrated_only`` the gate also counts the COMPLETE curves that reach the
budget (:attr:`~policy_store.rules.strategies.forecast.StudyState.n_calibrating`, recounted at each
completion as the budget may grow). A rule made with another forecaster model is refused
(:func:`~policy_store.rules.strategies.forecast.check_model`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.replay.kernels._common import KernelOut, Stack, completes, first_true, param_distinct
from policy_store.rules.strategies.forecast import LOOK, check_model, context_curves, forecast_prob, gate


def run(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
        call: np.ndarray | None = None) -> KernelOut:
    from policy_store.meta.forecast.calibration import reaches_budget

    for model in param_distinct(params, lambda p: p["model"], object)[0]:
        check_model({"model": model})
    B, N, J = st.shape
    out = KernelOut.empty(B, N)
    maximize = st.maximize
    alpha = np.array([p["alpha"] for p in params])[:, None]
    n_startup = np.array([p["n_startup_trials"] for p in params])
    calibrated_only = np.array([p["calibrated_only"] for p in params])[:, None]
    n_warmup = np.array([p["n_warmup_steps"] for p in params])[:, None]
    n_comp = np.zeros(B, dtype=np.int64)
    budget = np.zeros(B, dtype=np.int64)
    n_cal = np.zeros(B, dtype=np.int64)   # COMPLETE curves that reach the budget (the forecaster calibrates on them)
    best = np.full(B, np.nan)
    rows = np.arange(B)
    cols = np.arange(J)
    # every trial's finite reports left-packed in step order, NaN after them: the context rows of COMPLETE trials
    curves = context_curves(st.values, st.present)
    complete: list[list[int]] = [[] for _ in range(B)]
    for t in range(N):
        i = orders[:, t]
        x = st.values[rows, i]
        present = st.present[rows, i]
        calls = present if call is None else call[rows, i]
        finite = present & np.isfinite(x)
        seen = np.cumsum(finite, axis=1)
        g = calls & (gate(st.steps, np.isfinite(x), seen, n_comp[:, None], budget[:, None], n_warmup,
                          n_startup[:, None], n_cal[:, None], calibrated_only) == LOOK)
        if g.any():
            # each replay's finite values left-packed in step order: row b's prefix at column j is packed[b, :seen]
            packed = np.take_along_axis(x, np.argsort(~finite, axis=1, kind="stable"), axis=1)
            bb, jj = np.nonzero(g)
            k = seen[bb, jj]
            prefix = np.where(cols[None, :] < k[:, None], packed[bb], np.nan)
            prob = np.full((B, J), np.nan)
            for b in np.unique(bb):
                sel = bb == b
                width = int(k[sel].max())
                prob[b, jj[sel]] = forecast_prob(prefix[sel, :width], k[sel], int(budget[b]), best[bb[sel]],
                                                 maximize, curves[b, complete[b]])
            col = first_true(g & (prob < alpha))
            out.prune_col[:, t] = col
            cc = np.maximum(col, 0)
            out.threshold[:, t] = np.where(col >= 0, prob[rows, cc], np.nan)
            out.ref_size[:, t] = np.where(col >= 0, n_comp, 0)
        done = completes(st, i, out.prune_col[:, t] >= 0, audited[:, t])
        if done.any():
            f = st.final[rows, i]
            better = (f > best) if maximize else (f < best)
            best = np.where(done & ((n_comp == 0) | better), f, best)
            budget = np.where(done, np.maximum(budget, finite.sum(axis=1)), budget)
            n_comp += done
            for b in np.flatnonzero(done):
                complete[b].append(int(i[b]))
                n_cal[b] = int(reaches_budget(curves[b, complete[b]], int(budget[b])).sum())
    return out
