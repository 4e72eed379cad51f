"""The recalibration job: detect drift in new outcomes, re-tune, promote or reject.

Safe to run from cron or any scheduler:

* **one at a time** -- it holds the store's ``recalibrate`` lock
  (:meth:`PolicyStore.lock <policy_store.store.PolicyStore.lock>`, released
  even on SIGKILL) while it runs; a second run raises
  :class:`~policy_store.errors.JobLockedError`;
* **incremental** -- it looks only at rules with outcomes newer than the
  watermark of the last successful run, and a run with nothing new is a no-op
  (recorded as a ``noop`` job);
* **all or nothing** -- drift events, the new rule version, its outcomes on the
  window and the job's result are written in one transaction, so a job killed
  halfway leaves no partial version and the next run redoes the work;
* **safe beside other hosts' writers** -- that transaction is one fenced unit of
  work (:meth:`PolicyStore.run_atomic <policy_store.store.PolicyStore.run_atomic>`):
  on a DuckLake, if another host commits outcomes or rule versions while the job
  runs, the job is re-run from its first read (watermark, outcomes, monitors,
  re-tuning), so what it decides always rests on what it commits with.

For every such rule, each monitor in :data:`DEFAULT_MONITORS` watches the latest
version's outcomes; on the first drift event the rule's thresholds are re-tuned
on the studies of its most recent outcomes (:mod:`~policy_store.drift.retuning`).
A winning candidate becomes a new version with source ``recalibration`` whose
provenance links the drift event and the job and whose reason names the window.
A losing one is recorded the same way but with status ``rejected`` (and in the
job's result): it keeps its place in the rule's history, while the rule's current
version stays the one it lost to.

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

from policy_store.drift._base import DriftDetector
from policy_store.drift.events import DriftEvent
from policy_store.drift.jobs import Job, finish_job, last_watermark, start_job
from policy_store.drift.monitor import Monitor
from policy_store.drift.page_hinkley import PageHinkley
from policy_store.drift.retuning import Retune, retune
from policy_store.drift.two_window import TwoWindow
from policy_store.drift.windows import CountWindow, Scope

from policy_store.curves import StudyCurves, load_curves
from policy_store.errors import InvalidInputError, NotFoundError
from policy_store.replay import replay_outcomes, write_outcomes
from policy_store.rules import RuleVersion, add_rule_version, get_rule_version
from policy_store.store import PolicyStore

KIND = "recalibrate"

#: (metric, detector) pairs watched on every rule (templates: each check runs a fresh clone). The
#: Page-Hinkley knobs are those ``benchmarks/drift.py`` calibrates to about one false alarm per 1,000
#: studies at a 5 % killed-best rate (delta = a tenth of the rate's std); the regret test is set
#: conservatively (alpha 1e-3 per check), since its calibrated alpha depends on the stream's length.
DEFAULT_MONITORS: tuple[tuple[str, DriftDetector], ...] = (
    ("killed_best", PageHinkley(min_instances=30, delta=0.02, threshold=4.0, mode="up")),
    ("regret", TwoWindow(window_size=100, alpha=1e-3, test="mannwhitney", clock=10)),
)


@dataclass
class RecalibrationResult:
    """What a run did (or, with ``dry_run``, would do)."""

    job_id: str | None
    status: str  # 'noop' | 'succeeded' | 'dry-run'
    watermark: str | None
    rules_checked: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    promoted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "watermark": self.watermark,
            "rules_checked": self.rules_checked,
            "events": self.events,
            "promoted": self.promoted,
            "rejected": self.rejected,
        }


def recalibrate(
    store: PolicyStore,
    *,
    trigger: str = "manual",
    dry_run: bool = False,
    monitors: Sequence[tuple[str, DriftDetector]] = DEFAULT_MONITORS,
    window: int = 1000,
    recent: int = 200,
    orders: int = 3,
    margin: float = 0.1,
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
        ``(metric, detector)`` pairs to watch on each rule's latest version.
    window:
        Outcomes each monitor reads (a count window).
    recent:
        The re-tuning window: studies of the rule version's latest ``recent`` outcomes.
    orders:
        Trial orders per study in the re-tuning replay.
    margin:
        Relative regret improvement a candidate needs to be promoted.

    Raises
    ------
    JobLockedError
        Another recalibration job is running.
    """
    for name, value in (("window", window), ("recent", recent), ("orders", orders)):
        if not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{name} must be a positive integer, got {value!r}", field=name)
    settings = (monitors, window, recent, orders, margin)
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


def _run(store: PolicyStore, job: Job | None, settings: tuple) -> RecalibrationResult:
    job_id = job.job_id if job else None
    previous = last_watermark(store, KIND)
    snapshot = store.scalar("SELECT max(created_at) FROM outcomes")
    if snapshot is None or (previous is not None and snapshot <= datetime.fromisoformat(previous)):
        result = RecalibrationResult(job_id, "noop" if job else "dry-run", previous)
        if job:
            finish_job(store, job, "noop", watermark=previous, result=result.to_dict())
        return result
    if job:
        # The watermark below says "every outcome up to here was looked at": an outcome writer committing
        # while this job runs must make one of the two re-run (its fenced unit stamps created_at anew).
        store.fence()
    result = RecalibrationResult(job_id, "succeeded" if job else "dry-run", snapshot.isoformat())
    for rule in _rules_with_new_outcomes(store, previous):
        _process_rule(store, rule, result, job_id, job is None, *settings)
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


def _process_rule(
    store: PolicyStore,
    rule: str,
    result: RecalibrationResult,
    job_id: str | None,
    dry_run: bool,
    monitors: Sequence[tuple[str, DriftDetector]],
    window: int,
    recent: int,
    orders: int,
    margin: float,
) -> None:
    try:
        current = get_rule_version(store, rule)
    except NotFoundError:
        return  # outcomes of a rule the store has no versions of (e.g. live-only): nothing to re-tune
    result.rules_checked.append(current.ref)
    trigger_event: DriftEvent | None = None
    for metric, detector in monitors:
        monitor = Monitor(Scope(rule, version=current.version), metric, detector, CountWindow(window))
        event = monitor.check(store, record=not dry_run).event
        if event is not None:
            result.events.append(_event_dict(event))
            trigger_event = trigger_event or event
    if trigger_event is None:
        return
    studies = store.execute(
        "SELECT DISTINCT study FROM (SELECT study FROM outcomes WHERE rule = ? AND version = ? "
        "ORDER BY created_at DESC, outcome_id DESC LIMIT ?)",
        [rule, current.version, recent],
    ).fetchall()
    curves = load_curves(store, studies=sorted(s[0] for s in studies))
    outcome = retune(current.spec, curves, orders=orders, margin=margin)
    summary = {
        "rule": rule,
        "from_version": current.version,
        "drift_event_id": trigger_event.event_id,
        "window_studies": outcome.n_studies,
        "candidates": outcome.n_candidates,
        "current": outcome.current.to_dict(),
        "candidate": outcome.best.to_dict() if outcome.best else None,
    }
    if not dry_run:
        store.execute("UPDATE drift_events SET job_id = ? WHERE event_id = ?", [job_id, trigger_event.event_id])
    if not outcome.promoted:
        if not dry_run and outcome.best is not None:
            # The loser is a version too (status 'rejected'): its provenance says which drift, window and job
            # tried it and why it lost, and it never becomes the rule's current version.
            verdict = (f"; rejected: it does not beat {current.ref} on this window (needs {margin:.0%} less "
                       "regret while keeping at least half its compute saved)")
            rejected = add_rule_version(
                store, rule, outcome.best.spec, created_by=f"recalibrate:{job_id}", source="recalibration",
                reason=_reason(trigger_event, outcome, current, recent) + verdict, parent=current.version,
                drift_event_id=trigger_event.event_id, job_id=job_id, status="rejected",
            )  # fmt: skip
            summary["rejected_version"] = rejected.version
        result.rejected.append(summary)
        return
    if not dry_run:
        new = add_rule_version(
            store, rule, outcome.best.spec, created_by=f"recalibrate:{job_id}", source="recalibration",
            reason=_reason(trigger_event, outcome, current, recent), parent=current.version,
            drift_event_id=trigger_event.event_id, job_id=job_id,
        )  # fmt: skip
        _write_window_outcomes(store, new, curves, orders)
        summary["to_version"] = new.version
    result.promoted.append(summary)


def _reason(event: DriftEvent, outcome: Retune, current: RuleVersion, recent: int) -> str:
    """Why a candidate version exists: the drift, its window, and the candidate's score against the current one."""
    start, end = (t.strftime("%Y-%m-%d %H:%M:%S") for t in (event.window_start, event.window_end))
    return (
        f"drift in {event.monitor} ({event.scope}, window {start} .. {end}); "
        f"re-tuned on the {outcome.n_studies} "
        f"studies of the latest {recent} outcomes of {current.ref}: regret {outcome.current.regret:.4g} -> "
        f"{outcome.best.regret:.4g}, compute saved {outcome.current.compute_saved:.3f} -> "
        f"{outcome.best.compute_saved:.3f}"
    )


def _write_window_outcomes(store: PolicyStore, version: RuleVersion, curves: list[StudyCurves], orders: int) -> None:
    """Record the new version's replay outcomes on the window, so its monitors start from them."""
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
    }
