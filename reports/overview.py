"""Section 1, overview: what the store holds (within the report's scope), where it is, its schema version.

>>> from policy_store import PolicyStore
>>> from policy_store.reports.filters import ReportFilter
>>> with PolicyStore.memory() as store:
...     section = build(store, ReportFilter())
>>> [(r["item"], r["count"]) for r in section.tables[1].rows][:3]
[('tasks', 0), ('studies', 0), ('trials', 0)]
"""

from __future__ import annotations

from policy_store.reports._base import Column, Section, Table
from policy_store.reports.filters import ReportFilter

from policy_store.store import PolicyStore

# (item, SQL counting it, which filter columns apply); tables and columns are constants.
_COUNTS = (
    ("tasks", "SELECT count(*) FROM tasks WHERE {w}", {"task": "task"}),
    ("studies", "SELECT count(*) FROM studies WHERE {w}", {"task": "task"}),
    ("trials", "SELECT count(*) FROM trials JOIN studies USING (study) WHERE {w}", {"task": "task"}),
    ("curve points", "SELECT coalesce(sum(n_points), 0) FROM studies WHERE {w}", {"task": "task"}),
    ("rules", "SELECT count(DISTINCT rule) FROM rule_versions WHERE {w}", {"rule": "rule", "version": "version"}),
    ("rule versions", "SELECT count(*) FROM rule_versions WHERE {w}", {"rule": "rule", "version": "version"}),
    ("outcomes (replay)", "SELECT count(*) FROM outcomes WHERE mode = 'replay' AND {w}",
     {"task": "task", "rule": "rule", "version": "version"}),
    ("outcomes (live)", "SELECT count(*) FROM outcomes WHERE mode = 'live' AND {w}",
     {"task": "task", "rule": "rule", "version": "version"}),
    ("decisions", "SELECT count(*) FROM decisions WHERE {w}", {"rule": "rule", "version": "version"}),
    ("recommendations", "SELECT count(*) FROM recommendations WHERE {w}", {"task": "task"}),
    ("meta-models", "SELECT count(*) FROM meta_models WHERE {w}", {}),
    ("drift events", "SELECT count(*) FROM drift_events WHERE {w}", {"rule": "rule"}),
    ("jobs", "SELECT count(*) FROM jobs WHERE {w}", {}),
)


def build(store: PolicyStore, flt: ReportFilter) -> Section:
    """Row counts per kind of record, and the store's location and schema version."""
    rows = []
    for item, sql, columns in _COUNTS:
        where, params = flt.where(**columns)
        rows.append({"item": item, "count": int(store.scalar(sql.format(w=where), params or None))})
    about = [
        {"property": "store", "value": store.location},
        {"property": "schema version", "value": str(store.schema_version)},
        {"property": "tasks in scope", "value": ", ".join(flt.tasks) or "all"},
        {"property": "rules in scope", "value": ", ".join(flt.rules) or "all"},
        {"property": "utility", "value": f"compute saved − {flt.regret_weight:g} × regret"},
    ]
    return Section(
        key="overview",
        title="Overview",
        intro="What the store holds within this report's scope.",
        tables=[
            Table("overview_store", "The store", (Column("property", "property"), Column("value", "value")), about),
            Table("overview_counts", "Records", (Column("item", "record"), Column("count", "count", "int")), rows),
        ],
    )
