"""``posterior``: Bayesian probability of improvement with a conjugate model.

For each step ``s``, the change ``d = final - value_at_s`` of earlier COMPLETE
trials of the same study (those that reported a finite value at exactly ``s``)
is modelled as Normal with unknown mean and variance under a
Normal-Inverse-Gamma prior ``NIG(prior_mean, prior_kappa, prior_alpha,
prior_beta)``; ``prior_mean`` is in metric units of "final minus current" (a
meta-learner sets these -- they are the "priors" the product recommends). The
posterior predictive of ``d`` is Student-t with ``2 alpha_n`` degrees of freedom,
location ``mu_n`` and scale ``sqrt(beta_n (kappa_n + 1) / (alpha_n kappa_n))``.

At each report with value ``x`` (at the trial's largest step): the incumbent is
the best final value among COMPLETE trials; ``P = P(x + d < incumbent)``
(minimize) or ``P(x + d > incumbent)`` (maximize). Prune iff ``P < alpha``.
Never prune when there are fewer than ``n_startup_trials`` COMPLETE trials (at
least 1: an incumbent is needed), before ``n_warmup_steps``, when ``x`` is not
finite, or with fewer than ``min_observations`` observations at this step. With
``min_observations=0`` a good prior prunes from the second trial on.

Sums are accumulated in trial-number order so the replay kernel and the live
pruner (:func:`to_optuna`) agree bit for bit. Because ``prior_mean`` is signed,
a posterior spec should declare the ``direction`` its prior was fitted for.

Examples
--------
>>> import numpy as np
>>> p = prob_improvement(np.array([0]), np.array([0.0]), np.array([0.0]), np.array([0.9]), 0.4,
...                      dict(prior_mean=0.0, prior_kappa=1.0, prior_alpha=2.0, prior_beta=0.01), "minimize")
>>> bool(p[0] < 0.05)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policy_store.distributions import student_t_cdf
from policy_store.rules.strategies._base import Param, Strategy

#: Where ``P`` is this close to ``alpha``, the decision takes SciPy's ``stdtr`` (imported then): the numpy
#: CDF (:func:`policy_store.distributions.student_t_cdf`, 2 to 100 whole degrees of freedom; SciPy's own
#: for the others) and SciPy's differ by at most 2e-15, so every decision is SciPy's.
SCIPY_BAND = 1e-9


def predictive_t(n: np.ndarray, s: np.ndarray, q: np.ndarray, x: np.ndarray, best: Any,
                 prior: dict[str, float], direction: str) -> tuple[np.ndarray, np.ndarray]:
    """Degrees of freedom and standardised margin ``(df, t)`` of the posterior predictive: ``P = F_df(t)``.

    ``n``, ``s``, ``q`` are the count, sum and sum of squares of observed
    ``final - value`` changes at the step; all arrays broadcast elementwise.
    """
    mu0, k0 = prior["prior_mean"], prior["prior_kappa"]
    a0, b0 = prior["prior_alpha"], prior["prior_beta"]
    n = np.asarray(n, dtype=float)
    nn = np.maximum(n, 1.0)
    dbar = s / nn
    ss = np.maximum(q - n * dbar * dbar, 0.0)
    kn = k0 + n
    mun = (k0 * mu0 + s) / kn
    an = a0 + n / 2.0
    bn = b0 + 0.5 * ss + k0 * n * (dbar - mu0) ** 2 / (2.0 * kn)
    scale = np.sqrt(bn * (kn + 1.0) / (an * kn))
    z = (best - x - mun) / scale
    return 2.0 * an, z if direction == "minimize" else -z


def prob_improvement(n: np.ndarray, s: np.ndarray, q: np.ndarray, x: np.ndarray, best: Any,
                     prior: dict[str, float], direction: str) -> np.ndarray:
    """Posterior predictive probability that a trial at ``x`` ends better than ``best`` (see :func:`predictive_t`)."""
    return student_t_cdf(*predictive_t(n, s, q, x, best, prior, direction))


def decide(n: Any, s: Any, q: Any, x: Any, best: Any, params: dict[str, Any], maximize: bool) -> tuple[Any, Any]:
    """``(prune, P)`` at a report past the gates: enough observations and ``P`` below ``alpha``.

    ``n, s, q`` are the observations at the step (see :func:`prob_improvement`),
    ``x`` the trial's value there, ``best`` the incumbent; ``params`` the spec's
    (its values may be arrays: the replay kernel decides a whole batch at once,
    the live decider one report). Within :data:`SCIPY_BAND` of ``alpha``, ``P`` is SciPy's.

    >>> p = dict(alpha=0.05, prior_mean=0.0, prior_kappa=1.0, prior_alpha=2.0, prior_beta=0.01, min_observations=0)
    >>> prune, prob = decide(np.array([0]), np.array([0.0]), np.array([0.0]), np.array([0.9]), 0.4, p, False)
    >>> bool(prune[0]), bool(prob[0] < 0.05)
    (True, True)
    """
    df, t = predictive_t(n, s, q, x, best, params, "maximize" if maximize else "minimize")
    prob = student_t_cdf(df, t)
    near = np.abs(prob - params["alpha"]) <= SCIPY_BAND
    if near.any():
        from scipy import special  # here: a decision this close to alpha is SciPy's

        prob = np.where(near, special.stdtr(df, t), prob)
    return (n >= params["min_observations"]) & (prob < params["alpha"]), prob


class Posterior(Strategy):
    """Probability-of-improvement pruning with a settable conjugate prior."""

    name = "posterior"
    kernel = "posterior"
    optuna_backed = False
    params = (
        Param("alpha", "float", 0.05, low=0.0, high=1.0, low_open=True, high_open=True),
        Param("prior_mean", "float", 0.0),
        Param("prior_kappa", "float", 1.0, low=0.0, low_open=True),
        Param("prior_alpha", "float", 2.0, low=0.0, low_open=True),
        Param("prior_beta", "float", 0.01, low=0.0, low_open=True),
        Param("n_startup_trials", "int", 1, low=1),
        Param("n_warmup_steps", "int", 0, low=0),
        Param("min_observations", "int", 0, low=0),
    )

    def to_optuna(self, params: dict[str, Any]) -> Any:
        from policy_store.rules._optuna import PosteriorPruner

        return PosteriorPruner(params)

    def to_ray_tune(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "scheduler": "FIFOScheduler",
            "kwargs": {},
            "differences": [
                "Ray Tune has no probability-of-improvement scheduler; wrap this rule in a custom "
                "TrialScheduler (on_trial_result returning STOP) to reproduce it.",
            ],
        }
