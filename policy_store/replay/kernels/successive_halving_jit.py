"""Compiled loop of the ``successive_halving`` kernel (same rules as :mod:`.successive_halving`).

One replay at a time, in Optuna's own order of events: each consulted report
visits the trial's current rung and, while promoted, the next ones its step
reaches (``rung_step = min_resource * eta ** (rate + r)``, in float64 like the
numpy kernel); every visit with a non-NaN value adds it to the rung's values
before deciding, which is all the state there is (kept sorted, so the reason's
cut-off is a lookup).

>>> import numpy as np
>>> v = np.array([[[0.5, 0.6], [0.4, 0.3], [0.7, 0.8]]])          # 1 study, 3 trials, 2 steps
>>> pres = np.ones(v.shape, dtype=bool)
>>> z, one = np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64)
>>> out = [np.full((1, 3), -1), np.full((1, 3), np.nan), np.zeros((1, 3), dtype=np.int64)]
>>> loop(v, np.array([[1, 2]]), v[:, :, -1], np.array([[1, 1, 1]]), z, pres, z, np.array([[0, 1, 2]]),
...      np.zeros((1, 3), dtype=bool), 2 * one, z, z, one, True, *out)
>>> out[0].tolist(), out[2].tolist()
([[-1, 0, -1]], [[0, 2, 0]])
"""

from __future__ import annotations

import numpy as np

from policy_store.replay.kernels._jit import njit


@njit
def loop(vals, steps, final, last_pos, sidx, call, cidx, orders, audited,  # noqa: PLR0913
         eta, boot, rate0, min_resource, maximize, prune_col, threshold, ref_size):  # pragma: no cover
    """Fill ``prune_col``/``threshold``/``ref_size`` ``(B, N)`` by entry position.

    ``vals`` ``(S, N, J)``, ``steps``/``last_pos`` and ``final`` are per study,
    ``sidx[b]`` the study of replay ``b``, ``call[cidx[b]]`` the reports at
    which the pruner is consulted. ``min_resource[b] < 0`` is "auto": the first
    consulted report after a COMPLETE trial fixes it at
    ``max(largest COMPLETE last step // 100, 1)``.
    """
    n_rep, n_pos = orders.shape
    n_col = vals.shape[2]
    for b in range(n_rep):
        s = sidx[b]
        c = cidx[b]
        e = float(eta[b])
        rate = rate0[b]
        mr = min_resource[b]
        top = float(steps[s, n_col - 1])           # padded columns are never reported; bound only
        n_rung = 1
        while e ** (rate + n_rung) <= top:
            n_rung += 1
        rung_step = np.empty(n_rung + 1)
        if mr > 0:
            for r in range(n_rung + 1):
                rung_step[r] = float(mr) * e ** (rate + r)
        store = np.empty((n_rung + 1, n_pos))      # each rung's values so far, ascending
        count = np.zeros(n_rung + 1, dtype=np.int64)
        n_comp = 0
        max_last = -1
        for t in range(n_pos):
            i = orders[b, t]
            col = -1
            r = 0
            for j in range(n_col):
                if not call[c, i, j]:
                    continue
                if mr < 0:
                    if n_comp == 0:
                        continue
                    mr = max(max_last // 100, 1)
                    for q in range(n_rung + 1):
                        rung_step[q] = float(mr) * e ** (rate + q)
                step = float(steps[s, j])
                v = vals[s, i, j]
                while step >= rung_step[r]:
                    if np.isnan(v):
                        col = j
                        break
                    n_oth = count[r]
                    lt = 0
                    le = 0
                    for o in range(n_oth):
                        x = store[r, o]
                        lt += x < v
                        le += x <= v
                    beaten = n_oth - le if maximize else lt
                    idx = max((n_oth + 1) // eta[b] - 1, 0)
                    fail = n_oth + 1 <= boot[b] or beaten > idx
                    if fail:
                        # the promotion cut-off: entry ``at`` of the sorted competing values (history + v)
                        at = n_oth - idx if maximize else idx
                        threshold[b, t] = store[r, at] if at < lt else (v if at == lt else store[r, at - 1])
                        ref_size[b, t] = n_oth + 1
                    for o in range(n_oth, le, -1):
                        store[r, o] = store[r, o - 1]
                    store[r, le] = v
                    count[r] = n_oth + 1
                    if fail:
                        col = j
                        break
                    r += 1
                if col >= 0:
                    break
            prune_col[b, t] = col
            if (col >= 0 and not audited[b, t]) or np.isnan(final[s, i]):
                continue
            n_comp += 1
            max_last = max(max_last, steps[s, last_pos[s, i]])
