"""``hyperband``: Optuna's ``HyperbandPruner`` (brackets of successive halving).

- Until initialised, never prune and record nothing. With
  ``max_resource="auto"`` initialisation waits for the first COMPLETE trial:
  ``max_resource = max(last_step of COMPLETE trials) + 1``.
- ``n_brackets = floor(log(max_resource / min_resource, reduction_factor)) + 1``
  (computed with ``math.log``: its floating error matters, e.g. 243 and 3 give 5).
- Bracket ``b`` gets budget ``ceil(n_brackets * eta**s / (s + 1))`` with
  ``s = n_brackets - 1 - b`` and runs :mod:`.successive_halving` with
  ``min_early_stopping_rate = b`` over *its own* trials only.
- Trial number ``n`` goes to the first bracket whose cumulative budget exceeds
  ``crc32(f"{study_name}_{n}") % sum(budgets)``: decisions depend on the study
  name, so a replay must be given the same name as the live study.

Examples
--------
>>> from policy_store.rules import RuleSpec
>>> RuleSpec.parse({"strategy": "hyperband"}).params["reduction_factor"]
3
"""

from __future__ import annotations

import binascii
import math
from typing import Any

from policy_store.errors import InvalidSpecError
from policy_store.rules.strategies._base import Param, Strategy, import_optuna


def n_brackets(max_resource: int, min_resource: int, reduction_factor: int) -> int:
    """``floor(log(max_resource / min_resource, reduction_factor)) + 1``, with CPython's two-argument ``log``.

    ``math.log(x, b)`` is ``log(x) / log(b)`` in CPython; written out so that numba compiles the same.

    >>> n_brackets(243, 1, 3), n_brackets(12, 1, 3)
    (5, 3)
    """
    return math.floor(math.log(max_resource / min_resource) / math.log(reduction_factor)) + 1


def bracket_budgets(max_resource: int, min_resource: int, reduction_factor: int) -> list[int]:
    """Each bracket's trial-allocation budget ``ceil(n * eta**s / (s + 1))``, ``s = n - 1 - bracket``.

    >>> bracket_budgets(12, 1, 3)
    [9, 5, 3]
    """
    n = n_brackets(max_resource, min_resource, reduction_factor)
    return [bracket_budget(n, reduction_factor, b) for b in range(n)]


def bracket_budget(n_brackets: int, reduction_factor: int, bracket: int) -> int:
    """One bracket's trial-allocation budget (see :func:`bracket_budgets`); numba compiles it.

    >>> bracket_budget(3, 3, 0)
    9
    """
    return math.ceil(n_brackets * (reduction_factor ** (n_brackets - 1 - bracket)) / (n_brackets - bracket))


def trial_hash(study_name: str, number: int) -> int:
    """Optuna's bracket hash of a trial: ``crc32(f"{study_name}_{number}")``.

    >>> trial_hash("s", 0) == binascii.crc32(b"s_0")
    True
    """
    return binascii.crc32(f"{study_name}_{number}".encode())


def bracket_of(hash_: int, budgets: list[int]) -> int:
    """The bracket of a trial: the first whose cumulative budget exceeds ``hash_ % sum(budgets)``.

    >>> bracket_of(0, [9, 5, 3]), bracket_of(9, [9, 5, 3]), bracket_of(33, [9, 5, 3])
    (0, 1, 2)
    """
    n = hash_ % sum(budgets)
    for b, budget in enumerate(budgets):
        n -= budget
        if n < 0:
            return b
    raise AssertionError("unreachable: the budgets sum to more than n")


class Hyperband(Strategy):
    """Hyperband over successive-halving brackets (see the module docstring)."""

    name = "hyperband"
    kernel = "hyperband"
    params = (
        Param("min_resource", "int", 1, low=1),
        Param("max_resource", "int_or_auto", "auto", low=1),
        Param("reduction_factor", "int", 3, low=2),
        Param("bootstrap_count", "int", 0, low=0),
    )

    def check_combination(self, params: dict[str, Any], prefix: str) -> None:
        mx = params["max_resource"]
        if params["bootstrap_count"] > 0 and mx == "auto":
            raise InvalidSpecError("bootstrap_count > 0 needs an integer max_resource (not 'auto')",
                                   field=f"{prefix}.bootstrap_count")
        if mx != "auto" and mx < params["min_resource"]:
            raise InvalidSpecError(f"must be >= min_resource ({params['min_resource']}), got {mx}",
                                   field=f"{prefix}.max_resource")

    def to_optuna(self, params: dict[str, Any]) -> Any:
        optuna = import_optuna()
        return optuna.pruners.HyperbandPruner(**params)

    def to_ray_tune(self, params: dict[str, Any]) -> dict[str, Any]:
        mx = params["max_resource"]
        return {
            "scheduler": "HyperBandScheduler",
            "kwargs": {"time_attr": "training_iteration", "max_t": 81 if mx == "auto" else mx,
                       "reduction_factor": params["reduction_factor"]},
            "differences": [
                "Ray's HyperBandScheduler is synchronous (it pauses trials until a rung fills); "
                "Optuna's brackets are asynchronous SHA and never pause.",
                "Bracket assignment: Ray fills brackets in order, Optuna hashes the trial number.",
                "max_resource='auto' has no counterpart (max_t=81 here); min_resource is fixed at 1 in Ray.",
            ],
        }
