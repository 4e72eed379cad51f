"""Compiled loop of the ``median``/``percentile`` kernel (same rules as :mod:`.percentile`).

Each checked report is decided by the strategy's own functions
(:func:`policy_store.rules.strategies.percentile.decide`, its gate and
interpolation), compiled here with the loop.

One replay at a time: per step column, the ascending values of COMPLETE
trials (one insertion per COMPLETE trial), the count of their reports at that
column (NaNs count toward ``n_min_trials``) and numpy's percentile
interpolation from precomputed tables, so every threshold equals
``np.nanpercentile`` bit for bit.

>>> import numpy as np
>>> from policy_store.replay.kernels._common import percentile_tables
>>> v = np.array([[[1.0, 0.9], [1.2, 1.1], [0.5, 0.4]]])          # 1 study, 3 trials, 2 steps
>>> pres = np.ones(v.shape, dtype=bool)
>>> z, one = np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64)
>>> out = [np.full((1, 3), -1), np.full((1, 3), np.nan), np.zeros((1, 3), dtype=np.int64)]
>>> loop(v, pres, np.array([[0, 1]]), v[:, :, -1], z, pres, z, np.array([[0, 1, 2]]), np.zeros((1, 3), dtype=bool),
...      z, one, z, *percentile_tables(np.array([0.5]), 3), one, one, False, *out)
>>> out[0].tolist(), out[1].tolist()
([[-1, 0, -1]], [[nan, 1.0, nan]])
"""

from __future__ import annotations

import numpy as np

from policy_store.replay.kernels._jit import njit
from policy_store.rules.strategies import percentile
from policy_store.rules.strategies._base import passes_gate

# the strategy's own decision functions, compiled (numba inlines them into the loop). numba's disk cache
# checks this file only: after editing one of them in a source checkout, delete this package's __pycache__/*.nbi
_gate = njit(passes_gate)
_lerp = njit(percentile.lerp)
_decide = njit(percentile.decide)


@njit
def loop(vals, pres, steps, final, sidx, call, cidx, orders, audited, warmup, interval, qidx,  # noqa: PLR0913
         prev_t, next_t, gamma_t, n_startup, n_min, maximize, prune_col, threshold, ref_size):  # pragma: no cover
    """Fill ``prune_col``/``threshold``/``ref_size`` ``(B, N)`` by entry position.

    ``vals``/``pres`` ``(S, N, J)``, ``steps`` ``(S, J)`` and ``final`` ``(S, N)``
    are per study, ``sidx[b]`` the study of replay ``b``; ``call[cidx[b]]`` the
    reports at which the pruner is consulted; row ``qidx[b]`` of the tables
    (:func:`._common.percentile_tables`) is replay ``b``'s percentile.
    """
    n_rep, n_pos = orders.shape
    n_col = vals.shape[2]
    srt = np.empty((n_col, n_pos + 1))
    n_valid = np.zeros(n_col, dtype=np.int64)
    n_ref = np.zeros(n_col, dtype=np.int64)
    for b in range(n_rep):
        s = sidx[b]
        c = cidx[b]
        q = qidx[b]
        n_valid[:] = 0
        n_ref[:] = 0
        n_comp = 0
        live_min = max(n_startup[b], 1)
        w = warmup[b]
        k = interval[b]
        for t in range(n_pos):
            i = orders[b, t]
            col = -1
            if n_comp >= live_min:
                best = np.nan
                prev_step = -1
                for j in range(n_col):
                    if not pres[s, i, j]:
                        continue
                    x = vals[s, i, j]
                    if not np.isnan(x) and (np.isnan(best) or (x > best if maximize else x < best)):
                        best = x
                    step = steps[s, j]
                    gated = call[c, i, j] and _gate(step, prev_step, w, k)
                    prev_step = step
                    if not gated:
                        continue
                    nv = n_valid[j]
                    thr = np.nan
                    if nv > 0:
                        lo = srt[j, prev_t[q, nv]]
                        hi = srt[j, next_t[q, nv]]
                        thr = _lerp(lo, hi, gamma_t[q, nv])
                    if _decide(best, thr, n_ref[j], n_min[b], maximize):
                        col = j
                        threshold[b, t] = thr
                        ref_size[b, t] = n_ref[j]
                        break
            prune_col[b, t] = col
            if (col >= 0 and not audited[b, t]) or np.isnan(final[s, i]):
                continue
            n_comp += 1
            for j in range(n_col):
                if not pres[s, i, j]:
                    continue
                n_ref[j] += 1
                x = vals[s, i, j]
                if np.isnan(x):
                    continue
                nv = n_valid[j]
                pos = nv
                while pos > 0 and srt[j, pos - 1] > x:
                    srt[j, pos] = srt[j, pos - 1]
                    pos -= 1
                srt[j, pos] = x
                n_valid[j] = nv + 1
