"""The recalibration job: act on drift in new studies, re-tune on post-change studies, earn promotion.

Safe to run from cron or any scheduler:

* **one at a time** -- it holds the store's ``recalibrate`` lock
  (:meth:`PolicyStore.lock <policy_store.store.PolicyStore.lock>`, released
  even on SIGKILL) while it runs; a second run raises
  :class:`~policy_store.errors.JobLockedError`;
* **incremental** -- it looks only at rules with outcomes newer than the
  watermark of the last run, and a run with nothing new is a no-op
  (recorded as a ``noop`` job);
* **all or nothing** -- drift events, the new rule version, its outcomes on the
  post-change studies and the job's result are written in one fenced unit of
  work (:meth:`PolicyStore.run_atomic <policy_store.store.PolicyStore.run_atomic>`):
  a job killed halfway leaves nothing half-written, and on a DuckLake a
  concurrent writer's commit makes the job re-run from its first read.

For every such rule the job takes the current version's oldest scheduled
drift event still open or pending (recorded by ``policy-store cycle`` after a
study, or by this job's own monitors, :data:`DEFAULT_MONITORS`, one observation
per study, thresholds calibrated to :data:`DEFAULT_ARL` studies per false alarm
per rule). It re-tunes only on the studies from the event's change point on;
with fewer than ``min_studies`` of them, or fewer than ``min_confirm`` after the
alarm, the event is **pending** and records how many more studies it needs.
Then the candidate must earn promotion (:mod:`~policy_store.drift.promotion`):
drift confirmed on studies the detector did not use (the studies after the
alarm, worse than all the pre-change studies and than those of them the
detector scanned but did not calibrate on: at least ``min_confirm`` of each;
after a rejection, later alarms of the version are confirmed against the studies
before the earliest rejected change point),
a paired margin in the
drifted metric with a simultaneous confidence bound, killed-best no worse by a
lower confidence bound, compute saved at least a floor of the lineage's pre-drift
baseline. A winner becomes a new version (source ``recalibration``, provenance
linking the event and the job, outcomes on the post-change studies as its
history); a loser is recorded as a version with status ``rejected`` and the
figures, and the monitors resume after its alarm.

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     recalibrate(store).status
'noop'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from policy_store.drift._base import check_fraction, check_int, check_positive
from policy_store.drift.events import DriftEvent, list_events, open_events, set_event_status
from policy_store.drift.jobs import Job, finish_job, last_watermark, start_job
from policy_store.drift.monitor import MAX_REFERENCE, Monitor, position_after
from policy_store.drift.observations import study_observations
from policy_store.drift.promotion import (
    CONFIDENCE,
    FLOOR,
    MARGIN,
    Verdict,
    confirmation_bound,
    judge,
    lineage_baseline,
    simultaneous_critical,
)
from policy_store.drift.retuning import OBJECTIVES, Retune, retune
from policy_store.drift.windows import Scope

from policy_store.curves import StudyCurves, load_curves
from policy_store.errors import NotFoundError
from policy_store.replay import replay_outcomes, write_outcomes
from policy_store.rules import RuleVersion, add_rule_version, get_rule_version
from policy_store.store import PolicyStore

KIND = "recalibrate"

#: Studies per false alarm of each rule's scheduled monitors together (each of the three runs at 3x this).
DEFAULT_ARL = 1000.0
#: (metric, detector) pairs the scheduled monitors watch on every rule's current version. The early-vs-final
#: rank correlation of the study's curves is what every pruner assumes; when a family or dataset mix changes it
#: moves 1.5-3 standard deviations where killed-best moves 0.5-0.9, so it finds the changes that raise the
#: rule's risk by a small amount per study far sooner (``benchmarks/RESULTS.md``, "Drift"). An alarm on it is
#: re-tuned on killed-best and must earn promotion there like any other.
#: Killed-best and regret move by an unknown 0.5-2.9 sd: a GLR statistic (shift >= 2x the slack, size estimated)
#: held 0.88 false alarms per 1,000 studies where CUSUM held 1.06-1.07 at the same target, finding as many
#: changes as soon or sooner (seeds 20,000+ and 30,000+; ``benchmarks/RESULTS.md``, "Drift").
DEFAULT_MONITORS: tuple[tuple[str, str], ...] = (
    ("killed_best", "glr"), ("regret", "glr"), ("rank_correlation", "cusum"))  # fmt: skip
#: Fewest post-change studies to re-tune on; fewest after the alarm to confirm the drift.
MIN_STUDIES, MIN_CONFIRM = 10, 5


def scheduled_monitors(
    rule: str, version: int, monitors: Sequence[tuple[str, str]] = DEFAULT_MONITORS, arl: float = DEFAULT_ARL
) -> list[Monitor]:
    """The scheduled monitors of ``rule@version``, splitting ``arl`` between them."""
    return [Monitor(Scope(rule, version=version), metric, kind, origin="scheduled", arl=arl * len(monitors))
            for metric, kind in monitors]  # fmt: skip


@dataclass
class RecalibrationResult:
    """What a run did (or, with ``dry_run``, would do).

    ``status`` says it plainly: ``noop`` (nothing new since the last run), ``no drift``,
    or ``drift`` (then ``promoted``, ``rejected`` and ``pending`` say what became of it).
    """

    job_id: str | None
    status: str
    watermark: str | None
    dry_run: bool = False
    rules_checked: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    promoted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Settings:
    """The job's knobs (see :func:`recalibrate`)."""

    monitors: Sequence[tuple[str, str]]
    arl: float
    orders: int
    min_studies: int
    min_confirm: int
    margin: float
    floor: float
    confidence: float


def recalibrate(
    store: PolicyStore,
    *,
    trigger: str = "manual",
    dry_run: bool = False,
    monitors: Sequence[tuple[str, str]] = DEFAULT_MONITORS,
    arl: float = DEFAULT_ARL,
    orders: int = 3,
    min_studies: int = MIN_STUDIES,
    min_confirm: int = MIN_CONFIRM,
    margin: float = MARGIN,
    floor: float = FLOOR,
    confidence: float = CONFIDENCE,
) -> RecalibrationResult:
    """Run one recalibration job (see the module docstring).

    Parameters
    ----------
    store:
        An open, writable store.
    trigger:
        Recorded with the job (``cron``, ``manual``, ...).
    dry_run:
        Detect and re-tune, but write nothing (no job row either).
    monitors:
        ``(metric, detector)`` pairs watched on each rule's current version.
    arl:
        Target studies per false alarm of one rule's monitors together.
    orders:
        Trial orders per study in the re-tuning replay.
    min_studies, min_confirm:
        Post-change studies needed to re-tune, and studies after the alarm to confirm it.
    margin:
        Gain in the drifted metric a candidate needs, as a fraction of the current level (paired, post-change).
    floor:
        Fraction of the lineage's pre-drift compute saved a candidate must keep.
    confidence:
        Of the confirmation and paired bounds.

    Raises
    ------
    JobLockedError
        Another recalibration job is running.
    """
    for name, value in (("orders", orders), ("min_studies", min_studies), ("min_confirm", min_confirm)):
        check_int(name, value, minimum=1)
    check_positive("arl", arl)
    check_positive("margin", margin, allow_zero=True)
    check_fraction("floor", floor)
    check_fraction("confidence", confidence)
    settings = Settings(tuple(monitors), arl, orders, min_studies, min_confirm, margin, floor, confidence)
    if dry_run:
        return store.run_atomic(lambda s: _run(s, None, settings))
    with store.lock(KIND):
        job = start_job(store, KIND, trigger=trigger)
        try:
            # ``_run`` reads, decides and writes inside the unit and builds a fresh result each time, so a
            # re-run after a commit conflict redoes the whole job and reports only what it committed.
            return store.run_atomic(lambda s: _run(s, job, settings))
        except BaseException as e:
            finish_job(store, job, "failed", watermark=None, result={"error": f"{type(e).__name__}: {e}"})
            raise


def _run(store: PolicyStore, job: Job | None, settings: Settings) -> RecalibrationResult:
    job_id = job.job_id if job else None
    previous = last_watermark(store, KIND)
    snapshot = store.scalar("SELECT max(created_at) FROM outcomes")
    if snapshot is None or (previous is not None and snapshot <= datetime.fromisoformat(previous)):
        result = RecalibrationResult(job_id, "noop", previous, dry_run=job is None)
        if job:
            finish_job(store, job, "noop", watermark=previous, result=result.to_dict())
        return result
    if job:
        # The watermark below says "every outcome up to here was looked at": an outcome writer committing
        # while this job runs must make one of the two re-run (its fenced unit stamps created_at anew).
        store.fence()
    result = RecalibrationResult(job_id, "no drift", snapshot.isoformat(), dry_run=job is None)
    for rule in _rules_with_new_outcomes(store, previous):
        _process_rule(store, rule, result, job_id, settings)
    if result.events or result.promoted or result.rejected or result.pending:
        result.status = "drift"
    if job:
        # Outcomes this job wrote are its own: the next run starts after them.
        result.watermark = store.scalar("SELECT max(created_at) FROM outcomes").isoformat()
        finish_job(store, job, "succeeded", watermark=result.watermark, result=result.to_dict())
    return result


def _rules_with_new_outcomes(store: PolicyStore, after: str | None) -> list[str]:
    rows = store.execute(
        "SELECT DISTINCT rule FROM outcomes WHERE rule IS NOT NULL "
        "AND (CAST(? AS TIMESTAMP) IS NULL OR created_at > CAST(? AS TIMESTAMP)) ORDER BY rule",
        [after, after],
    ).fetchall()
    return [r[0] for r in rows]


def _process_rule(store: PolicyStore, rule: str, result: RecalibrationResult, job_id: str | None,
                  settings: Settings) -> None:  # fmt: skip
    try:
        current = get_rule_version(store, rule)
    except NotFoundError:
        return  # outcomes of a rule the store has no versions of (e.g. live-only): nothing to re-tune
    result.rules_checked.append(current.ref)
    waiting = open_events(store, rule, current.version)
    event = waiting[0] if waiting else None
    if event is None:
        for monitor in scheduled_monitors(rule, current.version, settings.monitors, settings.arl):
            event = monitor.check(store, record=not result.dry_run).event
            if event is not None:
                break
    if event is None:
        return
    result.events.append(_event_dict(event))
    _handle(store, current, event, result, job_id, settings)


def _handle(store: PolicyStore, current: RuleVersion, event: DriftEvent, result: RecalibrationResult,
            job_id: str | None, settings: Settings) -> None:  # fmt: skip
    rule, write = current.rule, not result.dry_run
    metric = event.monitor.split(":")[0]
    watched = study_observations(store, rule, current.version, metric)
    change = position_after(watched, event.change_study, event.change_at) - 1
    # Confirmation compares the studies after the alarm (which the detector did not use) with the studies
    # before the change point twice, and needs both bounds > 0: with all of them (the detector's reference
    # included) and with only those it scanned but did not calibrate on. A reference that happened to look
    # good makes the detector fire on a stable stream, and compared with that same reference the studies
    # after the alarm confirm the false alarm; the scanned studies alone are selected too (the change point
    # is placed after the stretch that looked no worse than the reference), so neither comparison suffices.
    # A change once rejected as unconfirmed would contaminate every later confirmation: the monitor resumes
    # after that alarm, so its next change points fall after the real change and "before" holds post-change
    # studies (LCDB stream #1 of benchmarks/drift.py: four true alarms, all rejected). So the confirmation
    # splits at the earliest change point of this version's rejected events, with that event's scanned studies.
    first = min([e for e in list_events(store, rule=rule, origin="scheduled") if e.version == current.version
                 and e.status == "rejected" and e.change_at is not None and e.change_at < event.change_at],
                key=lambda e: (e.change_at, e.event_id), default=event)  # fmt: skip
    split = position_after(watched, first.change_study, first.change_at) - 1
    scanned = int((watched["ingested_at"] < pd.Timestamp(first.window_start)).sum())
    before, post = watched.iloc[:split].tail(MAX_REFERENCE), watched.iloc[change:]
    scanned_before = watched.iloc[scanned:split]
    after_alarm = watched.iloc[position_after(watched, event.alarm_study, event.window_end):]
    needed = max(settings.min_studies - len(post), settings.min_confirm - len(after_alarm), 0)
    summary: dict[str, Any] = {"rule": rule, "from_version": current.version, "drift_event_id": event.event_id,
                               "change_study": event.change_study, "alarm_study": event.alarm_study,
                               "post_change_studies": len(post), "after_alarm_studies": len(after_alarm)}  # fmt: skip
    if needed:
        summary["needed_studies"] = needed
        result.pending.append(summary)
        if write:
            set_event_status(store, event.event_id, "pending", job_id=job_id, needed_studies=needed)
        return
    after = after_alarm["value"].to_numpy()
    confirmed = min(confirmation_bound(before["value"].to_numpy(), after, metric, settings.confidence),
                    # too few scanned pre-change studies cannot confirm (and more will never come)
                    confirmation_bound(scanned_before["value"].to_numpy(), after, metric, settings.confidence)
                    if len(scanned_before) >= settings.min_confirm else -np.inf)  # fmt: skip
    summary["confirmation_studies"] = {"before": len(before), "scanned_before": len(scanned_before),
                                       "after": len(after_alarm)}  # fmt: skip
    root, baseline, n_baseline = lineage_baseline(store, rule, current.version)
    curves = load_curves(store, studies=post["study"].tolist())
    objective = metric if metric in OBJECTIVES else "killed_best"
    tuned = retune(current.spec, curves, orders=settings.orders, min_compute_saved=settings.floor * baseline,
                   objective=objective)  # fmt: skip
    best = tuned.best
    chosen = best or tuned.current
    verdict = judge(
        tuned.current.per_study(objective), chosen.per_study(objective),
        current_killed=tuned.current.per_study_killed, candidate_killed=chosen.per_study_killed,
        critical=_critical(tuned, objective, settings.confidence),
        killed_critical=_critical(tuned, "killed_best", settings.confidence),
        candidate_saved=best.compute_saved if best else 0.0, baseline_saved=baseline, confirmed_bound=confirmed,
        metric=objective, margin=settings.margin, floor=settings.floor,
    )  # fmt: skip
    if best is None:
        verdict.failed.append("no candidate keeps the compute-saved floor")
    promoted = verdict.promoted and best is not None
    summary.update({"candidates": tuned.n_candidates, "current": tuned.current.to_dict(),
                    "candidate": best.to_dict() if best else None, "lineage_root": root,
                    "baseline_studies": n_baseline, "figures": verdict.figures, "failed": verdict.failed})  # fmt: skip
    (result.promoted if promoted else result.rejected).append(summary)
    if not write:
        return
    if best is not None:
        reason = _reason(event, tuned, current, verdict, metric)
        new = add_rule_version(
            store, rule, best.spec, created_by=f"recalibrate:{job_id}", source="recalibration", reason=reason,
            parent=current.version, drift_event_id=event.event_id, job_id=job_id,
            status="active" if promoted else "rejected",
        )  # fmt: skip
        summary["to_version" if promoted else "rejected_version"] = new.version
        if promoted:
            _write_history(store, new, curves, settings.orders)
    set_event_status(store, event.event_id, "promoted" if promoted else "rejected", job_id=job_id)


def _critical(tuned: Retune, metric: str, confidence: float) -> float:
    """Simultaneous critical value of the paired gains in ``metric`` of every candidate tried."""
    now = tuned.current.per_study(metric)
    return simultaneous_critical(np.array([now - s.per_study(metric) for s in tuned.tried]), confidence)


def _reason(event: DriftEvent, tuned: Retune, current: RuleVersion, verdict: Verdict, metric: str) -> str:
    """Why a candidate version exists: the drift, its change point, and the verdict's figures."""
    f = verdict.figures
    text = (
        f"drift in {metric} of {current.ref} ({event.scope}): changed from study {event.change_study}, "
        f"alarm at {event.alarm_study}; re-tuned on the {tuned.n_studies} studies since the change "
        f"({tuned.n_candidates} candidates): {f['metric']} {f['current']:.4g} -> "
        f"{f['candidate']:.4g} (paired gain {f['paired_gain']:.4g}, needed {f['needed_gain']:.4g}, "
        f"lower bound {f['paired_lower_bound']:.4g} at critical value {f['critical']:.2f}), killed-best "
        f"{f['killed_best_current']:.3f} -> {f['killed_best_candidate']:.3f} (gain lower bound "
        f"{f['killed_best_lower_bound']:.4g}), compute saved "
        f"{tuned.current.compute_saved:.3f} -> {f['compute_saved']:.3f} (floor {f['floor']:.3f} = lineage "
        f"baseline {f['baseline_saved']:.3f} x {f['floor'] / f['baseline_saved'] if f['baseline_saved'] else 0:.2f}), "
        f"drift confirmation bound {f['confirmation_bound']:.4g}"
    )
    return text if verdict.promoted else f"{text}; rejected: {', '.join(verdict.failed)}"


def _write_history(store: PolicyStore, version: RuleVersion, curves: list[StudyCurves], orders: int) -> None:
    """Record the new version's outcomes on the post-change studies: its history, the monitors' reference."""
    outcomes, _ = replay_outcomes(curves, [version.spec], list(range(orders)))
    if not outcomes.empty:
        outcomes.insert(0, "rule", version.rule)
        outcomes.insert(1, "version", version.version)
        write_outcomes(store, outcomes, [version])


def _event_dict(event: DriftEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "monitor": event.monitor,
        "rule": event.rule,
        "version": event.version,
        "scope": event.scope,
        "statistic": event.statistic,
        "threshold": event.threshold,
        "window_start": event.window_start.isoformat(),
        "window_end": event.window_end.isoformat(),
        "change_study": event.change_study,
        "alarm_study": event.alarm_study,
    }
