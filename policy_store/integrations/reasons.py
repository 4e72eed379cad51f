"""Why a live pruner decided what it did: the threshold or statistic, the reference-set size, one line.

The verdict always comes from the rule's own Optuna pruner (``RuleSpec.to_optuna()``);
these functions only *explain* it, from the same study snapshot the pruner read
(:class:`policy_store.integrations.optuna.StorePruner` hands them the trials list
the pruner fetched, so no second read and no race with other workers). Each
mirrors the gate order of its strategy's module docstring in
:mod:`policy_store.rules.strategies` and returns a :class:`Reason`:

- ``median``/``percentile``: threshold = the percentile of COMPLETE trials at the
  step, ref_size = how many reported that step; the compared value is the
  trial's best so far.
- ``threshold``: the bound that was crossed.
- ``successive_halving``/``hyperband``: the rung cutoff and the number of
  competing rung values (hyperband: within the trial's bracket). Reads the
  Optuna pruner's private state (``_min_resource``, brackets) for this only.
- ``wilcoxon``: threshold = ``p_threshold``, ref_size = paired steps; the p-value
  (about 1 ms of scipy) is computed for prune verdicts only.
- ``patient``: the before/after windows, then the wrapped rule's reason.
- ``posterior``: threshold = ``alpha``, the probability of improvement and the
  number of observations.

Examples
--------
>>> import optuna
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study()
>>> for v in (1.0, 2.0, 3.0):
...     t = study.ask(); t.report(v, 0); _ = study.tell(t, v)
>>> t = study.ask(); t.report(2.5, 0)
>>> frozen = study._storage.get_trial(t._trial_id)
>>> r = explain("median", {"n_startup_trials": 1, "n_warmup_steps": 0, "interval_steps": 1, "n_min_trials": 1},
...             study, frozen, True, None, 0)
>>> r.threshold, r.ref_size, r.text
(2.0, 3, 'best 2.5 > p50 2 of 3 COMPLETE trials at step 0')
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Reason:
    """The explanation of one decision."""

    threshold: float | None
    ref_size: int
    text: str


def _g(x: float) -> str:
    return f"{x:.6g}"


def _complete(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def nanpercentile_linear(values: list[float], q: float) -> float:
    """``np.nanpercentile(values, q)`` (linear), bit for bit, at a fraction of its cost on short lists.

    Mirrors numpy's arithmetic: virtual index ``(n - 1) * q / 100`` and the two
    branches of its ``_lerp``.

    >>> nanpercentile_linear([3.0, float("nan"), 1.0, 2.0], 25) == float(np.nanpercentile([3, np.nan, 1, 2], 25))
    True
    """
    vals = sorted(v for v in values if v == v)
    n = len(vals)
    if n == 0:
        return math.nan
    virt = (n - 1) * (q / 100)
    if virt >= n - 1:
        return vals[-1]
    lo = math.floor(virt)
    a, b, g = vals[lo], vals[lo + 1], virt - lo
    diff = b - a
    return b - diff * (1 - g) if g >= 0.5 else a + diff * g


def current_rung(trial: Any) -> int:
    """The successive-halving rung a trial is at (before the pruner writes to it)."""
    rung = 0
    while f"completed_rung_{rung}" in trial.system_attrs:
        rung += 1
    return rung


def _gate(step: int | None, keys: Any, w: int, k: int) -> str | None:
    if step is None:
        return "no value reported yet"
    if step < w:
        return f"warm-up: step {step} < n_warmup_steps={w}"
    lower = (step - w) // k * k + w
    prev = max((s for s in keys if s != step), default=-1)
    if prev >= lower:
        return f"interval: step {step} is not the first report at or after checkpoint {lower}"
    return None


def _percentile(p: dict[str, Any], study: Any, trial: Any, minimize: bool) -> Reason:
    complete = _complete(study)
    n = len(complete)
    if n == 0 or n < p["n_startup_trials"]:
        return Reason(None, 0, f"startup: {n} COMPLETE trials < n_startup_trials={max(p['n_startup_trials'], 1)}")
    step = trial.last_step
    iv = trial.intermediate_values
    gated = _gate(step, iv.keys(), p["n_warmup_steps"], p["interval_steps"])
    if gated:
        return Reason(None, 0, gated)
    values = np.asarray(list(iv.values()), dtype=float)
    if np.isnan(values).all():
        return Reason(None, 0, "every reported value is NaN")
    best = float(np.nanmin(values) if minimize else np.nanmax(values))
    ref = [t.intermediate_values[step] for t in complete if step in t.intermediate_values]
    if len(ref) < p["n_min_trials"]:
        return Reason(None, len(ref), f"{len(ref)} COMPLETE trials reported step {step} < n_min_trials="
                                      f"{p['n_min_trials']}")
    q = p.get("percentile", 50.0)
    thr = nanpercentile_linear(ref, q if minimize else 100 - q)
    if math.isnan(thr):
        return Reason(None, len(ref), f"the {len(ref)} reference values at step {step} are NaN")
    worse = best > thr if minimize else best < thr
    op = (">" if worse else "<=") if minimize else ("<" if worse else ">=")
    return Reason(thr, len(ref), f"best {_g(best)} {op} p{_g(q)} {_g(thr)} of {len(ref)} COMPLETE trials "
                                 f"at step {step}")


def _threshold(p: dict[str, Any], study: Any, trial: Any, minimize: bool) -> Reason:
    step = trial.last_step
    gated = _gate(step, trial.intermediate_values.keys(), p["n_warmup_steps"], p["interval_steps"])
    if gated:
        return Reason(None, 0, gated)
    v = trial.intermediate_values[step]
    lo, hi = p["lower"], p["upper"]
    if math.isnan(v):
        return Reason(None, 0, f"value at step {step} is NaN")
    if lo is not None and v < lo:
        return Reason(lo, 0, f"value {_g(v)} < lower {_g(lo)} at step {step}")
    if hi is not None and v > hi:
        return Reason(hi, 0, f"value {_g(v)} > upper {_g(hi)} at step {step}")
    return Reason(None, 0, f"value {_g(v)} within [{lo}, {hi}] at step {step}")


def _halving(trials: list[Any], trial: Any, minimize: bool, rung: int, min_resource: int | None, eta: int,
             rate: int, bootstrap: int, where: str) -> Reason:
    step = trial.last_step
    if step is None:
        return Reason(None, 0, "no value reported yet")
    if min_resource is None:
        return Reason(None, 0, "min_resource='auto' waits for the first COMPLETE trial")
    v = trial.intermediate_values[step]
    last: Reason | None = None
    while True:
        rung_step = min_resource * eta ** (rate + rung)
        if step < rung_step:
            return last or Reason(None, 0, f"step {step} below rung {rung} at step {rung_step}{where}")
        if math.isnan(v):
            return Reason(None, 0, f"value at step {step} is NaN")
        key = f"completed_rung_{rung}"
        competing = sorted([t.system_attrs[key] for t in trials if key in t.system_attrs and t.number != trial.number]
                           + [v])
        if len(competing) <= bootstrap:
            return Reason(None, len(competing), f"rung {rung}: {len(competing)} values <= bootstrap_count={bootstrap}")
        idx = max(len(competing) // eta - 1, 0)
        cut = competing[idx] if minimize else competing[-idx - 1]
        ok = v <= cut if minimize else v >= cut
        op = ("<=" if ok else ">") if minimize else (">=" if ok else "<")
        last = Reason(cut, len(competing), f"rung {rung} (step {rung_step}){where}: value {_g(v)} {op} cutoff "
                                           f"{_g(cut)} among top 1/{eta} of {len(competing)}")
        if not ok:
            return last
        rung += 1


def _sh_of(pruner: Any, trials: list[Any], trial: Any, minimize: bool, rung: int, where: str = "") -> Reason:
    return _halving(trials, trial, minimize, rung, pruner._min_resource, pruner._reduction_factor,
                    pruner._min_early_stopping_rate, pruner._bootstrap_count, where)


def _hyperband(pruner: Any, study: Any, trial: Any, minimize: bool, rung: int) -> Reason:
    if not pruner._pruners:
        return Reason(None, 0, "hyperband not initialised (waits for the first COMPLETE trial)")
    b = pruner._get_bracket_id(study, trial)
    trials = [t for t in study.get_trials(deepcopy=False) if pruner._get_bracket_id(study, t) == b]
    return _sh_of(pruner._pruners[b], trials, trial, minimize, rung, f" of bracket {b}")


def _wilcoxon(p: dict[str, Any], study: Any, trial: Any, minimize: bool, verdict: bool) -> Reason:
    iv = trial.intermediate_values
    if not iv or not np.isfinite(list(iv.values())).all():
        return Reason(None, 0, "no values, or a non-finite value")
    try:
        best = study.best_trial
    except ValueError:
        return Reason(None, 0, "no COMPLETE trial to compare with")
    common = sorted(set(iv) & set(best.intermediate_values))
    need = max(2, p["n_startup_steps"])
    if len(common) < need:
        return Reason(p["p_threshold"], len(common), f"{len(common)} steps paired with best trial {best.number} "
                                                     f"< {need}")
    if not verdict:
        return Reason(p["p_threshold"], len(common), f"not significantly worse than best trial {best.number} "
                                                     f"over {len(common)} paired steps")
    from scipy import stats

    d = np.array([iv[s] - best.intermediate_values[s] for s in common])
    pv = float(stats.wilcoxon(d, alternative="greater" if minimize else "less", zero_method="zsplit").pvalue)
    return Reason(p["p_threshold"], len(common), f"Wilcoxon p={_g(pv)} < {_g(p['p_threshold'])} against best "
                                                 f"trial {best.number} over {len(common)} paired steps")


def _patient(p: dict[str, Any], study: Any, trial: Any, minimize: bool, verdict: bool, pruner: Any,
             rung: int) -> Reason:
    iv = trial.intermediate_values
    k = p["patience"]
    if len(iv) <= k + 1:
        return Reason(None, 0, f"{len(iv)} reports <= patience + 1 = {k + 1}")
    steps = sorted(iv)
    before = np.array([iv[s] for s in steps[: -k - 1]], dtype=float)
    after = np.array([iv[s] for s in steps[-k - 1:]], dtype=float)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        b, a = (np.nanmin(before), np.nanmin(after)) if minimize else (np.nanmax(before), np.nanmax(after))
    ref = float(b + p["min_delta"] if minimize else b - p["min_delta"])
    stalled = (ref < a) if minimize else (ref > a)
    if not stalled:
        return Reason(None, len(before), f"improved within patience {k}: best after {_g(float(a))}, "
                                         f"best before {_g(float(b))} (min_delta {_g(p['min_delta'])})")
    text = f"no improvement over the last {k + 1} reports ({_g(float(a))} vs {_g(float(b))})"
    inner = p["wrapped"]
    if inner is None:
        return Reason(ref, len(before), text)
    r = explain(inner["strategy"], inner["params"], study, trial, minimize, pruner._wrapped_pruner, rung, verdict)
    return Reason(r.threshold, r.ref_size, f"{text}; {inner['strategy']}: {r.text}")


def _posterior(p: dict[str, Any], study: Any, trial: Any, minimize: bool) -> Reason:
    from policy_store.rules.strategies.posterior import prob_improvement

    step = trial.last_step
    if step is None or step < p["n_warmup_steps"]:
        return Reason(None, 0, f"warm-up: step {step} < n_warmup_steps={p['n_warmup_steps']}")
    x = trial.intermediate_values[step]
    if not math.isfinite(x):
        return Reason(None, 0, f"value at step {step} is not finite")
    complete = sorted(_complete(study), key=lambda t: t.number)
    if len(complete) < p["n_startup_trials"]:
        return Reason(None, 0, f"startup: {len(complete)} COMPLETE trials < n_startup_trials={p['n_startup_trials']}")
    best = complete[0].value
    n, s, q = 0, np.float64(0.0), np.float64(0.0)
    for t in complete:
        best = min(best, t.value) if minimize else max(best, t.value)
        xi = t.intermediate_values.get(step)
        if xi is not None and math.isfinite(xi):
            d = np.float64(t.value) - np.float64(xi)
            n, s, q = n + 1, s + d, q + d * d
    if n < p["min_observations"]:
        return Reason(p["alpha"], n, f"{n} observations at step {step} < min_observations={p['min_observations']}")
    prob = float(prob_improvement(np.array([n]), np.array([s]), np.array([q]), np.array([x]), np.float64(best), p,
                                  "minimize" if minimize else "maximize")[0])
    op = "<" if prob < p["alpha"] else ">="
    return Reason(p["alpha"], n, f"P(ends better than {_g(best)}) = {_g(prob)} {op} alpha {_g(p['alpha'])} "
                                 f"from {n} observations at step {step}")


def _forecast(p: dict[str, Any], study: Any, trial: Any) -> Reason:
    from policy_store.rules.strategies.forecast import decide, optuna_inputs

    prefix, step, state, maximize = optuna_inputs(study, trial)
    if step is None or step < p["n_warmup_steps"]:
        return Reason(None, 0, f"warm-up: step {step} < n_warmup_steps={p['n_warmup_steps']}")
    if state.n_complete < p["n_startup_trials"]:
        return Reason(None, 0, f"startup: {state.n_complete} COMPLETE trials < "
                               f"n_startup_trials={p['n_startup_trials']}")
    prune, prob = decide(prefix, step, state, p, maximize)
    if math.isnan(prob):
        return Reason(None, state.n_complete, f"not forecast at step {step}: a non-finite value, or the budget "
                                              f"({state.n_steps} reports) is reached")
    op = "<" if prune else ">="
    return Reason(p["alpha"], state.n_complete, f"forecast P(final beats {_g(state.incumbent)}) = {_g(prob)} {op} "
                                                f"alpha {_g(p['alpha'])} from {int(np.isfinite(prefix).sum())} of "
                                                f"{state.n_steps} reports")


def explain(strategy: str, params: dict[str, Any], study: Any, trial: Any, minimize: bool, pruner: Any,
            rung: int, verdict: bool = False) -> Reason:
    """The reason of one decision of ``strategy`` (see the module docstring).

    Parameters
    ----------
    strategy, params:
        The spec's strategy and validated parameters.
    study:
        The study (or the snapshot view) the pruner was called with.
    trial:
        The ``FrozenTrial`` the pruner was called with.
    minimize:
        The study's direction.
    pruner:
        The strategy's Optuna pruner (unwrapped from any audit wrapper), after the call.
    rung:
        The trial's successive-halving rung before the call (:func:`current_rung`).
    verdict:
        What the strategy's pruner said (before any audit exemption).
    """
    if strategy in ("median", "percentile"):
        return _percentile(params, study, trial, minimize)
    if strategy == "threshold":
        return _threshold(params, study, trial, minimize)
    if strategy == "successive_halving":
        return _sh_of(pruner, study.get_trials(deepcopy=False), trial, minimize, rung)
    if strategy == "hyperband":
        return _hyperband(pruner, study, trial, minimize, rung)
    if strategy == "wilcoxon":
        return _wilcoxon(params, study, trial, minimize, verdict)
    if strategy == "patient":
        return _patient(params, study, trial, minimize, verdict, pruner, rung)
    if strategy == "posterior":
        return _posterior(params, study, trial, minimize)
    if strategy == "forecast":
        return _forecast(params, study, trial)
    return Reason(None, 0, strategy)
