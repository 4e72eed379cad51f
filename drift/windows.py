"""Windows and scopes of the drift monitors.

A window caps which of a version's monitored studies a check reads: the latest
``n`` (:class:`CountWindow`) or those ingested in a span ending now
(:class:`TimeWindow`). A :class:`Scope` names the rule, optionally one version
(default: the rule's current one) and a group of tasks.

>>> from datetime import timedelta
>>> CountWindow(200), TimeWindow(timedelta(days=7)), Scope("median", tasks=("b", "a")).label
(CountWindow(size=200), TimeWindow(span=datetime.timedelta(days=7)), 'tasks:a,b')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from policy_store.drift._base import check_int
from policy_store.drift.observations import OUTCOME_METRICS

from policy_store.choices import METRICS
from policy_store.errors import InvalidInputError

__all__ = ["METRICS", "OUTCOME_METRICS", "CountWindow", "Scope", "TimeWindow"]


@dataclass(frozen=True)
class CountWindow:
    """The latest ``size`` monitored studies."""

    size: int

    def __post_init__(self) -> None:
        check_int("size", self.size, minimum=1)


@dataclass(frozen=True)
class TimeWindow:
    """The monitored studies ingested in the ``span`` before now."""

    span: timedelta

    def __post_init__(self) -> None:
        if not isinstance(self.span, timedelta) or self.span <= timedelta(0):
            raise InvalidInputError(f"span must be a positive timedelta, got {self.span!r}", field="span")


@dataclass(frozen=True)
class Scope:
    """Which outcomes a monitor watches: one rule (optionally one version) on some tasks.

    ``tasks=None`` watches every task; one task or a group of tasks narrows it.
    """

    rule: str
    version: int | None = None
    tasks: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.rule:
            raise InvalidInputError("rule must be a non-empty name", field="rule")
        if self.tasks is not None:
            if isinstance(self.tasks, str) or not self.tasks:
                raise InvalidInputError("tasks must be a non-empty tuple of task names", field="tasks")
            object.__setattr__(self, "tasks", tuple(sorted(set(self.tasks))))

    @property
    def label(self) -> str:
        """The scope as recorded in drift events: ``all``, ``task:<t>`` or ``tasks:<t1>,<t2>``."""
        if self.tasks is None:
            return "all"
        if len(self.tasks) == 1:
            return f"task:{self.tasks[0]}"
        return "tasks:" + ",".join(self.tasks)
