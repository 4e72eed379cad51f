"""Compiled loop of the ``successive_halving`` and ``hyperband`` kernels (same rules as :mod:`.successive_halving`).

One replay at a time. A trial's value at rung ``r`` is its value at its first
consulted report at or after ``rung_step = min_resource * eta ** (rate + r)``
(float64, like the numpy kernel), so once ``min_resource`` and the brackets are
known (from the start, or at the first trial after a COMPLETE one for "auto")
every trial's rung values are tabulated in one pass over its reports and the
candidate values of each (bracket, rung) are sorted once. The rung's history is
then a Fenwick tree over those sorted candidates: counting the values below
``v`` (the promotion test), adding ``v`` and reading the promotion cut-off (the
reason) each cost ``O(log n)``, so a replay of ``n`` trials costs
``O(n log n)`` per rung instead of ``O(n^2)``.

Hyperband (``hyper``) adds Optuna's bracket per trial number
(``crc32(f"{study_name}_{number}") % total_budget``, the crc32 given per study)
and uses the bracket as the successive-halving rate; its brackets exist once
``max_resource`` is known.

>>> import numpy as np
>>> v = np.array([[[0.5, 0.6], [0.4, 0.3], [0.7, 0.8]]])          # 1 study, 3 trials, 2 steps
>>> pres = np.ones(v.shape, dtype=bool)
>>> z, one = np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64)
>>> out = [np.full((1, 3), -1), np.full((1, 3), np.nan), np.zeros((1, 3), dtype=np.int64)]
>>> loop(v, np.array([[1, 2]]), v[:, :, -1], np.array([[1, 1, 1]]), z, pres, z, np.array([[0, 1, 2]]),
...      np.zeros((1, 3), dtype=bool), 2 * one, z, z, one, z, np.zeros((1, 3), dtype=np.int64), True, False, *out)
>>> out[0].tolist(), out[2].tolist()
([[-1, 0, -1]], [[0, 2, 0]])
"""

from __future__ import annotations

import numpy as np

from policy_store.replay.kernels._jit import njit
from policy_store.rules.strategies import hyperband, successive_halving

# the strategies' own decision functions, compiled (numba inlines them into the loop). numba's disk cache
# checks this file only: after editing one of them in a source checkout, delete this package's __pycache__/*.nbi
_rung_step = njit(successive_halving.rung_step)
_auto_min_resource = njit(successive_halving.auto_min_resource)
_promotes = njit(successive_halving.promotes)
_cutoff_index = njit(successive_halving.cutoff_index)
_n_brackets = njit(hyperband.n_brackets)
_bracket_budget = njit(hyperband.bracket_budget)


@njit
def _prefix(tree, base, k):  # pragma: no cover
    """How many values the Fenwick tree at ``tree[base:]`` holds in slots ``< k``."""
    total = 0
    while k > 0:
        total += tree[base + k - 1]
        k -= k & -k
    return total


@njit
def _add(tree, base, size, slot):  # pragma: no cover
    k = slot + 1
    while k <= size:
        tree[base + k - 1] += 1
        k += k & -k


@njit
def _kth(tree, base, size, k):  # pragma: no cover
    """The slot of the ``k``-th (0-based) smallest value held."""
    pos = 0
    step = 1
    while step * 2 <= size:
        step *= 2
    while step > 0:
        nxt = pos + step
        if nxt <= size and tree[base + nxt - 1] <= k:
            pos = nxt
            k -= tree[base + nxt - 1]
        step //= 2
    return pos


@njit
def loop(vals, steps, final, last_pos, sidx, call, cidx, orders, audited,  # noqa: PLR0913, PLR0912, PLR0915
         eta, boot, rate0, min_resource, max_resource, crc, maximize, hyper,
         prune_col, threshold, ref_size):  # pragma: no cover
    """Fill ``prune_col``/``threshold``/``ref_size`` ``(B, N)`` by entry position.

    ``vals`` ``(S, N, J)``, ``steps``/``last_pos`` and ``final`` are per study,
    ``sidx[b]`` the study of replay ``b``, ``call[cidx[b]]`` the reports at
    which the pruner is consulted. Successive halving: ``min_resource[b] < 0``
    is "auto", fixed by the first trial after a COMPLETE one at
    ``max(largest COMPLETE last step // 100, 1)``. Hyperband: ``max_resource[b] < 0``
    is "auto", fixed the same way at ``largest COMPLETE last step + 1``;
    ``crc[s, t]`` is the crc32 of trial number ``t`` in study ``s``.
    """
    n_rep, n_pos = orders.shape
    n_col = vals.shape[2]
    # work arrays sized once for every replay of the batch (allocating per replay dominated small studies)
    r_max = 1
    br_max = 1
    for b in range(n_rep):
        e = float(eta[b])
        top = float(steps[sidx[b], n_col - 1])    # padded columns are never reported; bound only
        while e ** r_max <= top:
            r_max += 1
        if hyper and min_resource[b] > 0:        # "auto" max_resource is at most the last step + 1
            mres = max_resource[b] if max_resource[b] > 0 else int(top) + 1
            br_max = max(br_max, _n_brackets(mres, min_resource[b], eta[b]))
    k_max = br_max * r_max                        # (bracket, rung) keys
    bracket = np.zeros(n_pos, dtype=np.int64)
    rv = np.empty((n_pos, r_max))                 # value and column at each rung, by position
    rc = np.empty((n_pos, r_max), dtype=np.int64)
    slot = np.zeros((n_pos, r_max), dtype=np.int64)
    cand = np.empty(n_pos * r_max)
    tree = np.zeros(n_pos * r_max, dtype=np.int64)
    offs = np.zeros(k_max + 1, dtype=np.int64)
    fill = np.zeros(k_max, dtype=np.int64)
    count = np.zeros(k_max, dtype=np.int64)
    cum = np.zeros(br_max, dtype=np.int64)
    for b in range(n_rep):
        s = sidx[b]
        c = cidx[b]
        e = float(eta[b])
        top = float(steps[s, n_col - 1])
        n_rung = 1
        while e ** n_rung <= top:
            n_rung += 1
        mr = min_resource[b]
        n_br = 1
        ready = mr > 0 and (not hyper or max_resource[b] > 0)
        dead = False
        tabulated = False
        n_comp = 0
        max_last = -1
        bracket[:] = 0
        for t in range(n_pos):
            i = orders[b, t]
            anycall = False
            for j in range(n_col):
                if call[c, i, j]:
                    anycall = True
                    break
            if not ready and anycall and (n_comp > 0 or (hyper and max_resource[b] > 0)):
                ready = True
                if not hyper:
                    mr = _auto_min_resource(max_last)
            if ready and not dead and not tabulated:
                tabulated = True
                # tabulate rung values of the trials from here on, sort each (bracket, rung) once
                if hyper:
                    mres = max_resource[b] if max_resource[b] > 0 else max_last + 1
                    n_br = _n_brackets(mres, mr, eta[b])
                    if n_br <= 0:
                        dead = True
                    else:
                        acc = 0
                        for g in range(n_br):
                            acc += _bracket_budget(n_br, eta[b], g)
                            cum[g] = acc
                        for q in range(t, n_pos):
                            bracket[q] = np.searchsorted(cum[:n_br], crc[s, q] % acc, side="right")
                if not dead:
                    n_key = n_br * n_rung
                    fill[:n_key] = 0
                    for q in range(t, n_pos):
                        iq = orders[b, q]
                        rate = bracket[q] if hyper else rate0[b]
                        r = 0
                        rs = _rung_step(mr, eta[b], rate, r)
                        for j in range(n_col):
                            if not call[c, iq, j]:
                                continue
                            step = float(steps[s, j])
                            while r < n_rung and step >= rs:
                                x = vals[s, iq, j]
                                rv[q, r] = x
                                rc[q, r] = j
                                if not np.isnan(x):
                                    fill[bracket[q] * n_rung + r] += 1
                                r += 1
                                rs = _rung_step(mr, eta[b], rate, r)
                            if r == n_rung:
                                break
                        for rr in range(r, n_rung):
                            rc[q, rr] = -1
                    for k in range(n_key):
                        offs[k + 1] = offs[k] + fill[k]
                        fill[k] = offs[k]
                        count[k] = 0
                    for q in range(t, n_pos):
                        for r in range(n_rung):
                            if rc[q, r] >= 0 and not np.isnan(rv[q, r]):
                                key = bracket[q] * n_rung + r
                                cand[fill[key]] = rv[q, r]
                                fill[key] += 1
                    for k in range(n_key):
                        cand[offs[k]:offs[k + 1]].sort()
                    for q in range(t, n_pos):
                        for r in range(n_rung):
                            if rc[q, r] >= 0 and not np.isnan(rv[q, r]):
                                key = bracket[q] * n_rung + r
                                slot[q, r] = np.searchsorted(cand[offs[key]:offs[key + 1]], rv[q, r])
                    tree[:offs[n_key]] = 0
            col = -1
            if ready and not dead and anycall:
                g = bracket[t]
                for r in range(n_rung):
                    j = rc[t, r]
                    if j < 0:
                        break
                    v = rv[t, r]
                    if np.isnan(v):
                        col = j
                        break
                    key = g * n_rung + r
                    base = offs[key]
                    size = offs[key + 1] - base
                    n_oth = count[key]
                    lt = _prefix(tree, base, slot[t, r])
                    le = _prefix(tree, base, slot[t, r] + 1)
                    beaten = n_oth - le if maximize else lt
                    idx = _cutoff_index(n_oth + 1, eta[b])
                    fail = not _promotes(beaten, n_oth, eta[b], boot[b])
                    if fail:
                        # the promotion cut-off: entry ``at`` of the sorted competing values (history + v)
                        at = n_oth - idx if maximize else idx
                        if at == lt:
                            threshold[b, t] = v
                        else:
                            threshold[b, t] = cand[base + _kth(tree, base, size, at if at < lt else at - 1)]
                        ref_size[b, t] = n_oth + 1
                    _add(tree, base, size, slot[t, r])
                    count[key] = n_oth + 1
                    if fail:
                        col = j
                        break
            prune_col[b, t] = col
            if (col >= 0 and not audited[b, t]) or np.isnan(final[s, i]):
                continue
            n_comp += 1
            max_last = max(max_last, steps[s, last_pos[s, i]])
