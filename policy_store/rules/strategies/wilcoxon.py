"""``wilcoxon``: Optuna's ``WilcoxonPruner``.

At each report: no values, or any non-finite value of this trial -> do not prune.
Compare with ``study.best_trial`` (the first COMPLETE trial with the strictly best
value) on the steps both reported (``np.intersect1d``); fewer than
``max(2, n_startup_steps)`` pairs -> do not prune; the best trial having any
non-finite value -> do not prune. ``p`` = ``scipy.stats.wilcoxon(current - best,
alternative="greater"`` (minimize) / ``"less"`` (maximize), ``zero_method="zsplit")``.
If the current trial's mean is at least as good as the best trial's mean, do not
prune; otherwise prune iff ``p < p_threshold``. Decisions depend on scipy's
version (its ``method="auto"`` changes with n, ties and zeros): outcomes record it.

Examples
--------
>>> from policy_store.rules import RuleSpec
>>> RuleSpec.parse({"strategy": "wilcoxon"}).params
{'p_threshold': 0.1, 'n_startup_steps': 2}
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from policy_store.rules.strategies._base import Param, Strategy, import_optuna


def decide(steps: np.ndarray, vals: np.ndarray, best_steps: np.ndarray, best_vals: np.ndarray, p_threshold: float,
           n_startup_steps: int, maximize: bool) -> tuple[bool, float, int]:
    """``(prune, p, pairs)`` for a trial's finite values against the best trial's, on their common steps.

    The one decision function of the strategy (scipy's test is not vectorised or
    compiled, so the replay kernel calls it per report too); ``p`` is NaN when
    there are fewer than ``max(2, n_startup_steps)`` pairs.

    >>> s = np.arange(6.0)
    >>> prune, p, pairs = decide(s, s + 1.0, s, s, 0.1, 2, False)
    >>> prune, round(p, 4), pairs
    (True, 0.0156, 6)
    """
    _, idx1, idx2 = np.intersect1d(steps, best_steps, return_indices=True)
    diff = vals[idx1] - best_vals[idx2]
    if len(diff) < max(2, n_startup_steps):
        return False, math.nan, len(diff)
    if maximize:
        alt = "less"
        average_is_best = sum(best_vals) / len(best_vals) <= sum(vals) / len(vals)
    else:
        alt = "greater"
        average_is_best = sum(best_vals) / len(best_vals) >= sum(vals) / len(vals)
    from scipy import stats  # here, not at import: scipy.stats costs ~0.5 s that `policy-store cycle` must not pay

    pv = float(stats.wilcoxon(diff, alternative=alt, zero_method="zsplit").pvalue)
    return bool(pv < p_threshold and not average_is_best), pv, len(diff)


class Wilcoxon(Strategy):
    """Paired signed-rank test against the best trial (see the module docstring)."""

    name = "wilcoxon"
    kernel = "wilcoxon"
    params = (
        Param("p_threshold", "float", 0.1, low=0.0, high=1.0),
        Param("n_startup_steps", "int", 2, low=0),
    )

    def to_optuna(self, params: dict[str, Any]) -> Any:
        optuna = import_optuna()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.WilcoxonPruner(**params)

    def to_ray_tune(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "scheduler": "FIFOScheduler",
            "kwargs": {},
            "differences": ["Ray Tune has no paired-test scheduler; nothing is pruned by FIFOScheduler."],
        }
