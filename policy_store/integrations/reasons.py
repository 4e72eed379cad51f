"""Reasons of the strategies still decided by their Optuna pruner (Wilcoxon, posterior), re-derived after
the verdict from the same study snapshot. Being replaced, strategy by strategy, by the live deciders of
:mod:`policy_store.integrations.deciders`, which return the reason with the verdict.

- ``wilcoxon``: threshold = ``p_threshold``, ref_size = paired steps; the p-value
  (about 1 ms of scipy) is computed for prune verdicts only.
- ``posterior``: threshold = ``alpha``, the probability of improvement and the
  number of observations.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from policy_store.integrations.deciders._base import Reason


def _g(x: float) -> str:
    return f"{x:.6g}"


def _complete(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


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
    if strategy == "wilcoxon":
        return _wilcoxon(params, study, trial, minimize, verdict)
    if strategy == "posterior":
        return _posterior(params, study, trial, minimize)
    return Reason(None, 0, strategy)
