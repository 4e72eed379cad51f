"""Section 6, meta-learner evaluation: the held-out comparison stored with each meta-model.

``meta_models.evaluation`` is JSON. The comparison table is read from its list
of per-method records (a top-level list, or the first list of objects under a
key such as ``methods``), or from an object mapping each method to its
metrics; top-level scalars become a summary table.

>>> rows, summary = flatten({"lambda": 20, "methods": [{"method": "median", "compute_saved": 0.43},
...                                                     {"method": "oracle", "compute_saved": 0.71}]})
>>> [(r["method"], r["compute_saved"]) for r in rows], summary
([('median', 0.43), ('oracle', 0.71)], [{'field': 'lambda', 'value': 20}])
>>> flatten({"median": {"regret": 0.008}})[0]
[{'method': 'median', 'regret': 0.008}]
"""

from __future__ import annotations

import json
from typing import Any

from policy_store.reports._base import Column, Section, Table
from policy_store.reports.filters import ReportFilter

from policy_store.store import PolicyStore

_PREFERRED = ("methods", "comparison", "results", "rows", "table", "held_out")
_SHARE_HINTS = ("saved", "rate", "share", "gap_closed")


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _records(items: list[Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if _scalar(v)} for item in items if isinstance(item, dict)]


def flatten(evaluation: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The per-method comparison rows and the top-level scalar fields of one evaluation document."""
    if isinstance(evaluation, list):
        return _records(evaluation), []
    if not isinstance(evaluation, dict):
        return [], []
    summary = [{"field": k, "value": v} for k, v in evaluation.items() if _scalar(v)]
    lists = {k: v for k, v in evaluation.items() if isinstance(v, list) and any(isinstance(i, dict) for i in v)}
    for key in (*_PREFERRED, *lists):
        if key in lists:
            return _records(lists[key]), summary
    per_method = [{"method": k, **{m: x for m, x in v.items() if _scalar(m) and _scalar(x)}}
                  for k, v in evaluation.items() if isinstance(v, dict)]
    return per_method, summary


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
        rows, summary = flatten(json.loads(latest["evaluation"] or "null"))
    except ValueError:
        rows, summary = [], []
    if rows:
        section.tables.append(Table("meta_evaluation", f"Held-out comparison (model {latest['model_id']})",
                                    _columns(rows), rows))
    else:
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
