"""One study's pruning trajectory: recorded decisions and those still in the spool of a running study.

The plots are the report's (:func:`policy_store.reports.decisions.decision_figures`):
curves coloured by decision, cut at the step each trial was pruned, with the rule
version and the reason on hover. A study that is still running has no curves in
the store yet: its curves are the values its decisions saw, step by step.
Decisions of audit trials (shadow prunes of the rule's ``audit_fraction``) are
marked in the table and in the trial's label.

>>> rows = reduce_pending([
...     {"decision_id": "a", "study": "s", "trial": "3", "trial_number": 3, "step": 1, "value": 0.4,
...      "threshold": None, "ref_size": 0, "verdict": "continue", "reason": "warm-up", "rule": "r", "version": 1,
...      "spec_hash": "h", "decided_at": "2026-01-01T00:00:00"},
...     {"decision_id": "b", "study": "s", "trial": "3", "trial_number": 3, "step": 2, "value": 0.3,
...      "threshold": 0.5, "ref_size": 4, "verdict": "prune", "reason": "below the median", "rule": "r",
...      "version": 1, "spec_hash": "h", "decided_at": "2026-01-01T00:00:01"}])
>>> [(r["rule_version"], r["trial"], r["verdict"], r["step"], r["decisions"]) for r in rows]
[('r@1', '3', 'prune', 2, 2)]
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from policy_store.errors import NotFoundError
from policy_store.reports._base import Column, Section, Table
from policy_store.reports.decisions import MAX_TRIALS, decision_figures, study_curves, study_decisions
from policy_store.reports.filters import ReportFilter
from policy_store.store import PolicyStore

#: The mode a spooled decision is shown under until the store absorbs it.
PENDING = "live, not absorbed yet"
_AUDIT_PREFIXES = ("audit:", "audited trial")

RUN_COLUMNS = (
    Column("rule_version", "rule version"), Column("mode", "mode"), Column("trials", "trials decided", "int"),
    Column("pruned", "pruned", "int"), Column("audited", "audit trials", "int"),
    Column("decisions", "decisions", "int"), Column("last", "last decision"),
)
DECISION_COLUMNS = (
    Column("rule_version", "rule version"), Column("mode", "mode"), Column("position", "position", "int"),
    Column("trial", "trial"), Column("verdict", "verdict"), Column("step", "step", "int"),
    Column("value", "value", "float"), Column("threshold", "threshold", "float"),
    Column("ref_size", "reference trials", "int"), Column("audit", "audit"), Column("reason", "reason"),
    Column("decisions", "decisions recorded", "int"),
)


def _label(rec: dict[str, Any]) -> str:
    return f"{rec['rule']}@{rec['version']}" if rec.get("version") is not None else str(rec["rule"])


def is_audit(reason: str | None) -> bool:
    """Whether a decision's reason says it concerns an audit trial (a shadow prune, or an exempt trial).

    >>> is_audit("audit: would prune at step 3: below the median"), is_audit("below the median")
    (True, False)
    """
    return bool(reason) and str(reason).startswith(_AUDIT_PREFIXES)


def reduce_pending(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spooled decisions as the report's rows: per run and trial, its prune decision, else its latest one."""
    by_trial: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        by_trial[(_label(rec), rec["trial"])].append(rec)
    rows = []
    for (label, trial), recs in by_trial.items():
        prunes = [r for r in recs if r["verdict"] == "prune"]
        d = min(prunes, key=lambda r: r["step"] or 0) if prunes else max(recs, key=lambda r: (r["step"] or 0,
                                                                                                r["decided_at"]))
        audit = any(is_audit(r["reason"]) for r in recs)
        rows.append({"rule_version": label, "mode": PENDING, "order_seed": None, "position": d["trial_number"],
                     "trial": trial, "verdict": d["verdict"], "step": d["step"], "value": d["value"],
                     "threshold": d["threshold"], "ref_size": d["ref_size"], "reason": d["reason"],
                     "decisions": len(recs), "audit": "yes" if audit else "", "last": max(r["decided_at"]
                                                                                           for r in recs)})
    rows.sort(key=lambda r: (r["rule_version"], r["position"]))
    return rows


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """NULL values and thresholds as NaN (the hover text formats them as numbers)."""
    for k in ("value", "threshold"):
        row[k] = math.nan if row[k] is None else float(row[k])
    row["ref_size"] = row["ref_size"] or 0
    row.setdefault("audit", "yes" if is_audit(row["reason"]) else "")
    if row["audit"]:
        row["trial"] = f"{row['trial']} (audit)"
    return row


def _runs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        run = runs.setdefault((r["rule_version"], r["mode"]), {"rule_version": r["rule_version"], "mode": r["mode"],
                                                                "trials": 0, "pruned": 0, "audited": 0,
                                                                "decisions": 0, "last": ""})
        run["trials"] += 1
        run["pruned"] += r["verdict"] == "prune"
        run["audited"] += bool(r["audit"])
        run["decisions"] += r["decisions"]
        run["last"] = max(run["last"], str(r.get("last") or ""))
    return list(runs.values())


def _decided_curves(records: list[dict[str, Any]]) -> dict[str, tuple[list[float], list[float]]]:
    """Per trial, the values its decisions saw (a running study's only curves)."""
    points: dict[str, dict[float, float]] = defaultdict(dict)
    for r in records:
        if r["step"] is not None:
            points[r["trial"]][float(r["step"])] = math.nan if r["value"] is None else float(r["value"])
    return {t: (sorted(p), [p[s] for s in sorted(p)]) for t, p in points.items()}


@dataclass(frozen=True)
class StudyRecords:
    """What the store holds on one study: read in one short open, cached while the store does not change."""

    study: str
    task: str | None
    metric: str | None
    absorbed: frozenset[str]
    rows: list[dict[str, Any]]
    curves: dict[str, tuple[list[float], list[float]]]


def study_records(store: PolicyStore, study: str) -> StudyRecords:
    """The study's task, its live decision ids, its decisions as the report's rows, and its curves."""
    info = store.fetch_dicts("SELECT s.task, t.metric FROM studies s JOIN tasks t USING (task) WHERE s.study = ?",
                             [study])
    absorbed = frozenset(r[0] for r in store.execute(
        "SELECT decision_id FROM decisions WHERE study = ? AND mode = 'live'", [study]).fetchall())
    rows = study_decisions(store, ReportFilter(), study)
    return StudyRecords(study, info[0]["task"] if info else None, info[0]["metric"] if info else None, absorbed,
                        rows, study_curves(store, study) if info else {})


def study_section(records: StudyRecords, pending: list[dict[str, Any]]) -> Section:
    """The trajectory of the study: runs, curves and timeline per run, and the deciding decision per trial.

    ``pending`` are the spooled decisions of running studies (those of other studies are ignored).

    Raises
    ------
    NotFoundError
        Neither the store nor the spool knows the study.
    """
    study = records.study
    waiting = [r for r in pending if r["study"] == study and r["decision_id"] not in records.absorbed]
    if records.task is None and not waiting and not records.rows:
        raise NotFoundError(f"no study {study!r} in the store or in the spool of a running study")
    live = reduce_pending(waiting)
    live = [r for r in live if r["position"] is not None][-MAX_TRIALS:] + [r for r in live if r["position"] is None]
    rows = [_clean(dict(r)) for r in live + records.rows]
    curves = dict(records.curves)
    for trial, curve in _decided_curves(waiting).items():
        curves.setdefault(trial, curve)
    for r in rows:  # the label carries the audit mark; the curve is the trial's
        curves.setdefault(r["trial"], curves.get(r["trial"].removesuffix(" (audit)"), ([], [])))
    section = Section(key="study", title=f"Study {study}",
                      intro=f"Task {records.task or 'not recorded yet'}. Each plot shows the trials' curves under one "
                            "rule version: a pruned trial is solid up to the step it was stopped (×) and dashed after "
                            "it. Hover a curve for the rule version and the reason. Trials of a running study appear "
                            "as its workers spool their decisions.")
    if not rows:
        section.empty = "No pruning decisions for this study yet."
        return section
    section.figures = decision_figures(rows, curves, records.metric or "value")
    section.tables = [Table("runs", "Runs", RUN_COLUMNS, _runs(rows)),
                      Table("decisions", f"Decisions on {study}", DECISION_COLUMNS, rows, shown=2 * MAX_TRIALS)]
    return section
