"""Rule specs: strategy + parameters + safeguards, validated, canonical and hashed.

A spec is a JSON object::

    {"strategy": "median",
     "params": {"n_startup_trials": 5, ...},            # defaults filled in
     "safeguards": {"audit_fraction": 0.0, "audit_seed": 0,  # + budgets, only if given:
                    "trial_memory_mb": 512, ...},        # see policy_store.rules.budget
     "direction": null}                                 # or the direction it was made for

Its canonical form is compact JSON with sorted keys and every default filled in,
so two specs that mean the same thing have the same sha256 ``spec_hash``.

Examples
--------
>>> spec = RuleSpec.parse('{"strategy": "median", "params": {"n_warmup_steps": 2}}')
>>> spec.params["n_warmup_steps"], spec.audit_fraction
(2, 0.0)
>>> spec.spec_hash == RuleSpec.parse(spec.canonical_json()).spec_hash
True
>>> RuleSpec.parse({"strategy": "median", "params": {"n_warmup_steps": -1}})
Traceback (most recent call last):
...
policy_store.errors.InvalidSpecError: field 'params.n_warmup_steps': must be an integer >= 0, got -1
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_store.errors import DirectionMismatchError, InvalidSpecError
from policy_store.rules.budget import BUDGET_SAFEGUARDS, Budget, check_budgets
from policy_store.rules.strategies import Strategy, get_strategy
from policy_store.rules.strategies._base import Param

DIRECTIONS = ("minimize", "maximize")
SAFEGUARDS = (
    Param("audit_fraction", "float", 0.0, low=0.0, high=1.0),
    Param("audit_seed", "int", 0, low=0, high=2**63 - 1),
)
_TOP_KEYS = ("strategy", "params", "safeguards", "direction")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise InvalidSpecError("key given more than once; which one is meant is ambiguous", field=repeated[0])
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise InvalidSpecError(f"not valid JSON: {name} is not a JSON value; write a number or null")


def _loads(text: str) -> Any:
    """Strict JSON: no NaN/Infinity, no repeated keys; every failure an :class:`InvalidSpecError`."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise InvalidSpecError(f"not valid JSON: {e}") from e
    except (ValueError, RecursionError) as e:  # a number of over 4300 digits, nesting too deep
        if isinstance(e, InvalidSpecError):
            raise
        raise InvalidSpecError(f"not valid JSON: {e}") from e


@dataclass(frozen=True)
class RuleSpec:
    """A validated rule spec. Build with :meth:`parse`; treat as immutable."""

    strategy: str
    params: dict[str, Any] = field(hash=False)
    safeguards: dict[str, Any] = field(hash=False)
    direction: str | None = None

    # -- construction -----------------------------------------------------------------
    @classmethod
    def parse(cls, spec: RuleSpec | Mapping[str, Any] | str | Path) -> RuleSpec:
        """Validate a spec given as a mapping, a JSON string or a path to a JSON file."""
        if isinstance(spec, RuleSpec):
            return spec
        if isinstance(spec, Path):
            spec = spec.read_text()
        if isinstance(spec, str):
            spec = _loads(spec)
        if not isinstance(spec, Mapping):
            raise InvalidSpecError(f"a spec must be a JSON object, got {type(spec).__name__}")
        unknown = sorted(set(spec) - set(_TOP_KEYS))
        if unknown:
            raise InvalidSpecError(f"unknown key; allowed: {list(_TOP_KEYS)}", field=unknown[0])
        strategy: Strategy = get_strategy(spec.get("strategy"))
        raw_params = {} if spec.get("params") is None else spec["params"]
        if not isinstance(raw_params, Mapping):
            raise InvalidSpecError("must be an object", field="params")
        params = strategy.validate(copy.deepcopy(dict(raw_params)))
        raw_safe = {} if spec.get("safeguards") is None else spec["safeguards"]
        if not isinstance(raw_safe, Mapping):
            raise InvalidSpecError("must be an object", field="safeguards")
        allowed = [p.name for p in (*SAFEGUARDS, *BUDGET_SAFEGUARDS)]
        unknown = sorted(set(raw_safe) - set(allowed))
        if unknown:
            raise InvalidSpecError(f"unknown safeguard; allowed: {allowed}", field=f"safeguards.{unknown[0]}")
        safeguards = {p.name: p.check(raw_safe[p.name], "safeguards") if p.name in raw_safe else p.default
                      for p in SAFEGUARDS}
        safeguards.update(check_budgets(raw_safe))
        direction = spec.get("direction")
        if direction is not None and direction not in DIRECTIONS:
            raise InvalidSpecError(f"must be one of {list(DIRECTIONS)} or null, got {direction!r}",
                                   field="direction")
        return cls(strategy.name, params, safeguards, direction)

    # -- canonical form ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The canonical content as plain Python objects (a deep copy)."""
        return copy.deepcopy({"strategy": self.strategy, "params": self.params,
                              "safeguards": self.safeguards, "direction": self.direction})

    def canonical_json(self) -> str:
        """Compact JSON, sorted keys, defaults filled: the form that is hashed and stored."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @property
    def spec_hash(self) -> str:
        """sha256 hex digest of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @property
    def audit_fraction(self) -> float:
        return float(self.safeguards["audit_fraction"])

    @property
    def audit_seed(self) -> int:
        return int(self.safeguards["audit_seed"])

    @property
    def budget(self) -> Budget:
        """The budgets the spec carries (:mod:`policy_store.rules.budget`)."""
        return Budget.of(self.safeguards)

    @property
    def kernel(self) -> str:
        """The replay kernel family of the strategy."""
        return get_strategy(self.strategy).kernel

    # -- checks and exports -----------------------------------------------------------
    def check_direction(self, direction: str, where: str = "the study") -> None:
        """Raise :class:`DirectionMismatchError` if the spec was made for the other direction."""
        if direction not in DIRECTIONS:
            raise InvalidSpecError(f"unknown direction {direction!r} of {where}", field="direction")
        if self.direction is not None and self.direction != direction:
            raise DirectionMismatchError(
                f"the rule was made for {self.direction} but {where} is {direction}; "
                "use a spec with the matching (or no) direction", field="direction")

    def to_optuna(self) -> Any:
        """A live Optuna pruner with the same decisions as the replay.

        Optuna's own pruner for the Optuna-backed strategies; wrapped in an
        ``AuditPruner`` (a ``BasePruner`` subclass) when ``audit_fraction > 0``.

        >>> type(RuleSpec.parse({"strategy": "median"}).to_optuna()).__name__
        'MedianPruner'
        """
        pruner = get_strategy(self.strategy).to_optuna(self.params)
        if self.audit_fraction > 0:
            from policy_store.rules._optuna import AuditPruner

            pruner = AuditPruner(pruner, self.audit_fraction, self.audit_seed)
        return pruner

    def to_ray_tune(self) -> dict[str, Any]:
        """Keyword arguments of the nearest Ray Tune scheduler, with the differences written down.

        >>> RuleSpec.parse({"strategy": "successive_halving"}).to_ray_tune()["scheduler"]
        'ASHAScheduler'
        """
        out = get_strategy(self.strategy).to_ray_tune(self.params)
        out = dict(out)
        if self.direction is not None:
            out["kwargs"] = {**out["kwargs"], "mode": "min" if self.direction == "minimize" else "max"}
        if self.audit_fraction > 0:
            out["differences"] = [*out["differences"],
                                  "audit_fraction has no counterpart in Ray Tune (no trial is exempt)."]
        return out
