"""Rolling windows over a rule's outcomes, read from the store with SQL.

A window is either the latest ``n`` outcomes (:class:`CountWindow`) or the
outcomes of a time span ending now (:class:`TimeWindow`). Only the window's
rows leave the database: the count window is an ``ORDER BY created_at DESC
LIMIT n``, the time window a range on ``created_at``.

>>> from datetime import timedelta
>>> CountWindow(200), TimeWindow(timedelta(days=7))
(CountWindow(size=200), TimeWindow(span=datetime.timedelta(days=7)))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from policy_store.drift._base import check_int
from policy_store.drift.rank_correlation import study_rank_correlations

from policy_store.choices import METRICS
from policy_store.errors import InvalidInputError
from policy_store.store import PolicyStore, utcnow

# Metric name -> SQL expression over ``outcomes``; identifiers come only from here.
# ``rank_correlation`` is not an outcome column: it is computed per study from curve_points.
# METRICS (policy_store.choices, light for the CLI) names these keys, then rank_correlation.
OUTCOME_METRICS = {
    "regret": "regret",
    "killed_best": "CAST(killed_best AS DOUBLE)",
    "false_prune_rate": "audit_false_prune_rate",
    "compute_saved": "compute_saved",
}

WINDOW_COLUMNS = ["outcome_id", "study", "task", "version", "created_at", "value"]


@dataclass(frozen=True)
class CountWindow:
    """The latest ``size`` outcomes."""

    size: int

    def __post_init__(self) -> None:
        check_int("size", self.size, minimum=1)


@dataclass(frozen=True)
class TimeWindow:
    """The outcomes created in the ``span`` before now."""

    span: timedelta

    def __post_init__(self) -> None:
        if not isinstance(self.span, timedelta) or self.span <= timedelta(0):
            raise InvalidInputError(f"span must be a positive timedelta, got {self.span!r}", field="span")


@dataclass(frozen=True)
class Scope:
    """Which outcomes a monitor watches: one rule (optionally one version, mode) on some tasks.

    ``tasks=None`` watches every task; one task or a group of tasks narrows it.
    """

    rule: str
    version: int | None = None
    tasks: tuple[str, ...] | None = None
    mode: str | None = None

    def __post_init__(self) -> None:
        if not self.rule:
            raise InvalidInputError("rule must be a non-empty name", field="rule")
        if self.tasks is not None:
            if isinstance(self.tasks, str) or not self.tasks:
                raise InvalidInputError("tasks must be a non-empty tuple of task names", field="tasks")
            object.__setattr__(self, "tasks", tuple(sorted(set(self.tasks))))
        if self.mode not in (None, "replay", "live"):
            raise InvalidInputError(f"mode must be 'replay' or 'live', got {self.mode!r}", field="mode")

    @property
    def label(self) -> str:
        """The scope as recorded in drift events: ``all``, ``task:<t>`` or ``tasks:<t1>,<t2>``."""
        if self.tasks is None:
            return "all"
        if len(self.tasks) == 1:
            return f"task:{self.tasks[0]}"
        return "tasks:" + ",".join(self.tasks)


def read_window(
    store: PolicyStore,
    scope: Scope,
    metric: str,
    window: CountWindow | TimeWindow,
    *,
    after: datetime | None = None,
    now: datetime | None = None,
    early_fraction: float = 0.25,
) -> pd.DataFrame:
    """The window's outcomes and their metric value, oldest first.

    Parameters
    ----------
    store:
        The store to read.
    scope:
        Rule, version, tasks and mode to watch.
    metric:
        One of :data:`METRICS`. Outcomes where it is missing are skipped
        (for a count window, before counting, except ``rank_correlation``,
        whose per-study value is joined after the window is cut).
    window:
        A :class:`CountWindow` or :class:`TimeWindow`.
    after:
        Only outcomes created strictly after this time (e.g. the last drift event).
    now:
        End of a time window (default: the store's clock).
    early_fraction:
        Early step of the rank correlation (see :mod:`~policy_store.drift.rank_correlation`).

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome_id, study, task, version, created_at, value``, ordered
        by ``created_at`` then ``outcome_id``.
    """
    if metric not in METRICS:
        raise InvalidInputError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}", field="metric")
    expr = OUTCOME_METRICS.get(metric, "NULL")
    clauses = ["rule = $rule"]
    params: dict[str, object] = {"rule": scope.rule}
    if metric in OUTCOME_METRICS:
        clauses.append(f"{expr} IS NOT NULL")
    if scope.version is not None:
        clauses.append("version = $version")
        params["version"] = scope.version
    if scope.tasks is not None:
        clauses.append("list_contains($tasks, task)")
        params["tasks"] = list(scope.tasks)
    if scope.mode is not None:
        clauses.append("mode = $mode")
        params["mode"] = scope.mode
    if after is not None:
        clauses.append("created_at > $after")
        params["after"] = after
    tail = ""
    if isinstance(window, CountWindow):
        tail = "ORDER BY created_at DESC, outcome_id DESC LIMIT $limit"
        params["limit"] = window.size
    else:
        end = now or utcnow()
        clauses.append("created_at > $since AND created_at <= $until")
        params["since"], params["until"] = end - window.span, end
    # Only constant fragments are interpolated; every value is bound.
    sql = (
        "SELECT * FROM (SELECT outcome_id, study, task, version, created_at, "  # noqa: S608
        f"{expr} AS value FROM outcomes WHERE {' AND '.join(clauses)} {tail}) "
        "ORDER BY created_at, outcome_id"
    )
    frame = store.fetch_df(sql, params)
    if metric == "rank_correlation":
        rho = study_rank_correlations(store, frame["study"].unique().tolist(), early_fraction=early_fraction)
        frame["value"] = frame["study"].map(rho).astype("float64")
        frame = frame.dropna(subset=["value"]).reset_index(drop=True)
    return frame[WINDOW_COLUMNS]
