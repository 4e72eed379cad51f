"""Section 4, pruning decisions of one study: its trials' curves, cut where the rule stopped them, and why.

The study is the report filter's ``study`` or, by default, the one with the
most rule versions deciding on it (live decisions first). Up to
:data:`MAX_VERSIONS` rule versions are drawn side by side, each under its first
recorded trial order, with at most :data:`MAX_TRIALS` trials per plot. A trial
decided at many steps (live pruning records every ``should_prune`` call) shows
its prune decision, or its last one when it was never pruned.

>>> from policy_store import PolicyStore
>>> from policy_store.reports.filters import ReportFilter
>>> with PolicyStore.memory() as store:
...     build(store, ReportFilter()).empty[:29]
'No pruning decisions recorded'
"""

from __future__ import annotations

import math
import shlex

from policy_store.reports import svg
from policy_store.reports._base import Column, Figure, Section, Table
from policy_store.reports.filters import ReportFilter

from policy_store.errors import NotFoundError
from policy_store.store import PolicyStore

MAX_VERSIONS = 3
MAX_TRIALS = 60

_COLUMNS = (
    Column("rule_version", "rule version"), Column("mode", "mode"), Column("order_seed", "order", "int"),
    Column("position", "position", "int"), Column("trial", "trial"), Column("verdict", "verdict"),
    Column("step", "step", "int"), Column("value", "value", "float"), Column("threshold", "threshold", "float"),
    Column("ref_size", "reference trials", "int"), Column("reason", "reason"),
    Column("decisions", "decisions recorded", "int"),
)
_LABEL = "coalesce(rule, 'spec:' || left(spec_hash, 12)) || coalesce('@' || CAST(version AS VARCHAR), '')"


def _pick_study(store: PolicyStore, flt: ReportFilter) -> str | None:
    where, params = flt.where(rule="d.rule", version="d.version")
    if flt.tasks:
        task_where, task_params = flt.where(task="s.task")
        where, params = f"{where} AND {task_where}", {**params, **task_params}
    if flt.study is not None:
        where, params = f"{where} AND d.study = $study", {**params, "study": flt.study}
    return store.scalar(
        f"SELECT d.study FROM decisions d JOIN studies s USING (study) WHERE {where} "  # noqa: S608
        "GROUP BY d.study ORDER BY max(CAST(d.mode = 'live' AS INTEGER)) DESC, "
        f"count(DISTINCT {_LABEL}) DESC, count(*) FILTER (WHERE d.verdict = 'prune') DESC, d.study LIMIT 1",
        params or None)


def study_decisions(store: PolicyStore, flt: ReportFilter, study: str) -> list[dict]:
    """One row per trial and run (rule version, mode) of ``study``: its prune decision, else its last one."""
    where, params = flt.where(rule="rule", version="version")
    return store.fetch_dicts(
        f"""WITH runs AS (
                SELECT {_LABEL} AS rule_version, mode AS run_mode, min(order_seed) AS order_seed,
                       max(decided_at) AS last_at
                FROM decisions WHERE study = $study AND {where} GROUP BY rule_version, run_mode
                ORDER BY run_mode = 'live' DESC, last_at DESC, rule_version LIMIT {MAX_VERSIONS})
            SELECT r.rule_version, d.mode, d.order_seed, d.trial_number AS position, d.trial, d.verdict, d.step,
                   d.value, d.threshold, d.ref_size, d.reason,
                   count(*) OVER (PARTITION BY r.rule_version, d.mode, d.trial) AS decisions
            FROM decisions d JOIN runs r ON {_LABEL} = r.rule_version AND d.mode = r.run_mode
                 AND d.order_seed IS NOT DISTINCT FROM r.order_seed
            WHERE d.study = $study AND d.trial_number < {MAX_TRIALS}
            QUALIFY row_number() OVER (PARTITION BY r.rule_version, d.mode, d.trial
                                       ORDER BY d.verdict = 'prune' DESC,
                                                CASE WHEN d.verdict = 'prune' THEN d.step END, d.step DESC) = 1
            ORDER BY r.rule_version, d.mode, d.trial_number""",  # noqa: S608 - constants only
        {**params, "study": study})


def study_curves(store: PolicyStore, study: str) -> dict[str, tuple[list[float], list[float]]]:
    """Each trial's recorded curve as (steps, values)."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    for trial, steps, values in store.execute(
            "SELECT trial, list(step ORDER BY step), list(value ORDER BY step) FROM curve_points "
            "WHERE study = ? GROUP BY trial", [study]).fetchall():
        out[trial] = ([float(s) for s in steps], [math.nan if v is None else float(v) for v in values])
    return out


def _trial_title(d: dict) -> str:
    head = f"trial {d['trial']} (position {d['position']}): {d['verdict']} at step {d['step']}"
    if d["verdict"] == "prune":
        return (f"{head}; value {d['value']:.4g} vs threshold {d['threshold']:.4g} over {d['ref_size']} "
                f"reference trials; reason: {d['reason']}")
    return f"{head}; {d['reason']}"


def decision_figures(rows: list[dict], curves: dict[str, tuple[list[float], list[float]]],
                     metric: str) -> list[Figure]:
    """Per run in ``rows`` (as :func:`study_decisions` gives them): its curves plot and its trial timeline."""
    figures = []
    for version, mode in dict.fromkeys((r["rule_version"], r["mode"]) for r in rows):
        trials = []
        for d in (r for r in rows if (r["rule_version"], r["mode"]) == (version, mode)):
            steps, values = curves.get(d["trial"], ([], []))
            cut = sum(1 for s in steps if s <= d["step"]) if d["verdict"] == "prune" else len(steps)
            trials.append(svg.TrialCurve(str(d["trial"]), steps, values, cut,
                                         d["verdict"] == "prune", _trial_title(d)))
        pruned = sum(t.pruned for t in trials)
        run = f"{version} ({mode})"
        figures.append(Figure(
            f"curves_{len(figures)}", svg.curves(trials, x_label="step", y_label=metric, width=560),
            f"{run}: {pruned} of {len(trials)} trials pruned. Hover a curve for its decision.", half=True))
        figures.append(Figure(
            f"timeline_{len(figures)}", svg.trial_timeline(trials, x_label="step", width=540),
            f"{run}: trials in the order the rule saw them, each bar up to the step it ran to.", half=True))
    return figures


def build(store: PolicyStore, flt: ReportFilter) -> Section:
    """The chosen study's decisions per rule version: curves and timeline plots, and the decision table."""
    section = Section(key="decisions", title="Pruning decisions of a study")
    study = _pick_study(store, flt)
    if study is None:
        if flt.study is not None:
            command = f"policy-store evaluate {' '.join(flt.rules) or 'RULE'} --study {shlex.quote(flt.study)}"
            raise NotFoundError(f"no pruning decisions recorded for study {flt.study!r} within the report's scope; "
                                f"`{command} --decisions` records them (or prune it live with StorePruner)")
        section.empty = ("No pruning decisions recorded yet: replay with `policy-store evaluate RULE --decisions` "
                         "(record_decisions=True) or prune live with the Optuna integration to fill this section.")
        return section
    info = store.fetch_dicts("SELECT s.task, t.metric FROM studies s JOIN tasks t USING (task) WHERE s.study = ?",
                             [study])[0]
    rows = study_decisions(store, flt, study)
    section.intro = (f"Study {study} of task {info['task']}: each plot shows its trials' curves; a pruned trial is "
                     "drawn solid up to the step the rule stopped it and dashed after it. At most "
                     f"{MAX_VERSIONS} rule versions and {MAX_TRIALS} trials are drawn.")
    section.figures = decision_figures(rows, study_curves(store, study), info["metric"] or "value")
    section.tables.append(Table("decisions", f"Decisions on {study}", _COLUMNS, rows, shown=MAX_TRIALS))
    return section
