"""Every numeric option of the CLI, checked in one place before a command runs.

argparse turns ``--lam -5`` into the float -5.0 and ``--orders nan`` is no number of orders at all: each
option's bounds are stated here once, by its name, and a value outside them is an
:class:`~policy_store.errors.InvalidInputError` naming the option (exit 1, one ``Error:`` line).

>>> import argparse
>>> check_numbers(argparse.Namespace(lam=20.0, orders=5, wait=0.0))
>>> check_numbers(argparse.Namespace(lam=-5.0))
Traceback (most recent call last):
...
policy_store.errors.InvalidInputError: field 'lam': must be > 0, got -5
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from policy_store.errors import InvalidInputError


@dataclass(frozen=True)
class Bound:
    """The values an option takes: at least (or above) ``low``; ``also`` lists allowed exceptions."""

    low: float
    strict: bool = False
    also: tuple[float, ...] = ()

    def refuses(self, value: float) -> bool:
        if value in self.also:
            return False
        return not math.isfinite(value) or value < self.low or (self.strict and value == self.low)

    def text(self) -> str:
        low = int(self.low) if float(self.low).is_integer() else self.low
        extra = "".join(f" or {int(a) if float(a).is_integer() else a}" for a in self.also)
        return f"{'>' if self.strict else '>='} {low}{extra}"


#: Option (its argparse ``dest``) -> the values it takes, whichever command has it.
BOUNDS: dict[str, Bound] = {
    "wait": Bound(0), "lam": Bound(0, strict=True), "regret_weight": Bound(0), "max_regret": Bound(0),
    "days": Bound(0, strict=True), "orders": Bound(1), "jobs": Bound(1, also=(-1,)), "trees": Bound(1),
    "k": Bound(1), "limit": Bound(1), "window": Bound(1), "recent": Bound(1), "tasks": Bound(1), "seeds": Bound(1),
    "folds": Bound(2), "version": Bound(1), "parent": Bound(1), "seed": Bound(0),
}


def check_numbers(args: argparse.Namespace) -> None:
    """Raise :class:`InvalidInputError` for the first numeric option of ``args`` outside its bounds."""
    for dest, bound in BOUNDS.items():
        value = getattr(args, dest, None)
        if isinstance(value, int | float) and not isinstance(value, bool) and bound.refuses(value):
            shown = int(value) if isinstance(value, float) and value.is_integer() else value
            raise InvalidInputError(f"must be {bound.text()}, got {shown}", field=dest.replace("_", "-"))
