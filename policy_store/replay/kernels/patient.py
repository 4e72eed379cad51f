"""Batched kernel of ``patient``: a stateless candidate mask, then the wrapped kernel on it.

Whether a report is a patience candidate
(:func:`policy_store.rules.strategies.patient.stalled`) depends only on the
trial's own values, so it is computed for all trials at once; the wrapped kernel
is then run with ``call`` = the candidate mask (it is consulted only there,
which keeps stateful wrapped rules such as successive halving exact).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.replay.kernels._common import KernelOut, RowParams, Stack, first_true, split_params
from policy_store.rules.strategies.patient import stalled


def candidates(values: np.ndarray, present: np.ndarray, maximize: bool, patience: int,
               min_delta: float) -> np.ndarray:
    """``(S, N, J)``: reports at which Optuna's PatientPruner would consult its wrapped pruner.

    They depend on the trial's own curve only, so they are computed once per
    study (``values``/``present`` ``(S, N, J)``), not once per order.
    """
    b, n, j = values.shape
    k_max = int(present.sum(2).max()) if n else 0
    # compact each trial's reports to the left, in step order
    colc = np.argsort(~present, axis=2, kind="stable")[:, :, :k_max]
    vc = np.take_along_axis(values, colc, axis=2)
    valid = np.take_along_axis(present, colc, axis=2)
    acc = np.fmax if maximize else np.fmin
    w = patience + 1
    before = np.full(vc.shape, np.nan)
    if k_max > w:
        before[:, :, w:] = acc.accumulate(vc, axis=2)[:, :, : k_max - w]
    after = vc.copy()
    for s in range(1, w):
        shifted = np.full_like(vc, np.nan)
        shifted[:, :, s:] = vc[:, :, :-s]
        after = acc(after, shifted)
    ready = np.arange(k_max) >= w                           # more than patience + 1 reports
    with np.errstate(invalid="ignore"):
        cand = stalled(before, after, min_delta, maximize)
    cand &= ready & valid
    out = np.zeros((b, n, j), dtype=bool)
    np.put_along_axis(out, colc, cand, axis=2)
    return out & present


def run(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
        call: np.ndarray | None = None) -> KernelOut:
    from policy_store.replay.kernels import KERNELS
    from policy_store.rules.strategies import get_strategy

    B, N, J = st.shape
    # one spec's rows share its parameters: work per spec and per study, not per row
    members, member = split_params(params)
    keys = [(p["patience"], p["min_delta"]) for p in members]
    cand = np.zeros((B, N, J), dtype=bool)
    for key in set(keys):
        sel = np.isin(member, [m for m, k in enumerate(keys) if k == key])
        cand[sel] = candidates(st.study_values, st.study_present, st.maximize, *key)[st.index[sel]]
    if call is not None:
        cand &= call
    inner = params[0]["wrapped"]
    if inner is None:
        out = KernelOut.empty(B, N)
        out.prune_col[:] = np.take_along_axis(first_true(cand), orders, axis=1)
        return out
    kernel = KERNELS[get_strategy(inner["strategy"]).kernel]
    return kernel(st, orders, RowParams([p["wrapped"]["params"] for p in members], member), audited, cand)
