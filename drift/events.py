"""Drift events: what a monitor saw, recorded in the store.

An event's id is a content hash of (monitor, rule, version, scope, the outcome
at which drift was detected), so recording the same detection twice, from a
rerun or from two hosts, leaves one row.

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

from policy_store.drift._base import check_int

from policy_store.store import PolicyStore


@dataclass(frozen=True)
class DriftEvent:
    """One detected change, as stored in ``drift_events``.

    ``window_start`` and ``window_end`` are the ``created_at`` of the first
    outcome the detector saw and of the outcome at which it signalled; drift
    means ``statistic > threshold``. ``job_id`` links the job that handles it.
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
    ) -> DriftEvent:
        """An event whose id derives from what was detected, where (``at_outcome``)."""
        key = json.dumps([monitor, rule, version, scope, at_outcome])
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
        )


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
    limit: int | None = None,
) -> list[DriftEvent]:
    """Recorded events, newest detection first, optionally filtered."""
    clauses, params = ["TRUE"], []
    for column, value in (("rule", rule), ("monitor", monitor), ("scope", scope)):
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


def last_event_end(store: PolicyStore, *, monitor: str, rule: str, scope: str) -> datetime | None:
    """``window_end`` of the monitor's latest event on this rule and scope, or ``None``."""
    return store.scalar(
        "SELECT max(CAST(window_end AS TIMESTAMP)) FROM drift_events WHERE monitor = ? AND rule = ? AND scope = ?",
        [monitor, rule, scope],
    )
