"""Batched kernel of ``patient``: a stateless candidate mask, then the wrapped kernel on it.

Whether a report is a patience candidate depends only on the trial's own
values, so it is computed for all trials at once; the wrapped kernel is then run
with ``call`` = the candidate mask (it is consulted only there, which keeps
stateful wrapped rules such as successive halving exact).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.curves import StudyCurves
from policy_store.replay.kernels._common import KernelOut, first_true


def candidates(c: StudyCurves, patience: int, min_delta: float) -> np.ndarray:
    """``(N, J)``: reports at which Optuna's PatientPruner would consult its wrapped pruner."""
    n, j = c.values.shape
    k_max = int(c.present.sum(1).max()) if n else 0
    # compact each trial's reports to the left, in step order
    order = np.argsort(~c.present, axis=1, kind="stable")
    colc = order[:, :k_max]
    vc = np.take_along_axis(np.where(c.present, c.values, np.nan), colc, axis=1)
    valid = np.take_along_axis(c.present, colc, axis=1)
    maximize = c.direction == "maximize"
    acc = np.fmax if maximize else np.fmin
    w = patience + 1
    before = np.full((n, k_max), np.nan)
    if k_max > w:
        before[:, w:] = acc.accumulate(vc, axis=1)[:, : k_max - w]
    after = vc.copy()
    for s in range(1, w):
        shifted = np.full_like(vc, np.nan)
        shifted[:, s:] = vc[:, :-s]
        after = acc(after, shifted)
    ready = np.arange(k_max)[None, :] >= w                 # more than patience + 1 reports
    with np.errstate(invalid="ignore"):
        cand = (before - min_delta > after) if maximize else (before + min_delta < after)
    cand &= ready & valid
    out = np.zeros((n, j), dtype=bool)
    np.put_along_axis(out, colc, cand, axis=1)
    return out & c.present


def run(c: StudyCurves, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
        study_name: str, call: np.ndarray | None = None) -> KernelOut:
    from policy_store.replay.kernels import KERNELS
    from policy_store.rules.strategies import get_strategy

    B, N = orders.shape
    cache: dict[tuple[int, float], np.ndarray] = {}
    masks = []
    for p in params:
        key = (p["patience"], p["min_delta"])
        if key not in cache:
            cache[key] = candidates(c, *key)
        masks.append(cache[key])
    cand = np.stack(masks)                                 # (B, N, J) by trial index
    if call is not None:
        cand = cand & call
    inner = params[0]["wrapped"]
    if inner is None:
        out = KernelOut.empty(B, N)
        out.prune_col[:] = np.take_along_axis(first_true(cand), orders, axis=1)
        return out
    kernel = KERNELS[get_strategy(inner["strategy"]).kernel]
    return kernel(c, orders, [p["wrapped"]["params"] for p in params], audited, study_name, cand)
