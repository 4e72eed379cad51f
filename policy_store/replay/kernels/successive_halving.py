"""Batched kernels of ``successive_halving`` and ``hyperband``.

Successive halving needs, per rung, the multiset of rung values written by all
earlier trials (any state). A trial's whole life is decided at once: rung ``r``
is visited at its first (called) report at or after ``rung_step(r)``, with the
value at that report; the trial is promoted through rungs ``0, 1, ...`` until the
first rung where the value is NaN, ``bootstrap_count`` is not exceeded, or the
value is not promotable. Promotability of ``v`` among the others' values plus
``v``: ``#(others < v) <= idx`` (minimize) / ``#(others > v) <= idx`` (maximize)
with ``idx = max((n_others + 1) // eta - 1, 0)`` -- the same as comparing with
``sorted(competing)[idx]``. Rung values are written for every promoted rung and
the failing one (unless NaN), exactly as Optuna writes them before deciding.

Hyperband adds a bracket axis: each bracket is successive halving with
``min_early_stopping_rate = bracket`` over the trials hashed into it.

Rung steps, "auto" resources, brackets and every promotion come from the
strategies' own functions (:mod:`policy_store.rules.strategies.successive_halving`,
:mod:`policy_store.rules.strategies.hyperband`), elementwise here, compiled in
the loop, per report in the live deciders.

With numba, both run as the compiled loop of :mod:`.successive_halving_jit`;
this numpy version is the reference and the fallback (also while the compiled
loop is being readied, see :mod:`._jit`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.replay.kernels import _jit
from policy_store.replay.kernels._common import KernelOut, Stack, completes, param_column
from policy_store.rules.strategies.hyperband import bracket_budgets, n_brackets, trial_hash
from policy_store.rules.strategies.successive_halving import auto_min_resource, cutoff_index, promotes, rung_step


def _n_rungs(max_step: int, min_resource: int, eta: int, rate: int) -> int:
    r = 0
    while min_resource * eta ** (rate + r) <= max_step:
        r += 1
    return max(r, 1)


def run(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
        call: np.ndarray | None = None, hyperband: bool = False) -> KernelOut:
    if _jit.compiled():
        return run_jit(st, orders, params, audited, call, hyperband)
    return run_numpy(st, orders, params, audited, call, hyperband)


def run_jit(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
            call: np.ndarray | None = None, hyperband: bool = False) -> KernelOut:
    """Successive halving or Hyperband through the compiled loop of :mod:`.successive_halving_jit`."""
    from policy_store.replay.kernels.successive_halving_jit import loop

    B, N, _ = st.shape
    out = KernelOut.empty(B, N)
    ints = {key: param_column(params, lambda p, key=key: p.get(key, 0), np.int64)
            for key in ("reduction_factor", "bootstrap_count", "min_early_stopping_rate")}
    auto = {key: param_column(params, lambda p, key=key: -1 if p.get(key, "auto") == "auto" else p[key], np.int64)
            for key in ("min_resource", "max_resource")}
    if call is None:
        call, cidx = st.study_present, st.index
    else:
        call, cidx = np.ascontiguousarray(call), np.arange(B, dtype=np.int64)
    crc = _crc_table(st.study_names, N if hyperband else 0)
    loop(st.study_values, st.study_steps, st.study_final, st.study_last, st.index, call, cidx,
         np.ascontiguousarray(orders, dtype=np.int64), np.ascontiguousarray(audited), ints["reduction_factor"],
         ints["bootstrap_count"], ints["min_early_stopping_rate"], auto["min_resource"], auto["max_resource"],
         crc, st.maximize, hyperband, out.prune_col, out.threshold, out.ref_size)
    return out


def _crc_table(names: list[str], n: int) -> np.ndarray:
    """``(S, N)``: Optuna's bracket hash ``crc32(f"{study_name}_{trial_number}")`` per study and trial number."""
    return np.array([[trial_hash(name, t) for t in range(n)] for name in names],
                    dtype=np.int64).reshape(len(names), n)


def run_numpy(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
              call: np.ndarray | None = None, hyperband: bool = False) -> KernelOut:
    """The numpy kernel: whole-batch array operations per entering trial."""
    B, N, _ = st.shape
    out = KernelOut.empty(B, N)
    maximize = st.maximize
    steps = st.steps.astype(np.float64)                    # (B, J)
    max_step = int(st.steps.max())
    eta = np.array([p["reduction_factor"] for p in params], dtype=np.int64)
    boot = np.array([p["bootstrap_count"] for p in params], dtype=np.int64)
    if hyperband:
        min_res = np.array([p["min_resource"] for p in params], dtype=np.int64)
        max_res_param = [p["max_resource"] for p in params]
        rate0 = np.zeros(B, dtype=np.int64)
        mr = min_res.copy()
        inited = np.zeros(B, dtype=bool)
        dead = np.zeros(B, dtype=bool)
        bracket_of = np.zeros((B, N), dtype=np.int64)
        fixed_max = np.array([m != "auto" for m in max_res_param])
        crc_of = {name: np.array([trial_hash(name, t) for t in range(N)], dtype=np.int64) for name in set(st.names)}
        # enough brackets for any max_resource this study can produce
        combos = set(zip(max_res_param, min_res.tolist(), eta.tolist(), strict=True))
        G = max(n_brackets(max(max_step + 1, m if m != "auto" else 1, lo), lo, e) for m, lo, e in combos)
        G = max(G, 1)
        R = max(_n_rungs(max_step, lo, e, 0) for _, lo, e in combos)
    else:
        rate0 = np.array([p["min_early_stopping_rate"] for p in params], dtype=np.int64)
        mr = np.array([-1 if p["min_resource"] == "auto" else p["min_resource"] for p in params], dtype=np.int64)
        G = 1
        R = max(_n_rungs(max_step, max(m, 1), e, r0)
                for m, e, r0 in set(zip(mr.tolist(), eta.tolist(), rate0.tolist(), strict=True)))
    store = np.full((B, G, R, N), np.nan)
    count = np.zeros((B, G, R), dtype=np.int64)
    n_comp = np.zeros(B, dtype=np.int64)
    max_last = np.full(B, -1, dtype=np.int64)
    rows = np.arange(B)
    r_idx = np.arange(R)
    why_rung = np.zeros((B, N), dtype=np.int64)
    why_n = np.zeros((B, N), dtype=np.int64)
    why_v = np.full((B, N), np.nan)
    why_g = np.zeros((B, N), dtype=np.int64)
    last_steps = np.take_along_axis(st.steps, st.last_pos, axis=1)     # (B, N)
    calls_all = st.present if call is None else call
    anycall_all = calls_all.any(2)                                       # (B, N) by trial index
    # Per position and rung: the column and value of the trial's first call at or after the rung
    # step. They depend only on the trial's own curve and on (min_resource, rate), so they are
    # tabulated once per replay as soon as those are known, not recomputed per trial.
    reach = np.zeros((B, N, R), dtype=bool)
    rcol = np.zeros((B, N, R), dtype=np.int64)
    rval = np.full((B, N, R), np.nan)

    def tabulate(sel: np.ndarray, rate_bt: np.ndarray) -> None:
        idx_t = orders[sel]                                              # (S, N) trial index by position
        c_sel = calls_all[sel[:, None], idx_t]                           # (S, N, J)
        with np.errstate(over="ignore"):
            rs = rung_step(mr[sel, None, None], eta[sel, None, None], rate_bt[:, :, None], r_idx)   # (S, N, R)
        hits = c_sel[:, :, None, :] & (steps[sel, None, None, :] >= rs[..., None])        # (S, N, R, J)
        reach[sel] = hits.any(3)
        rcol[sel] = hits.argmax(3)
        rval[sel] = st.values[sel[:, None, None], idx_t[:, :, None], rcol[sel]]

    if not hyperband:
        fixed = np.flatnonzero(mr > 0)
        if fixed.size:
            tabulate(fixed, np.broadcast_to(rate0[fixed, None], (fixed.size, N)))
    for t in range(N):
        i = orders[:, t]
        anycall = anycall_all[rows, i]
        if hyperband:
            want = ~inited & anycall & (fixed_max | (n_comp > 0))
            new_rows = np.flatnonzero(want)
            for b in new_rows:
                m = max_res_param[b]
                mres = int(max_last[b]) + 1 if m == "auto" else int(m)
                budgets = bracket_budgets(mres, int(min_res[b]), int(eta[b]))
                inited[b] = True
                if not budgets:
                    dead[b] = True
                    continue
                cum = np.cumsum(budgets)
                bracket_of[b] = np.searchsorted(cum, crc_of[st.names[b]] % cum[-1], side="right")
            live_new = new_rows[~dead[new_rows]]
            if live_new.size:
                tabulate(live_new, bracket_of[live_new])
            active = inited & ~dead & anycall
            g = np.where(active, bracket_of[:, t], 0)
        else:
            newly = (mr < 0) & anycall & (n_comp > 0)
            if newly.any():
                mr = np.where(newly, auto_min_resource(max_last), mr)
                sel = np.flatnonzero(newly)
                tabulate(sel, np.broadcast_to(rate0[sel, None], (sel.size, N)))
            active = (mr > 0) & anycall
            g = np.zeros(B, dtype=np.int64)
        if active.any():
            reached = reach[:, t] & active[:, None]                                       # (B, R)
            col = rcol[:, t]
            v = rval[:, t]
            others = store[:, 0] if G == 1 else store[rows, g]                            # (B, R, N)
            n_oth = count[:, 0].copy() if G == 1 else count[rows, g]     # a copy: the writes below bump count
            with np.errstate(invalid="ignore"):
                beaten = ((others > v[:, :, None]) if maximize else (others < v[:, :, None])).sum(2)
            nan_v = np.isnan(v)
            fail = reached & (nan_v | ~promotes(beaten, n_oth, eta[:, None], boot[:, None]))
            has = fail.any(1)
            rf = np.where(has, fail.argmax(1), R)
            write = reached & ((r_idx[None, :] < rf[:, None]) | ((r_idx[None, :] == rf[:, None]) & ~nan_v))
            bw, rw = np.nonzero(write)
            if bw.size:
                store[bw, g[bw], rw, count[bw, g[bw], rw]] = v[bw, rw]
                count[bw, g[bw], rw] += 1
            pc = np.where(has, col[rows, np.minimum(rf, R - 1)], -1)
            out.prune_col[:, t] = pc
            if has.any():
                # the reason is rebuilt after the loop: a rung's values only ever grow by appending
                rc = np.minimum(rf, R - 1)
                why_rung[:, t] = rc
                why_n[:, t] = n_oth[rows, rc]
                why_v[:, t] = v[rows, rc]
                why_g[:, t] = g
        done = completes(st, i, out.prune_col[:, t] >= 0, audited[:, t])
        n_comp += done
        max_last = np.where(done, np.maximum(max_last, last_steps[rows, i]), max_last)
    _reasons(out, store, why_rung, why_n, why_v, why_g, eta, maximize)
    return out


def _reasons(out: KernelOut, store: np.ndarray, rung: np.ndarray, n_oth: np.ndarray, v: np.ndarray,
             g: np.ndarray, eta: np.ndarray, maximize: bool) -> None:
    """Threshold (the promotion cut-off) and competing-set size of every prune, from the rung history."""
    b, t = np.nonzero((out.prune_col >= 0) & ~np.isnan(v))
    if b.size == 0:
        return
    hist = store[b, g[b, t], rung[b, t]]                                          # (P, N) in append order
    n = n_oth[b, t]
    hist = np.where(np.arange(hist.shape[1])[None, :] < n[:, None], hist, np.nan)
    comp = np.concatenate([hist, v[b, t][:, None]], axis=1)
    comp.sort(axis=1)                                                             # NaN padding last
    k = cutoff_index(n + 1, eta[b])
    at = (n - k) if maximize else k
    out.threshold[b, t] = comp[np.arange(b.size), at]
    out.ref_size[b, t] = n + 1


def run_hyperband(st: Stack, orders: np.ndarray, params: list[dict[str, Any]], audited: np.ndarray,
                  call: np.ndarray | None = None) -> KernelOut:
    """Hyperband: :func:`run` with a bracket axis."""
    return run(st, orders, params, audited, call, hyperband=True)
