"""Drift events: what a monitor saw, recorded in the store.

An event's id is a content hash of (monitor, rule, version, scope, the study
at which drift was detected, origin), so recording the same detection twice,
from a rerun or from two hosts, leaves one row, while a manual ``drift check``
and the scheduled monitors keep separate events (and separate state: a manual
check never hides a change from the scheduled job).

An event's ``status`` says what became of it: ``open`` (detected, not handled
yet), ``pending`` (too few studies after the change point to re-tune; see
``needed_studies``), ``promoted`` or ``rejected`` (the re-tuned candidate's
verdict), ``seen`` (a manual check's: nothing acts on it), ``closed`` (legacy).

>>> from datetime import datetime
>>> from policy_store import PolicyStore
>>> event = DriftEvent.create(
...     monitor="killed_best:ADWIN", rule="median", version=1, scope="all",
...     statistic=0.12, threshold=0.08, window_start=datetime(2026, 1, 1),
...     window_end=datetime(2026, 1, 2), at_outcome="o-42", detected_at=datetime(2026, 1, 3),
... )
>>> with PolicyStore.memory() as store:
...     record_event(store, event), record_event(store, event)
...     [e.event_id == event.event_id for e in list_events(store, rule="median")]
(True, False)
[True]
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import astuple, dataclass, fields
from datetime import datetime

from policy_store.drift._base import check_choice, check_int

from policy_store.choices import DRIFT_EVENT_STATUSES, DRIFT_ORIGINS
from policy_store.store import PolicyStore


@dataclass(frozen=True)
class DriftEvent:
    """One detected change, as stored in ``drift_events``.

    ``window_start`` and ``window_end`` are the ``created_at`` of the first
    outcome the detector saw and of the outcome at which it signalled; drift
    means ``statistic > threshold``. ``job_id`` links the job that handles it.
    ``change_study`` / ``change_at`` are the first study after the estimated
    change point and its ingestion time. ``slack`` is the CUSUM slack (standard deviations per study) the
    threshold was calibrated and scanned with (Page-Hinkley's for that detector); ``None`` for a
    :class:`~policy_store.drift.DriftDetector` template, whose threshold is its own, and for events
    recorded before the store had the column. With the monitor's metric, reference studies and
    :mod:`~policy_store.drift.calibration`'s seed, horizon and bootstrap size it reproduces the threshold.
    """

    event_id: str
    monitor: str
    rule: str
    version: int | None
    scope: str
    statistic: float
    threshold: float
    window_start: datetime
    window_end: datetime
    detected_at: datetime
    job_id: str | None = None
    origin: str = "scheduled"
    status: str = "open"
    alarm_study: str | None = None
    change_study: str | None = None
    change_at: datetime | None = None
    needed_studies: int | None = None
    slack: float | None = None

    @classmethod
    def create(
        cls,
        *,
        monitor: str,
        rule: str,
        version: int | None,
        scope: str,
        statistic: float,
        threshold: float,
        window_start: datetime,
        window_end: datetime,
        at_outcome: str,
        detected_at: datetime,
        job_id: str | None = None,
        origin: str = "scheduled",
        change_study: str | None = None,
        change_at: datetime | None = None,
        slack: float | None = None,
    ) -> DriftEvent:
        """An event whose id derives from what was detected, where (``at_outcome``, a study or outcome), by whom."""
        check_choice("origin", origin, ORIGINS)
        key = json.dumps([monitor, rule, version, scope, at_outcome] + ([origin] if origin != "scheduled" else []))
        return cls(
            event_id=hashlib.sha256(key.encode()).hexdigest(),
            monitor=monitor,
            rule=rule,
            version=version,
            scope=scope,
            statistic=float(statistic),
            threshold=float(threshold),
            window_start=window_start,
            window_end=window_end,
            detected_at=detected_at,
            job_id=job_id,
            origin=origin,
            status="seen" if origin == "manual" else "open",
            alarm_study=at_outcome,
            change_study=at_outcome if change_study is None else change_study,  # no estimate: the alarm itself
            change_at=window_end if change_at is None else change_at,
            slack=None if slack is None else float(slack),
        )


ORIGINS, EVENT_STATUSES = DRIFT_ORIGINS, DRIFT_EVENT_STATUSES

_COLUMNS = ", ".join(f.name for f in fields(DriftEvent))


def record_event(store: PolicyStore, event: DriftEvent) -> bool:
    """Insert ``event`` unless an event with its id exists; return whether it was inserted."""
    row = list(astuple(event))
    row[7], row[8] = event.window_start.isoformat(), event.window_end.isoformat()

    def unit(s: PolicyStore) -> bool:
        s.fence()  # DuckLake: of two hosts recording one event at once, the second commit conflicts and re-runs
        if s.scalar("SELECT count(*) FROM drift_events WHERE event_id = ?", [event.event_id]):
            return False
        s.execute(f"INSERT INTO drift_events ({_COLUMNS}) VALUES ({', '.join('?' * len(row))})", row)  # noqa: S608
        return True

    return store.run_atomic(unit)


def list_events(
    store: PolicyStore,
    *,
    rule: str | None = None,
    monitor: str | None = None,
    scope: str | None = None,
    origin: str | None = None,
    limit: int | None = None,
) -> list[DriftEvent]:
    """Recorded events, newest detection first, optionally filtered."""
    clauses, params = ["TRUE"], []
    for column, value in (("rule", rule), ("monitor", monitor), ("scope", scope), ("origin", origin)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    sql = f"SELECT {_COLUMNS} FROM drift_events WHERE {' AND '.join(clauses)} ORDER BY detected_at DESC, event_id"  # noqa: S608
    if limit is not None:
        check_int("limit", limit, minimum=0)
        sql += " LIMIT ?"
        params.append(limit)
    events = []
    for row in store.fetch_dicts(sql, params):
        row["window_start"] = datetime.fromisoformat(row["window_start"])
        row["window_end"] = datetime.fromisoformat(row["window_end"])
        events.append(DriftEvent(**row))
    return events


def last_alarm(
    store: PolicyStore, *, monitor: str, rule: str, version: int | None, scope: str, origin: str
) -> tuple[datetime, str | None] | None:
    """``(window_end, alarm_study)`` of the latest event of this monitor, rule version, scope and origin.

    Only events of the same ``origin`` count: the scheduled monitors and manual checks keep separate state.
    """
    row = store.execute(
        "SELECT CAST(window_end AS TIMESTAMP), alarm_study FROM drift_events WHERE monitor = ? AND rule = ? "
        "AND version IS NOT DISTINCT FROM ? AND scope = ? AND origin = ? "
        "ORDER BY CAST(window_end AS TIMESTAMP) DESC, detected_at DESC LIMIT 1",
        [monitor, rule, version, scope, origin],
    ).fetchone()
    return (row[0], row[1]) if row else None


def open_events(store: PolicyStore, rule: str, version: int) -> list[DriftEvent]:
    """Scheduled events of ``rule@version`` still waiting for the job (``open`` or ``pending``), oldest first."""
    events = [e for e in list_events(store, rule=rule, origin="scheduled") if e.version == version]
    return sorted((e for e in events if e.status in ("open", "pending")), key=lambda e: (e.window_end, e.event_id))


def set_event_status(
    store: PolicyStore, event_id: str, status: str, *, job_id: str | None, needed_studies: int | None = None
) -> None:
    """Record what became of an event (joins the caller's unit of work)."""
    check_choice("status", status, EVENT_STATUSES)
    store.execute(
        "UPDATE drift_events SET status = ?, job_id = coalesce(?, job_id), needed_studies = ? WHERE event_id = ?",
        [status, job_id, needed_studies, event_id],
    )
