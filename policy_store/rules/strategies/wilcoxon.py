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

import warnings
from typing import Any

from policy_store.rules.strategies._base import Param, Strategy, import_optuna


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
