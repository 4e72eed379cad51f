"""``median``: Optuna's ``MedianPruner`` -- :mod:`.percentile` with ``percentile=50``.

Same gates, reference set and tie rule as ``percentile``; parameters
``n_startup_trials`` (5), ``n_warmup_steps`` (0), ``interval_steps`` (1),
``n_min_trials`` (1).

Examples
--------
>>> from policy_store.rules import RuleSpec
>>> RuleSpec.parse({"strategy": "median"}).params
{'n_startup_trials': 5, 'n_warmup_steps': 0, 'interval_steps': 1, 'n_min_trials': 1}
"""

from __future__ import annotations

from policy_store.rules.strategies.percentile import Median

__all__ = ["Median"]
