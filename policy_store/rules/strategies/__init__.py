"""One file per pruning strategy; this module is their registry.

>>> sorted(STRATEGIES)[:3]
['forecast', 'hyperband', 'median']
>>> get_strategy("median").kernel
'percentile'
"""

from __future__ import annotations

from policy_store.errors import InvalidSpecError
from policy_store.rules.strategies._base import Param, Strategy
from policy_store.rules.strategies.forecast import Forecast
from policy_store.rules.strategies.hyperband import Hyperband
from policy_store.rules.strategies.median import Median
from policy_store.rules.strategies.patient import Patient
from policy_store.rules.strategies.percentile import Percentile
from policy_store.rules.strategies.posterior import Posterior
from policy_store.rules.strategies.successive_halving import SuccessiveHalving
from policy_store.rules.strategies.threshold import Threshold
from policy_store.rules.strategies.wilcoxon import Wilcoxon

STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (Median(), Percentile(), Threshold(), Patient(), SuccessiveHalving(), Hyperband(), Wilcoxon(),
              Posterior(), Forecast())
}


def get_strategy(name: object) -> Strategy:
    """The strategy called ``name``; :class:`InvalidSpecError` naming the allowed ones otherwise."""
    if not isinstance(name, str) or name not in STRATEGIES:
        raise InvalidSpecError(f"unknown strategy {name!r}; allowed: {sorted(STRATEGIES)}", field="strategy")
    return STRATEGIES[name]


__all__ = [
    "STRATEGIES",
    "Forecast",
    "Hyperband",
    "Median",
    "Param",
    "Patient",
    "Percentile",
    "Posterior",
    "Strategy",
    "SuccessiveHalving",
    "Threshold",
    "Wilcoxon",
    "get_strategy",
]
