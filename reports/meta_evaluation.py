"""Section 6, meta-learner evaluation: the held-out comparison stored with each meta-model.

``meta_models.evaluation`` is JSON. The comparison table is read from its list
of per-method records (a top-level list, or the first list of objects under a
key such as ``summary`` or ``methods``; further lists, e.g. per-step rates, follow as
their own tables), or from an object mapping each method to its metrics;
top-level scalars become a settings table.

>>> tables, summary = flatten({"lambda": 20, "per_step": [{"step": 1, "killed_best": 0.1}],
...                            "summary": [{"method": "median", "compute_saved": 0.43},
...                                        {"method": "oracle", "compute_saved": 0.71}]})
>>> [key for key, _ in tables], [(r["method"], r["compute_saved"]) for r in tables[0][1]], summary
(['summary', 'per_step'], [('median', 0.43), ('oracle', 0.71)], [{'field': 'lambda', 'value': 20}])
>>> flatten({"median": {"regret": 0.008}})[0]
[('methods', [{'method': 'median', 'regret': 0.008}])]
"""

from __future__ import annotations

import json
import math
from typing import Any

from policy_store.reports import svg
from policy_store.reports._base import Column, Figure, Section, Table
from policy_store.reports.filters import ReportFilter
from policy_store.reports.pareto import pareto_front

from policy_store.store import PolicyStore

_PREFERRED = ("summary", "methods", "comparison", "results", "rows", "table", "held_out")
#: Rows of each evaluation table shown in HTML/Markdown (per-step tables can be long); the CSV has all.
SHOWN_ROWS = 60
_SHARE_HINTS = ("saved", "rate", "share", "gap_closed")


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _records(items: list[Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if _scalar(v)} for item in items if isinstance(item, dict)]


def flatten(evaluation: Any) -> tuple[list[tuple[str, list[dict[str, Any]]]], list[dict[str, Any]]]:
    """The evaluation's tables, as ``(key, rows)`` with the per-method comparison first, and its top-level scalars."""
    if isinstance(evaluation, list):
        return [("methods", _records(evaluation))], []
    if not isinstance(evaluation, dict):
        return [], []
    summary = [{"field": k, "value": v} for k, v in evaluation.items() if _scalar(v)]
    lists = {k: v for k, v in evaluation.items() if isinstance(v, list) and any(isinstance(i, dict) for i in v)}
    if lists:
        order = [k for k in _PREFERRED if k in lists] + [k for k in lists if k not in _PREFERRED]
        return [(k, _records(lists[k])) for k in order], summary
    per_method = [{"method": k, **{m: x for m, x in v.items() if _scalar(x)}}
                  for k, v in evaluation.items() if isinstance(v, dict)]
    return ([("methods", per_method)] if per_method else []), summary


def _slug(key: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in key.lower())[:40]


def _kind(key: str, rows: list[dict[str, Any]]) -> str:
    values = [r.get(key) for r in rows if r.get(key) is not None]
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        if all(isinstance(v, int) for v in values):
            return "int"
        return "pct" if any(h in key for h in _SHARE_HINTS) else "float"
    return "text"


def _columns(rows: list[dict[str, Any]]) -> tuple[Column, ...]:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return tuple(Column(k, k.replace("_", " "), _kind(k, rows)) for k in keys)


def _comparison_plot(rows: list[dict[str, Any]]) -> Figure | None:
    """Saved against regret per method (the first trade-off ``mode`` when there are several), with the front."""
    first_mode = rows[0].get("mode") if rows else None
    rows = [r for r in rows if r.get("mode") == first_mode and all(
        isinstance(r.get(k), int | float) and math.isfinite(r[k]) for k in ("compute_saved", "regret"))]
    if len(rows) < 2:
        return None
    front = pareto_front([r["compute_saved"] for r in rows], [r["regret"] for r in rows])
    points = [svg.Point(r["regret"], r["compute_saved"], str(r.get("method", "?")),
                        f"{r.get('method', '?')}: saved {100 * r['compute_saved']:.1f} %, regret {r['regret']:.4f}", on)
              for r, on in zip(rows, front, strict=True)]
    scope = f" ({first_mode})" if first_mode else ""
    return Figure("meta_comparison", svg.scatter(points, x_label="mean regret", y_label="compute saved"),
                  f"Held-out compute saved against regret per method{scope}; orange points form the Pareto front.")


def build(store: PolicyStore, flt: ReportFilter) -> Section:
    """The latest meta-model's evaluation tables, and the list of every recorded meta-model."""
    del flt  # a meta-model is trained across tasks and rules: the report's scope does not narrow it
    section = Section(key="meta", title="Meta-learner evaluation",
                      intro="Held-out comparison of the meta-learned recommendation against Optuna's defaults, "
                            "the best single rule and the per-task oracle, as recorded with the latest meta-model.")
    models = store.fetch_dicts("SELECT model_id, created_at, left(sha256, 12) AS sha256, path, evaluation "
                               "FROM meta_models ORDER BY created_at DESC, model_id")
    if not models:
        section.empty = "No meta-model recorded yet: fit the meta-learner (policy-store meta fit) to fill this section."
        return section
    latest = models[0]
    try:
        tables, summary = flatten(json.loads(latest["evaluation"] or "null"))
    except ValueError:
        tables, summary = [], []
    figure = _comparison_plot(tables[0][1]) if tables else None
    if figure is not None:
        section.figures.append(figure)
    for i, (key, rows) in enumerate(tables):
        name = "meta_evaluation" if i == 0 else f"meta_evaluation_{_slug(key)}"
        title = f"Held-out comparison (model {latest['model_id']})" if i == 0 else key.replace("_", " ").capitalize()
        section.tables.append(Table(name, title, _columns(rows), rows, shown=SHOWN_ROWS))
    if not tables:
        section.intro += f" Model {latest['model_id']} has no evaluation recorded yet (policy-store meta evaluate)."
    if summary:
        section.tables.append(Table("meta_evaluation_summary", "Evaluation settings and totals",
                                    (Column("field", "field"), Column("value", "value")), summary))
    for m in models:
        m.pop("evaluation")
    section.tables.append(Table("meta_models", "Meta-models", (
        Column("model_id", "model"), Column("created_at", "created", "time"), Column("sha256", "sha256"),
        Column("path", "artifact")), models))
    return section
