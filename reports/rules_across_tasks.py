"""Section 2, rules across tasks: compute saved against regret per rule version, killed-best rates, task × rule utility.

Everything is aggregated in SQL over the ``outcomes`` table (means over replays,
i.e. over studies × trial orders); NaN regrets (no trial finished) are left out of
the regret mean.

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

#: Most tasks drawn in the heat map (those where the choice of rule matters most); the CSV holds every task.
HEATMAP_TASKS = 60
#: Most task × rule rows shown in HTML/Markdown.
SHOWN_CELLS = 40

_LABEL = "coalesce(rule, 'spec:' || left(spec_hash, 12)) || coalesce('@' || CAST(version AS VARCHAR), '')"
_AGG = ("count(*) AS replays, avg(compute_saved) AS compute_saved, "
        "avg(regret) FILTER (WHERE NOT isnan(regret)) AS regret, "
        "avg(CAST(killed_best AS DOUBLE)) AS killed_best_rate, avg(false_prune_rate) AS false_prune_rate")

_SUMMARY_COLUMNS = (
    Column("rule_version", "rule version"), Column("tasks", "tasks", "int"), Column("studies", "studies", "int"),
    Column("replays", "replays", "int"), Column("compute_saved", "compute saved", "pct"),
    Column("regret", "mean regret", "float"), Column("killed_best_rate", "killed best", "pct"),
    Column("false_prune_rate", "false-prune rate", "pct"), Column("utility", "utility", "float"),
    Column("pareto", "on Pareto front"),
)
_CELL_COLUMNS = (
    Column("task", "task"), Column("rule_version", "rule version"), Column("replays", "replays", "int"),
    Column("compute_saved", "compute saved", "pct"), Column("regret", "mean regret", "float"),
    Column("killed_best_rate", "killed best", "pct"), Column("utility", "utility", "float"),
)


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _utility(saved: float | None, regret: float | None, weight: float) -> float:
    if saved is None or regret is None or not (math.isfinite(saved) and math.isfinite(regret)):
        return math.nan
    return saved - weight * regret


def rule_summary(store: PolicyStore, flt: ReportFilter) -> list[dict]:
    """One row per rule version: tasks, studies, replays, mean outcomes, utility and Pareto membership."""
    where, params = flt.where(task="task", rule="rule", version="version")
    rows = store.fetch_dicts(
        f"SELECT {_LABEL} AS rule_version, count(DISTINCT task) AS tasks, count(DISTINCT study) AS studies, "  # noqa: S608
        f"{_AGG} FROM outcomes WHERE {where} GROUP BY ALL ORDER BY rule_version", params or None)
    front = pareto_front([r["compute_saved"] for r in rows], [r["regret"] for r in rows])
    for r, on in zip(rows, front, strict=True):
        r["utility"] = _utility(r["compute_saved"], r["regret"], flt.regret_weight)
        r["pareto"] = "yes" if on else "no"
    return rows


def task_rule_cells(store: PolicyStore, flt: ReportFilter) -> list[dict]:
    """One row per (task, rule version) with mean outcomes and utility; ordered by task, then rule version."""
    where, params = flt.where(task="task", rule="rule", version="version")
    rows = store.fetch_dicts(
        f"SELECT task, {_LABEL} AS rule_version, {_AGG} FROM outcomes WHERE {where} "  # noqa: S608
        "GROUP BY ALL ORDER BY task, rule_version", params or None)
    for r in rows:
        r["utility"] = _utility(r["compute_saved"], r["regret"], flt.regret_weight)
    return rows


def _scatter(rows: list[dict]) -> Figure:
    points = [svg.Point(
        _nan(r["regret"]), r["compute_saved"], r["rule_version"],
        f"{r['rule_version']}: saved {fmt(r['compute_saved'], 'pct')}, regret {fmt(r['regret'], 'float')}, "
        f"killed best {fmt(r['killed_best_rate'], 'pct')}, {r['studies']} studies",
        r["pareto"] == "yes") for r in rows]
    return Figure("pareto", svg.scatter(points, x_label="mean regret (metric units)", y_label="compute saved"),
                  "Compute saved against mean regret per rule version; orange points form the Pareto front "
                  "(no other version saves more at no more regret). Hover a point for its numbers.")


def _heatmap(cells: list[dict], columns: list[str], weight: float) -> Figure:
    by_task: dict[str, dict[str, dict]] = {}
    for c in cells:
        by_task.setdefault(c["task"], {})[c["rule_version"]] = c

    def spread(task: str) -> float:
        u = [c["utility"] for c in by_task[task].values() if math.isfinite(c["utility"])]
        return max(u) - min(u) if u else -1.0

    tasks = sorted(sorted(by_task), key=spread, reverse=True)[:HEATMAP_TASKS]
    tasks.sort()
    values, titles = [], []
    for t in tasks:
        row = [by_task[t].get(col) for col in columns]
        values.append([c["utility"] if c else math.nan for c in row])
        titles.append([
            f"{t} × {col}: utility {fmt(c['utility'], 'float')} (saved {fmt(c['compute_saved'], 'pct')}, "
            f"regret {fmt(c['regret'], 'float')}, {c['replays']} replays)"
            if c else f"{t} × {col}: no outcomes" for c, col in zip(row, columns, strict=True)])
    width = max(22, min(64, 720 // max(len(columns), 1)))
    shown = f"the {len(tasks)} of {len(by_task)} tasks where the rules differ most" if len(tasks) < len(by_task) \
        else f"all {len(tasks)} tasks"
    return Figure("heatmap", svg.heatmap(tasks, columns, values, titles,
                                         value_label=f"utility = saved − {weight:g}·regret", cell=(width, 14)),
                  f"Utility per task and rule version ({shown}; rules_by_task.csv has every cell). "
                  "Green saves compute at little regret, red costs more than it saves.")


def build(store: PolicyStore, flt: ReportFilter) -> Section:
    """The rule-version summary with its scatter and killed-best bars, and the task × rule heat map."""
    section = Section(
        key="rules",
        title="Rules across tasks",
        intro="Mean outcome of each rule version over every recorded replay (studies × trial orders). "
              f"Utility = compute saved − {flt.regret_weight:g} × mean regret.",
    )
    summary = rule_summary(store, flt)
    if not summary:
        section.empty = ("No outcomes recorded yet: replay rule versions over recorded studies "
                         "(policy_store.replay.evaluate) to fill this section.")
        return section
    cells = task_rule_cells(store, flt)
    section.tables = [
        Table("rules_summary", "Rule versions", _SUMMARY_COLUMNS, summary),
        Table("rules_by_task", "Task × rule version", _CELL_COLUMNS, cells, shown=SHOWN_CELLS),
    ]
    section.figures = [
        _scatter(summary),
        Figure("killed_best", svg.bars(
            [r["rule_version"] for r in summary], [_nan(r["killed_best_rate"]) for r in summary],
            [f"{r['rule_version']}: the eventual best trial was pruned in {fmt(r['killed_best_rate'], 'pct')} "
             f"of {r['replays']} replays" for r in summary], x_label="share of replays that killed the best trial"),
               "Killed-best rate: how often the rule stopped the trial that would have been the study's best."),
        _heatmap(cells, [r["rule_version"] for r in summary], flt.regret_weight),
    ]
    return section
