"""The contract every drift detector follows (river-style).

A detector consumes one observation at a time with :meth:`DriftDetector.update`,
which returns the detector itself so calls chain. After each update the read-only
property :attr:`~DriftDetector.drift_detected` says whether *this* update revealed a
change. Detectors are deterministic: the same stream gives the same detections.

Every detector also exposes the test :attr:`~DriftDetector.statistic` it computed
at the last update and the :attr:`~DriftDetector.threshold` it compares it with
(drift means ``statistic > threshold``), so a drift event can record both.

>>> from policy_store.drift import PageHinkley
>>> detector = PageHinkley(min_instances=5, threshold=1.0)
>>> detector.update(0.0).drift_detected
False
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Self

from policy_store.errors import InvalidInputError

MODES = ("up", "down", "both")


class DriftDetector(ABC):
    """Base class: one observation in, one verdict out.

    Subclasses implement :meth:`_update` (which sets ``self._drift``) and
    :meth:`_reset_state`. A detector that has just signalled drift starts over
    at its next update, unless the subclass documents otherwise (ADWIN keeps the
    part of its window that follows the change).
    """

    def __init__(self) -> None:
        self._n = 0
        self._drift = False
        self._statistic = 0.0

    @property
    def drift_detected(self) -> bool:
        """Whether the latest update revealed a change."""
        return self._drift

    @property
    def n_seen(self) -> int:
        """Observations seen since the last reset."""
        return self._n

    @property
    def statistic(self) -> float:
        """The test statistic computed at the latest update."""
        return self._statistic

    @property
    @abstractmethod
    def threshold(self) -> float:
        """The value :attr:`statistic` must exceed to signal drift."""

    def update(self, x: float) -> Self:
        """Consume one observation; return the detector.

        Raises
        ------
        InvalidInputError
            If ``x`` is not a finite number.
        """
        x = check_observation(x)
        if self._drift:
            self._after_drift()
        self._drift = False
        self._n += 1
        self._update(x)
        return self

    def reset(self) -> Self:
        """Forget everything seen so far."""
        self._n = 0
        self._drift = False
        self._statistic = 0.0
        self._reset_state()
        return self

    def clone(self) -> Self:
        """A fresh detector with the same parameters and no state."""
        return type(self)(**self._params())

    def _after_drift(self) -> None:
        self.reset()

    @abstractmethod
    def _update(self, x: float) -> None: ...

    @abstractmethod
    def _reset_state(self) -> None: ...

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    @abstractmethod
    def _params(self) -> dict[str, object]: ...


def check_observation(x: object) -> float:
    """``x`` as a float, or :class:`InvalidInputError` if it is not a finite number."""
    return check_finite("x", x)


def check_finite(name: str, value: object) -> float:
    """``value`` as a float, or :class:`InvalidInputError` naming ``name`` if it is not finite."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str | bytes):
        raise InvalidInputError(f"{name} = {value!r} is a string, not a number", field=name)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} = {value!r} is not a number", field=name) from None
    if not math.isfinite(number):
        raise InvalidInputError(f"{name} = {value!r} is not finite; drop or impute it first", field=name)
    return number


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """``value`` if it is a finite number > 0 (or >= 0), else :class:`InvalidInputError`."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidInputError(f"{name} must be a finite number {bound}, got {value!r}", field=name)
    return float(value)


def check_int(name: str, value: int, *, minimum: int) -> int:
    """``value`` if it is an integer >= ``minimum`` and within int64 (as SQL holds it), else an error."""
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= 2**63 - 1:
        raise InvalidInputError(f"{name} must be an integer >= {minimum} (and < 2**63), got {value!r}", field=name)
    return value


def check_fraction(name: str, value: float) -> float:
    """``value`` if it lies strictly between 0 and 1, else :class:`InvalidInputError`."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not 0 < value < 1:
        raise InvalidInputError(f"{name} must lie strictly between 0 and 1, got {value!r}", field=name)
    return float(value)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else :class:`InvalidInputError`."""
    if value not in choices:
        raise InvalidInputError(f"{name} must be one of {', '.join(choices)}; got {value!r}", field=name)
    return value
