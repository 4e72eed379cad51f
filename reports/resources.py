"""Cost and memory: what each rule version spent for its quality, and the memory it let through.

Per rule version, over its outcomes (replays and live studies): compute spent per study in hours
(cost seconds; studies without costs are left out of it), mean compute saved and regret, utility
(``compute saved − λ·regret``) per compute-hour spent, the peak memory of the steps it let run
(``outcome_resources``), the trials its budget's caps pruned and the studies its budget stopped.
Two Pareto views: compute spent against regret, and peak memory against regret (less of both is
better on each).

>>> from policy_store import PolicyStore
>>> from policy_store.reports.filters import ReportFilter
>>> with PolicyStore.memory() as store:
...     build(store, ReportFilter()).empty[:25]
'No outcomes recorded yet:'
"""

from __future__ import annotations

import math

from policy_store.reports import svg
from policy_store.reports._base import Column, Figure, Section, Table, fmt
from policy_store.reports.filters import ReportFilter
from policy_store.reports.pareto import pareto_front

from policy_store.store import PolicyStore

_LABEL = "coalesce(o.rule, 'spec:' || left(o.spec_hash, 12)) || coalesce('@' || CAST(o.version AS VARCHAR), '')"
_COLUMNS = (
    Column("rule_version", "rule version"), Column("studies", "studies", "int"),
    Column("outcomes", "outcomes", "int"), Column("hours_per_study", "compute spent (h per study)", "float"),
    Column("compute_saved", "compute saved", "pct"), Column("regret", "mean regret", "float"),
    Column("utility_per_hour", "utility per compute-hour", "float"),
    Column("peak_memory_mb", "peak memory (MB)", "float"), Column("mean_peak_memory_mb", "mean peak memory (MB)",
                                                                  "float"),
    Column("trials_capped", "trials capped per study", "float"), Column("budget_stops", "studies stopped by budget",
                                                                        "int"),
)


def resource_summary(store: PolicyStore, flt: ReportFilter) -> list[dict]:
    """One row per rule version: compute spent, quality, utility per compute-hour, memory, budget effects."""
    where, params = flt.where(task="o.task", rule="o.rule", version="o.version")
    rows = store.fetch_dicts(
        f"""SELECT {_LABEL} AS rule_version, count(DISTINCT o.study) AS studies, count(*) AS outcomes,
                   avg(o.cost_spent) / 3600 AS hours_per_study, avg(o.compute_saved) AS compute_saved,
                   avg(o.regret) FILTER (WHERE NOT isnan(o.regret)) AS regret,
                   max(r.peak_memory_mb) AS peak_memory_mb, avg(r.peak_memory_mb) AS mean_peak_memory_mb,
                   avg(coalesce(r.trials_capped, 0)) AS trials_capped,
                   count(r.budget_stopped_at) AS budget_stops
            FROM outcomes o LEFT JOIN outcome_resources r USING (outcome_id)
            WHERE {where} GROUP BY ALL ORDER BY rule_version""",  # noqa: S608 - constant fragments
        params or None)
    for r in rows:
        saved, regret, hours = r["compute_saved"], r["regret"], r["hours_per_study"]
        utility = saved - flt.regret_weight * regret if saved is not None and regret is not None else math.nan
        r["utility_per_hour"] = utility / hours if hours and math.isfinite(utility) else math.nan
    return rows


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _view(rows: list[dict], key: str, label: str, what: str, unit: str) -> Figure:
    cost = [-_nan(r[key]) for r in rows]      # less is better: the front of (−cost, regret)
    front = pareto_front(cost, [_nan(r["regret"]) for r in rows])
    points = [svg.Point(_nan(r[key]), _nan(r["regret"]), r["rule_version"],
                        f"{r['rule_version']}: {what} {fmt(r[key], 'float')} {unit}, "
                        f"regret {fmt(r['regret'], 'float')}, saved {fmt(r['compute_saved'], 'pct')}", on)
              for r, on in zip(rows, front, strict=True)]
    return Figure(f"pareto_{key}", svg.scatter(points, x_label=label, y_label="mean regret (metric units)"),
                  f"Mean regret against {what} per rule version; orange points form the Pareto front (no other "
                  f"version has less regret at no more {what}).", half=True)


def build(store: PolicyStore, flt: ReportFilter) -> Section:
    """The cost-and-memory table with its two Pareto views."""
    section = Section(
        key="resources", title="Cost and memory",
        intro="What each rule version spent for its quality: compute hours per study, utility "
              f"(compute saved − {flt.regret_weight:g} × regret) per compute-hour, the peak memory of the steps "
              "it let run, and what its budget (if any) capped or stopped.")
    rows = resource_summary(store, flt)
    if not rows:
        section.empty = ("No outcomes recorded yet: replay rule versions over recorded studies "
                         "(policy_store.replay.evaluate) to fill this section.")
        return section
    section.tables = [Table("resources_summary", "Cost and memory per rule version", _COLUMNS, rows)]
    section.figures = [v for v in (
        _view(rows, "hours_per_study", "compute spent (hours per study)", "compute spent", "h")
        if any(r["hours_per_study"] is not None for r in rows) else None,
        _view(rows, "mean_peak_memory_mb", "mean peak memory (MB)", "peak memory", "MB")
        if any(r["mean_peak_memory_mb"] is not None for r in rows) else None) if v is not None]
    return section
