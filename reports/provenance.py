"""Section 5, provenance: each rule's version chain (who or what, from what, why), jobs and drift events in time.

>>> from policy_store import PolicyStore
>>> from policy_store.reports.filters import ReportFilter
>>> with PolicyStore.memory() as store:
...     build(store, ReportFilter()).empty[:25]
'No rule versions recorded'
"""

from __future__ import annotations

from policy_store.reports import svg
from policy_store.reports._base import Column, Figure, Section, Table
from policy_store.reports.filters import ReportFilter

from policy_store.store import PolicyStore

#: Drift events and jobs drawn on the timeline (the newest); the tables list all of them.
MAX_MARKS = 200
SHOWN_ROWS = 100
SOURCE_COLOURS = {"manual": svg.PALETTE[0], "meta-learner": svg.PALETTE[1], "recalibration": svg.PALETTE[2]}
JOB_COLOURS = {"succeeded": svg.PALETTE[2], "failed": svg.PALETTE[3], "running": svg.PALETTE[1],
               "noop": svg.PALETTE[8]}

_LINKS = (("meta-model", "meta_model_id"), ("drift event", "drift_event_id"), ("job", "job_id"))
_VERSION_COLUMNS = (
    Column("rule", "rule"), Column("version", "version", "int"), Column("parent_version", "from version", "int"),
    Column("created_by", "created by"), Column("source", "source"), Column("reason", "why"),
    Column("strategy", "strategy"), Column("status", "status"), Column("created_at", "created", "time"),
    Column("links", "made from"),
)
_EVENT_COLUMNS = (
    Column("detected_at", "detected", "time"), Column("monitor", "monitor"), Column("rule_version", "rule version"),
    Column("scope", "scope"), Column("statistic", "statistic", "float"), Column("threshold", "threshold", "float"),
    Column("job_id", "job"),
)
_JOB_COLUMNS = (
    Column("job_id", "job"), Column("kind", "kind"), Column("status", "status"), Column("trigger", "trigger"),
    Column("started_at", "started", "time"), Column("ended_at", "ended", "time"),
)


def _versions(store: PolicyStore, flt: ReportFilter) -> list[dict]:
    where, params = flt.where(rule="rule", version="version")
    rows = store.fetch_dicts(
        "SELECT rule, version, parent_version, created_by, source, reason, "  # noqa: S608
        "json_extract_string(spec, '$.strategy') AS strategy, status, created_at, meta_model_id, drift_event_id, "
        f"job_id FROM rule_versions WHERE {where} ORDER BY rule, version", params or None)
    for r in rows:
        links = [(k, r.pop(c)) for k, c in _LINKS]
        r["links"] = "; ".join(f"{k} {str(v)[:16]}" for k, v in links if v)
    return rows


def _events(store: PolicyStore, flt: ReportFilter) -> list[dict]:
    where, params = flt.where(rule="rule")
    return store.fetch_dicts(
        "SELECT detected_at, monitor, rule || coalesce('@' || CAST(version AS VARCHAR), '') AS rule_version, "  # noqa: S608
        f"scope, statistic, threshold, job_id FROM drift_events WHERE {where} ORDER BY detected_at DESC, event_id",
        params or None)


def _jobs(store: PolicyStore) -> list[dict]:
    return store.fetch_dicts("SELECT job_id, kind, status, trigger, started_at, ended_at FROM jobs "
                             "ORDER BY started_at DESC, job_id")


def _timeline(versions: list[dict], events: list[dict], jobs: list[dict]) -> Figure:
    marks: list[svg.Mark] = []
    index: dict[tuple[str, int], int] = {}
    for v in versions:
        index[(v["rule"], v["version"])] = len(marks)
        # A rejected candidate stays on its rule's line (it has a number and a parent), marked as such.
        rejected = v["status"] == "rejected"
        marks.append(svg.Mark(
            f"rule {v['rule']}", v["created_at"], f"{v['rule']}@{v['version']}{' (rejected)' if rejected else ''} "
            f"by {v['created_by']} ({v['source']}) from version {v['parent_version'] or '–'}: "
            f"{v['reason'] or 'no reason given'}",
            SOURCE_COLOURS.get(v["source"], svg.PALETTE[4]), label=f"v{v['version']}{' rejected' if rejected else ''}"))
    links = [(index[(v["rule"], v["parent_version"])], index[(v["rule"], v["version"])]) for v in versions
             if (v["rule"], v["parent_version"]) in index]
    for e in events[:MAX_MARKS]:
        marks.append(svg.Mark("drift events", e["detected_at"],
                              f"{e['monitor']} on {e['rule_version']} ({e['scope']}): statistic "
                              f"{e['statistic']:.4g} > threshold {e['threshold']:.4g}", svg.PALETTE[3], "triangle"))
    for j in jobs[:MAX_MARKS]:
        marks.append(svg.Mark(f"jobs: {j['kind']}", j["started_at"],
                              f"{j['kind']} job {j['job_id']} ({j['status']}, trigger {j['trigger']})",
                              JOB_COLOURS.get(j["status"], svg.PALETTE[8]), "bar", until=j["ended_at"]))
    legend = ", ".join(f"{k}: {c}" for k, c in (("blue", "manual"), ("orange", "meta-learner"),
                                                  ("green", "recalibration")))
    return Figure("provenance_timeline", svg.event_timeline(marks, links=links),
                  f"Rule versions (dots, joined to the version they derive from; {legend}; candidates a "
                  "recalibration rejected are labelled so), drift events "
                  "(red triangles) and jobs (bars from start to end) over time. Hover for details.")


def build(store: PolicyStore, flt: ReportFilter) -> Section:
    """Version chains, drift events and jobs as tables, and all of them on one timeline."""
    section = Section(key="provenance", title="Provenance",
                      intro="Every rule version with who or what created it, from which version, and why; "
                            "the drift events and recalibration jobs behind new versions.")
    versions, events, jobs = _versions(store, flt), _events(store, flt), _jobs(store)
    if not versions:
        section.empty = "No rule versions recorded yet: add one with policy_store.rules.add_rule_version."
        return section
    section.figures.append(_timeline(versions, events, jobs))
    section.tables += [
        Table("rule_versions", "Rule versions", _VERSION_COLUMNS, versions, shown=SHOWN_ROWS),
        Table("drift_events", "Drift events", _EVENT_COLUMNS, events, shown=SHOWN_ROWS,
              note="" if events else "No drift events recorded yet."),
        Table("jobs", "Jobs", _JOB_COLUMNS, jobs, shown=SHOWN_ROWS, note="" if jobs else "No jobs recorded yet."),
    ]
    return section
