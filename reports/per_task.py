"""Section 3, per task: the recommended rule and why (the nearest past tasks), expected against observed outcome.

A recommendation's observed outcome is the mean over the task's recorded
outcomes of the recommended spec, matched by the sha256 of its canonical JSON
(the rule versions' ``spec_hash``); a spec saved as a rule version is named
by it. Without recommendations the section says so and lists, per task, the
best rule version in hindsight (highest utility).

>>> _neighbours('[{"task": "lcdb/3/accuracy", "distance": 0.125, "best_rule": "sh"}, "lcdb/6/accuracy"]')
'lcdb/3/accuracy (0.125; best: sh), lcdb/6/accuracy'
>>> _number({"mean": 0.4, "low": 0.3}), _number("x")
(0.4, nan)
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pandas as pd
from policy_store.reports import svg
from policy_store.reports._base import Column, Figure, Section, Table
from policy_store.reports.filters import ReportFilter
from policy_store.reports.rules_across_tasks import task_rule_cells

from policy_store.store import PolicyStore

#: Tasks shown in HTML/Markdown; the CSV holds every task.
SHOWN_TASKS = 60
#: Nearest past tasks named per recommendation.
NEIGHBOURS = 5

_REC_COLUMNS = (
    Column("task", "task"), Column("recommended", "recommended rule"), Column("why", "nearest past tasks"),
    Column("expected_saved", "expected saved", "pct"), Column("observed_saved", "observed saved", "pct"),
    Column("expected_regret", "expected regret", "float"), Column("observed_regret", "observed regret", "float"),
    Column("observed_replays", "replays", "int"), Column("model_id", "model"), Column("created_at", "when", "time"),
)
_BEST_COLUMNS = (
    Column("task", "task"), Column("best", "best rule version"), Column("compute_saved", "saved", "pct"),
    Column("regret", "mean regret", "float"), Column("utility", "utility", "float"),
    Column("runner_up", "runner-up"), Column("margin", "utility margin", "float"),
)


def _number(value: Any) -> float:
    if isinstance(value, dict):
        value = next((value[k] for k in ("mean", "value", "point", "estimate") if k in value), None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _load(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _neighbours(text: str | None) -> str:
    parts = []
    for n in (_load(text) or [])[:NEIGHBOURS]:
        if isinstance(n, dict):
            name = n.get("task") or n.get("name") or "?"
            d = _number(n.get("distance", n.get("similarity")))
            detail = "; ".join(x for x in (f"{d:.3g}" if math.isfinite(d) else "",
                                           f"best: {n['best_rule']}" if n.get("best_rule") else "") if x)
            parts.append(f"{name} ({detail})" if detail else str(name))
        elif isinstance(n, list | tuple) and n:
            parts.append(f"{n[0]} ({_number(n[1]):.3g})" if len(n) > 1 else str(n[0]))
        else:
            parts.append(str(n))
    return ", ".join(parts)


def _spec_label(spec: Any) -> str:
    if not isinstance(spec, dict):
        return "?"
    params = ", ".join(f"{k}={v}" for k, v in sorted((spec.get("params") or {}).items()))
    return f"{spec.get('rule') or spec.get('strategy', '?')}({params})"


def _observed(store: PolicyStore, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """Mean outcomes and the first rule version named, per (task, spec_hash), in one aggregate query."""
    store.register("_report_recs", pd.DataFrame(keys, columns=["task", "spec_hash"]))
    try:
        rows = store.fetch_dicts(
            "SELECT k.task, k.spec_hash, count(o.spec_hash) AS n, avg(o.compute_saved) AS saved, "
            "avg(o.regret) FILTER (WHERE NOT isnan(o.regret)) AS regret, "
            "(SELECT rule || '@' || CAST(version AS VARCHAR) FROM rule_versions v WHERE v.spec_hash = k.spec_hash "
            " AND v.status = 'active' "
            " ORDER BY created_at, rule LIMIT 1) AS saved_as "
            "FROM _report_recs k LEFT JOIN outcomes o ON o.task = k.task AND o.spec_hash = k.spec_hash "
            "GROUP BY k.task, k.spec_hash")
    finally:
        store.unregister("_report_recs")
    return {(r["task"], r["spec_hash"]): r for r in rows}


def _recommendations(store: PolicyStore, flt: ReportFilter) -> list[dict]:
    where, params = flt.where(task="task")
    recs = store.fetch_dicts(
        f"SELECT task, model_id, spec, expected, neighbours, created_at FROM recommendations WHERE {where} "  # noqa: S608
        "QUALIFY row_number() OVER (PARTITION BY task ORDER BY created_at DESC, recommendation_id) = 1 "
        "ORDER BY task", params or None)
    specs = [_load(r["spec"]) for r in recs]
    hashes = [hashlib.sha256(json.dumps(s, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
              for s in specs]
    observed = _observed(store, [(r["task"], h) for r, h in zip(recs, hashes, strict=True)]) if recs else {}
    rows = []
    for r, spec, spec_hash in zip(recs, specs, hashes, strict=True):
        expected, seen = _load(r["expected"]) or {}, observed[(r["task"], spec_hash)]
        rows.append({
            "task": r["task"], "recommended": seen["saved_as"] or _spec_label(spec),
            "why": _neighbours(r["neighbours"]),
            "expected_saved": _number(expected.get("compute_saved")), "observed_saved": seen["saved"],
            "expected_regret": _number(expected.get("regret")), "observed_regret": seen["regret"],
            "observed_replays": seen["n"], "model_id": r["model_id"], "created_at": r["created_at"],
        })
    return rows


def _best_in_hindsight(store: PolicyStore, flt: ReportFilter) -> list[dict]:
    by_task: dict[str, list[dict]] = {}
    for c in task_rule_cells(store, flt):
        if math.isfinite(c["utility"]):
            by_task.setdefault(c["task"], []).append(c)
    rows = []
    for task, cells in sorted(by_task.items()):
        cells.sort(key=lambda c: (-c["utility"], c["rule_version"]))
        best, second = cells[0], (cells[1] if len(cells) > 1 else None)
        rows.append({"task": task, "best": best["rule_version"], "compute_saved": best["compute_saved"],
                     "regret": best["regret"], "utility": best["utility"],
                     "runner_up": second["rule_version"] if second else "",
                     "margin": best["utility"] - second["utility"] if second else math.nan})
    return rows


def _expected_vs_observed(rows: list[dict]) -> Figure | None:
    points = [svg.Point(r["expected_saved"], r["observed_saved"], r["task"],
                        f"{r['task']}: expected {100 * r['expected_saved']:.1f} %, "
                        f"observed {100 * r['observed_saved']:.1f} % saved") for r in rows
              if r["observed_saved"] is not None and math.isfinite(r["expected_saved"])]
    if not points:
        return None
    return Figure("expected_observed", svg.scatter(points, x_label="expected compute saved",
                                                   y_label="observed compute saved", diagonal=True),
                  "Expected against observed compute saved, one point per recommended task; on the dashed line "
                  "the expectation held. Hover a point for its task.")


def build(store: PolicyStore, flt: ReportFilter) -> Section:
    """Latest recommendation per task with its explanation and observed outcome; else the best rule in hindsight."""
    section = Section(key="tasks", title="Per task: recommended rule and why",
                      intro="The meta-learner's latest recommendation per task, the past tasks it resembles, "
                            "and how the recommended rule did on the task's recorded studies.")
    recs = _recommendations(store, flt)
    if recs:
        section.tables.append(Table("recommendations", "Recommendations", _REC_COLUMNS, recs, shown=SHOWN_TASKS))
        figure = _expected_vs_observed(recs)
        if figure is not None:
            section.figures.append(figure)
        return section
    best = _best_in_hindsight(store, flt)
    if not best:
        section.empty = ("No recommendations and no outcomes recorded yet: fit the meta-learner and recommend, "
                         "or replay rule versions, to fill this section.")
        return section
    section.intro = ("No recommendations recorded yet (the meta-learner writes them). Shown instead: the best "
                     "rule version per task in hindsight, by utility, and its margin over the runner-up.")
    section.tables.append(Table("best_rule_per_task", "Best rule version per task (hindsight)", _BEST_COLUMNS,
                                best, shown=SHOWN_TASKS))
    return section
