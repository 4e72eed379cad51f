"""Drift monitors over time and a rule's lineage: the report's provenance section, narrowed, and one new plot.

The monitors read one observation per outcome, in the order outcomes were
recorded (:mod:`policy_store.drift.windows`); :func:`drift_section` draws that
series per rule version, the newest :data:`MAX_OUTCOMES` outcomes of each rule,
with the rule's drift events where they were detected. The events, jobs and the
versions a recalibration promoted or rejected are the report's provenance
timeline and tables (:func:`policy_store.reports.provenance.build`).

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     drift_section(store, None, "regret").empty[:22]
'No outcomes recorded y'
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime

from policy_store.dashboard.plots import Line, series
from policy_store.drift.observations import REGRET_SCALE_SQL
from policy_store.drift.windows import OUTCOME_METRICS
from policy_store.errors import InvalidInputError, NotFoundError
from policy_store.reports import provenance
from policy_store.reports._base import Column, Figure, Section, Table
from policy_store.reports.filters import ReportFilter
from policy_store.reports.rules_across_tasks import rule_summary
from policy_store.reports.svg import PALETTE
from policy_store.store import PolicyStore

#: Outcomes drawn per rule (the newest), and rules drawn when none is chosen (those with drift events first).
MAX_OUTCOMES, MAX_RULES, MAX_EVENTS = 2000, 6, 200

_SPEC_COLUMNS = (Column("version", "version", "int"), Column("status", "status"), Column("spec", "spec"))
_OUTCOME_COLUMNS = (
    Column("rule_version", "rule version"), Column("tasks", "tasks", "int"), Column("studies", "studies", "int"),
    Column("replays", "outcomes", "int"), Column("compute_saved", "compute saved", "pct"),
    Column("regret", "mean regret", "float"), Column("killed_best_rate", "killed best", "pct"),
    Column("utility", "utility", "float"),
)


def check_rule(store: PolicyStore, rule: str) -> None:
    """Raise :class:`NotFoundError` unless the store has a version of ``rule``."""
    if not store.scalar("SELECT count(*) FROM rule_versions WHERE rule = ?", [rule]):
        raise NotFoundError(f"no rule {rule!r} in the store")


def _figure(rule: str, metric: str, rows: list[tuple], events: list[dict]) -> Figure:
    by_version: dict[int, tuple[list[float], list[float]]] = {}
    for i, (_, version, _, value) in enumerate(rows):
        xs, ys = by_version.setdefault(version, ([], []))
        xs.append(float(i))
        ys.append(float("nan") if value is None else float(value))
    times = [r[2] for r in rows]
    marks = []
    for e in events:
        try:
            at = bisect_right(times, datetime.fromisoformat(str(e["window_end"])))
        except ValueError:
            continue
        marks.append((float(max(at - 1, 0)), f"{e['monitor']} on {rule}@{e['version']}: statistic "
                                             f"{e['statistic']:.4g} > threshold {e['threshold']:.4g}"
                                             f"{', job ' + e['job_id'] if e['job_id'] else ''}"))
    lines = [Line(f"{rule}@{v}", xs, ys, PALETTE[i % len(PALETTE)])
             for i, (v, (xs, ys)) in enumerate(sorted(by_version.items(), key=lambda kv: kv[0] or 0))]
    return Figure(f"monitor_{rule}", series(lines, marks, y_label=metric),
                  f"{rule}: {metric} of each of its newest {len(rows)} outcomes, per version, in the order a monitor "
                  "reads them; dashed red lines are drift events, where they were detected. Hover for details.")


def drift_section(store: PolicyStore, rule: str | None, metric: str) -> Section:
    """The monitored series of ``rule`` (default: the rules with drift events first) with their drift events."""
    if metric not in OUTCOME_METRICS:
        raise InvalidInputError(f"metric must be one of {sorted(OUTCOME_METRICS)}, got {metric!r}", field="metric")
    section = Section(key="monitors", title="Drift monitors",
                      intro=f"What the drift monitors watch: the {metric} of every outcome, per rule version.")
    if rule is not None:
        check_rule(store, rule)
        rules = [rule]
    else:
        rules = [r[0] for r in store.execute(
            "SELECT o.rule FROM (SELECT DISTINCT rule FROM outcomes WHERE rule IS NOT NULL) o LEFT JOIN "
            "(SELECT rule, count(*) AS n FROM drift_events GROUP BY rule) e USING (rule) "
            "ORDER BY coalesce(e.n, 0) DESC, o.rule LIMIT ?", [MAX_RULES]).fetchall()]
    # Each rule's newest outcomes by a top-n of its own (far cheaper than one window over all of them), regret
    # relative as the monitors read it; the metric's expression is a constant and the rules are bound parameters.
    newest = " UNION ALL ".join(
        f"(SELECT rule, version, created_at, {OUTCOME_METRICS[metric]} AS value, outcome_id FROM outcomes o "  # noqa: S608
        f"LEFT JOIN ({REGRET_SCALE_SQL}) sc USING (study) "
        f"WHERE rule = $rule{i} ORDER BY created_at DESC, outcome_id DESC LIMIT $n)" for i in range(len(rules)))
    rows = store.execute(
        f"SELECT rule, version, created_at, value FROM ({newest}) ORDER BY rule, created_at, outcome_id",  # noqa: S608
        {"n": MAX_OUTCOMES, **{f"rule{i}": r for i, r in enumerate(rules)}}).fetchall() if rules else []
    events = store.fetch_dicts(
        "SELECT rule, monitor, version, statistic, threshold, window_end, job_id FROM drift_events "
        "WHERE list_contains($rules, rule) QUALIFY row_number() OVER (PARTITION BY rule ORDER BY detected_at DESC) "
        "<= $n", {"rules": rules, "n": MAX_EVENTS})
    section.figures = [_figure(r, metric, [row for row in rows if row[0] == r], [e for e in events if e["rule"] == r])
                       for r in rules if any(row[0] == r for row in rows)]
    if not section.figures:
        section.empty = "No outcomes recorded yet for " + (f"rule {rule}." if rule else "any rule.")
    return section


def lineage_sections(store: PolicyStore, rule: str) -> list[Section]:
    """Every version of ``rule``: its provenance chain and timeline, its specs, and its outcomes per version."""
    check_rule(store, rule)
    flt = ReportFilter(rules=(rule,))
    specs = store.fetch_dicts("SELECT version, status, spec FROM rule_versions WHERE rule = ? ORDER BY version",
                              [rule])
    outcomes = Section(key="versions", title=f"Versions of {rule}",
                       intro="Each version's spec, and its mean outcomes over every recorded replay and live study.",
                       tables=[Table("specs", "Specs", _SPEC_COLUMNS, specs)])
    summary = rule_summary(store, flt)
    if summary:
        outcomes.tables.append(Table("version_outcomes", "Outcomes per version", _OUTCOME_COLUMNS, summary))
    return [provenance.build(store, flt), outcomes]


def drift_sections(store: PolicyStore, rule: str | None, metric: str) -> list[Section]:
    """The drift page: the monitored series, then events, jobs and promoted/rejected versions over time."""
    flt = ReportFilter(rules=(rule,)) if rule else ReportFilter()
    return [drift_section(store, rule, metric), provenance.build(store, flt)]
