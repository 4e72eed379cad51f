"""Batched kernel of ``posterior`` (see :mod:`policy_store.rules.strategies.posterior`).

State per replay: per step column the count, sum and sum of squares of
``final - value`` over COMPLETE trials (accumulated in trial-number order, like
the live pruner), the number of COMPLETE trials and the incumbent; each report
past the gates is decided by :func:`policy_store.rules.strategies.posterior.decide`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.replay.kernels._common import KernelOut, Stack, completes
from policy_store.rules.strategies.posterior import decide

_PRIOR = ("prior_mean", "prior_kappa", "prior_alpha", "prior_beta")


def run(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
        call: np.ndarray | None = None) -> KernelOut:
    B, N, J = st.shape
    out = KernelOut.empty(B, N)
    maximize = st.maximize
    prior = {k: np.array([p[k] for p in params], dtype=float)[:, None] for k in _PRIOR}
    n_startup = np.array([p["n_startup_trials"] for p in params])
    warm = st.steps >= np.array([p["n_warmup_steps"] for p in params])[:, None]
    rule = {**prior, **{k: np.array([p[k] for p in params])[:, None] for k in ("alpha", "min_observations")}}
    cnt = np.zeros((B, J), dtype=np.int64)
    s = np.zeros((B, J))
    q = np.zeros((B, J))
    n_comp = np.zeros(B, dtype=np.int64)
    best = np.full(B, np.nan)
    rows = np.arange(B)
    for t in range(N):
        i = orders[:, t]
        x = st.values[rows, i]
        calls = st.present[rows, i] if call is None else call[rows, i]
        g = calls & warm & np.isfinite(x) & (n_comp >= n_startup)[:, None]
        if g.any():
            with np.errstate(invalid="ignore", divide="ignore"):
                prune, prob = decide(cnt, s, q, x, best[:, None], rule, maximize)
            prune &= g
            col = np.where(prune.any(1), prune.argmax(1), -1)
            out.prune_col[:, t] = col
            cc = np.maximum(col, 0)
            out.threshold[:, t] = np.where(col >= 0, prob[rows, cc], np.nan)
            out.ref_size[:, t] = np.where(col >= 0, cnt[rows, cc], 0)
        done = completes(st, i, out.prune_col[:, t] >= 0, audited[:, t])
        if done.any():
            f = st.final[rows, i]
            ok = done[:, None] & st.present[rows, i] & np.isfinite(x)
            d = np.where(ok, f[:, None] - x, 0.0)
            cnt += ok
            s = np.where(ok, s + d, s)
            q = np.where(ok, q + d * d, q)
            first = done & (n_comp == 0)
            better = (f > best) if maximize else (f < best)
            best = np.where(first | (done & better), f, best)
            n_comp += done
    return out
