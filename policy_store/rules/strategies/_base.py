"""The contract every pruning strategy module fulfils.

A strategy is a small, declarative object: a name, a table of parameters with
defaults and allowed ranges, and three translations of a validated parameter
dict -- to a live Optuna pruner (:meth:`Strategy.to_optuna`), to the nearest Ray
Tune scheduler (:meth:`Strategy.to_ray_tune`) and to a replay kernel (the name of
the batched kernel in :mod:`policy_store.replay.kernels` that reproduces its
decisions over a curve matrix).

Semantics live in each strategy's module docstring; the replay kernel and the
Optuna pruner must agree decision for decision (the parity tests check it).

>>> p = Param("n_warmup_steps", "int", 0, low=0)
>>> p.check(3)
3
>>> p.check(-1)
Traceback (most recent call last):
...
policy_store.errors.InvalidSpecError: field 'params.n_warmup_steps': must be an integer >= 0, got -1
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from policy_store.errors import InvalidSpecError

_REQUIRED = object()
MAX_INT = 2**63 - 1
"""Largest magnitude of an integer parameter (int64, as the replay kernels and the store hold it)."""


@dataclass(frozen=True)
class Param:
    """One strategy parameter: its kind, default and allowed range.

    Parameters
    ----------
    name:
        Key in the spec's ``params``.
    kind:
        ``"int"``, ``"float"``, ``"int_or_auto"``, ``"float_or_none"`` or ``"spec_or_none"``.
    default:
        Default value; ``REQUIRED`` (the module constant) means the key must be given.
    low, high:
        Inclusive bounds (``low_open``/``high_open`` make them exclusive).
    """

    name: str
    kind: str
    default: Any = _REQUIRED
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def describe(self) -> str:
        """The allowed range in words, for error messages."""
        kind = {"int": "an integer", "int_or_auto": "an integer or 'auto'"}.get(self.kind, "a number")
        if self.kind == "float_or_none":
            kind = "a number or null"
        if self.kind == "spec_or_none":
            return "a strategy spec object or null"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return f"{kind} {' and '.join(parts)}".strip()

    def check(self, value: Any, prefix: str = "params") -> Any:
        """Return ``value`` normalised (ints as int, floats as float) or raise."""
        field_name = f"{prefix}.{self.name}"

        def bad() -> InvalidSpecError:
            huge = isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT
            limit = " (at most 2**63 - 1 in magnitude)" if huge else ""
            return InvalidSpecError(f"must be {self.describe()}{limit}, got {value!r}", field=field_name)

        if self.kind == "spec_or_none":
            if value is None or isinstance(value, Mapping):
                return value
            raise bad()
        if value is None:
            if self.kind == "float_or_none":
                return None
            raise bad()
        if self.kind == "int_or_auto" and value == "auto":
            return "auto"
        if isinstance(value, bool):
            raise bad()
        if self.kind in ("int", "int_or_auto"):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            # Replay and Optuna hold steps and counts in 64 bits: a larger integer would overflow there.
            if not isinstance(value, int) or abs(value) > MAX_INT:
                raise bad()
        else:
            if not isinstance(value, int | float) or (isinstance(value, int) and abs(value) > MAX_INT):
                raise bad()
            value = float(value)
            if not math.isfinite(value):
                raise bad()
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            raise bad()
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            raise bad()
        return value


REQUIRED = _REQUIRED


class Strategy:
    """Base class of the strategies; subclasses set the class attributes and override hooks.

    Attributes
    ----------
    name:
        The spec's ``strategy`` value.
    params:
        The parameter table.
    kernel:
        Name of the replay kernel family (``"percentile"``, ``"threshold"``, ...).
    optuna_backed:
        True when :meth:`to_optuna` returns Optuna's own pruner class.
    """

    name: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    kernel: ClassVar[str] = ""
    optuna_backed: ClassVar[bool] = True

    # -- validation ---------------------------------------------------------------------
    def validate(self, params: Mapping[str, Any] | None, prefix: str = "params") -> dict[str, Any]:
        """Fill defaults, check every value, refuse unknown keys; returns a new dict."""
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise InvalidSpecError(f"must be an object of parameters, got {params!r}", field=prefix)
        params = dict(params)
        known = {p.name for p in self.params}
        unknown = sorted(set(params) - known)
        if unknown:
            raise InvalidSpecError(
                f"unknown parameter for strategy {self.name!r}; allowed: {sorted(known)}",
                field=f"{prefix}.{unknown[0]}",
            )
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name not in params:
                if p.required:
                    raise InvalidSpecError(
                        f"required by strategy {self.name!r}; {p.describe()}", field=f"{prefix}.{p.name}"
                    )
                out[p.name] = p.default
            else:
                out[p.name] = p.check(params[p.name], prefix)
        self.check_combination(out, prefix)
        return out

    def check_combination(self, params: dict[str, Any], prefix: str) -> None:
        """Cross-parameter checks (override when needed)."""

    # -- exports --------------------------------------------------------------------------
    def to_optuna(self, params: dict[str, Any]) -> Any:
        """A live Optuna pruner configured identically."""
        raise NotImplementedError

    def to_ray_tune(self, params: dict[str, Any]) -> dict[str, Any]:
        """``{"scheduler": name, "kwargs": {...}, "differences": [...]}`` (no ray import)."""
        raise NotImplementedError


def import_optuna() -> Any:
    """Import optuna lazily, with a clear error when the extra is missing."""
    try:
        import optuna
    except ImportError as e:  # pragma: no cover - optuna is in the dev extra
        from policy_store.errors import MissingDependencyError

        raise MissingDependencyError("optuna is needed for to_optuna(); pip install 'policy-store[optuna]'") from e
    return optuna


def passes_gate(step: Any, prev_step: Any, n_warmup_steps: Any, interval_steps: Any) -> Any:
    """Optuna's warm-up and interval gate (``_is_first_in_interval_step``): is the report at ``step`` checked?

    With ``w = n_warmup_steps``, ``k = interval_steps`` and the checkpoint
    ``L = (step - w) // k * k + w``, the report is checked iff ``step >= w`` and
    the trial's largest *other* reported step ``prev_step`` (-1 if none) is below
    ``L``. The one source of the gate: elementwise on arrays (the numpy replay
    kernels), on scalars (the live deciders), compiled by numba (the replay loops).

    >>> passes_gate(4, 2, 1, 3), passes_gate(5, 4, 1, 3), passes_gate(0, -1, 1, 1)
    (True, False, False)
    """
    lower = (step - n_warmup_steps) // interval_steps * interval_steps + n_warmup_steps
    return (step >= n_warmup_steps) & (lower >= 0) & (prev_step < lower)


GATE_PARAMS = (
    Param("n_warmup_steps", "int", 0, low=0),
    Param("interval_steps", "int", 1, low=1),
)
"""The warm-up/interval gate shared by median, percentile and threshold."""
