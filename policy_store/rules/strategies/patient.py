"""``patient``: Optuna's ``PatientPruner`` wrapping another strategy (or none).

At each report: with ``n`` reports so far, do nothing while ``n <= patience + 1``.
Otherwise split the reports (in step order) into ``before`` (all but the last
``patience + 1``) and ``after``; the trial is a candidate iff
``nanmin(before) + min_delta < nanmin(after)`` (minimize) or
``nanmax(before) - min_delta > nanmax(after)`` (maximize) -- all-NaN windows are
never candidates. A candidate is pruned iff the wrapped strategy says so (no
wrapped strategy: prune). The wrapped strategy is *called only at candidate
reports*, which matters for stateful ones (successive halving writes its rung
values only when called).

``wrapped`` is a nested ``{"strategy": ..., "params": {...}}`` object; it may not be
``patient`` or ``posterior`` itself.

Examples
--------
>>> from policy_store.rules import RuleSpec
>>> spec = RuleSpec.parse({"strategy": "patient", "params": {"patience": 2,
...                        "wrapped": {"strategy": "median"}}})
>>> spec.params["wrapped"]["params"]["n_startup_trials"]
5
"""

from __future__ import annotations

import warnings
from typing import Any

from policy_store.errors import InvalidSpecError
from policy_store.rules.strategies._base import Param, Strategy, import_optuna

WRAPPABLE = ("median", "percentile", "threshold", "successive_halving", "hyperband", "wilcoxon")


def stalled(best_before: Any, best_after: Any, min_delta: float, maximize: bool) -> Any:
    """Is the report a patience candidate (no improvement within the last ``patience + 1`` reports)?

    ``best_before``/``best_after`` are the NaN-ignoring best values of the two
    windows (NaN when a window is all NaN: never a candidate). The one decision
    function of the strategy: elementwise in the replay kernel, on scalars live.

    >>> bool(stalled(0.5, 0.6, 0.0, False)), bool(stalled(0.5, 0.6, 0.2, False)), bool(stalled(0.5, 0.6, 0.0, True))
    (True, False, False)
    """
    if maximize:
        return best_before - min_delta > best_after
    return best_before + min_delta < best_after


class Patient(Strategy):
    """Prune only after ``patience`` reports without improvement (and if the wrapped rule agrees)."""

    name = "patient"
    kernel = "patient"
    params = (
        Param("patience", "int", low=0),
        Param("min_delta", "float", 0.0, low=0.0),
        Param("wrapped", "spec_or_none", None),
    )

    def check_combination(self, params: dict[str, Any], prefix: str) -> None:
        from policy_store.rules.strategies import get_strategy

        inner = params["wrapped"]
        if inner is None:
            return
        extra = sorted(set(inner) - {"strategy", "params"})
        if extra:
            raise InvalidSpecError("a wrapped spec has only 'strategy' and 'params'",
                                   field=f"{prefix}.wrapped.{extra[0]}")
        name = inner.get("strategy")
        if name not in WRAPPABLE:
            raise InvalidSpecError(f"must be one of {list(WRAPPABLE)}, got {name!r}",
                                   field=f"{prefix}.wrapped.strategy")
        strategy = get_strategy(name)
        params["wrapped"] = {"strategy": name,
                             "params": strategy.validate(inner.get("params"), f"{prefix}.wrapped.params")}

    def to_optuna(self, params: dict[str, Any]) -> Any:
        from policy_store.rules.strategies import get_strategy

        optuna = import_optuna()
        inner = params["wrapped"]
        wrapped = None if inner is None else get_strategy(inner["strategy"]).to_optuna(inner["params"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.PatientPruner(wrapped, patience=params["patience"], min_delta=params["min_delta"])

    def to_ray_tune(self, params: dict[str, Any]) -> dict[str, Any]:
        from policy_store.rules.strategies import get_strategy

        inner = params["wrapped"]
        base = (get_strategy(inner["strategy"]).to_ray_tune(inner["params"]) if inner is not None
                else {"scheduler": "FIFOScheduler", "kwargs": {}, "differences": []})
        base = dict(base)
        base["stopper"] = {"class": "TrialPlateauStopper", "num_results": params["patience"] + 1,
                           "std": params["min_delta"]}
        base["differences"] = [
            "Patience becomes a TrialPlateauStopper (plateau by standard deviation of the last "
            "results, not Optuna's best-before vs best-after comparison), combined with the "
            "wrapped rule's scheduler; Ray stops when either says so, Optuna needs both.",
            *base.get("differences", []),
        ]
        return base
