"""Job records and the one-job-at-a-time lock, kept in the ``jobs`` table.

A job claims its kind by inserting a ``running`` row that names its owner (host
and process id). A second job of the same kind is refused with
:class:`~policy_store.errors.JobLockedError` while that owner is alive: on the
same host the process must still exist, on another host the row must be younger
than the lease. A job whose owner died (a SIGKILL, a power cut) is marked
``failed`` as abandoned and the new job takes over; since its writes were one
transaction, it left nothing half-written.

On an embedded DuckDB file a second *process* cannot even open the store while
the first holds it; the row lock matters for several connections and for
DuckLake, where many hosts share one catalog.

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     job = start_job(store, "recalibrate", trigger="doc")
...     try:
...         start_job(store, "recalibrate", trigger="doc")
...     except JobLockedError as e:
...         print(str(e)[:52])
...     finish_job(store, job, "noop", watermark=None, result={})
...     [r["status"] for r in store.fetch_dicts("SELECT status FROM jobs")]
another recalibrate job is running (job_id=job-...
['noop']
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from policy_store.errors import InvalidInputError, JobLockedError
from policy_store.store import PolicyStore, utcnow

STATUSES = ("running", "succeeded", "failed", "noop")
DEFAULT_LEASE = timedelta(hours=6)


@dataclass(frozen=True)
class Job:
    """A claimed job: its id, kind, trigger and start time."""

    job_id: str
    kind: str
    trigger: str | None
    started_at: datetime


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _owner_alive(owner: dict[str, Any], started_at: datetime, lease: timedelta) -> bool:
    if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
        if owner["pid"] == os.getpid():
            return True
        try:
            os.kill(owner["pid"], 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return utcnow() - started_at < lease


def start_job(store: PolicyStore, kind: str, *, trigger: str | None = None, lease: timedelta = DEFAULT_LEASE) -> Job:
    """Claim ``kind`` and record a ``running`` job, committed at once so other jobs see it.

    Raises
    ------
    JobLockedError
        Another job of this kind is running and its owner is alive.
    """
    now = utcnow()
    job = Job(f"job-{uuid.uuid4().hex}", kind, trigger, now)
    with store.atomic():
        for row in store.fetch_dicts(
            "SELECT job_id, started_at, result FROM jobs WHERE kind = ? AND status = 'running'", [kind]
        ):
            owner = json.loads(row["result"] or "{}").get("owner", {})
            if _owner_alive(owner, row["started_at"], lease):
                since = row["started_at"].strftime("%Y-%m-%d %H:%M:%S")
                raise JobLockedError(
                    f"another {kind} job is running (job_id={row['job_id']}, started {since} UTC, "
                    f"owner {owner.get('host')}:{owner.get('pid')}); try again when it ends"
                )
            abandoned = {"owner": owner, "error": "abandoned: its process died before it finished; nothing it "
                         f"did was committed, {job.job_id} redoes the work"}  # fmt: skip
            store.execute(
                "UPDATE jobs SET status = 'failed', ended_at = ?, result = ? WHERE job_id = ?",
                [now, json.dumps(abandoned), row["job_id"]],
            )
        store.execute(
            "INSERT INTO jobs VALUES (?, ?, 'running', ?, ?, NULL, NULL, ?)",
            [job.job_id, kind, trigger, now, json.dumps({"owner": _owner()})],
        )
    return job


def finish_job(store: PolicyStore, job: Job, status: str, *, watermark: str | None, result: dict[str, Any]) -> None:
    """Record how ``job`` ended (joins the caller's transaction, if any)."""
    if status not in STATUSES or status == "running":
        raise InvalidInputError(f"a finished job is succeeded, failed or noop; got {status!r}", field="status")
    payload = {"owner": _owner(), **result}
    store.execute(
        "UPDATE jobs SET status = ?, ended_at = ?, watermark = ?, result = ? WHERE job_id = ?",
        [status, utcnow(), watermark, json.dumps(payload, default=str), job.job_id],
    )


def last_watermark(store: PolicyStore, kind: str) -> str | None:
    """The watermark of the latest successful (or no-op) job of ``kind``."""
    return store.scalar(
        "SELECT watermark FROM jobs WHERE kind = ? AND status IN ('succeeded', 'noop') AND watermark IS NOT NULL "
        "ORDER BY ended_at DESC LIMIT 1",
        [kind],
    )


def list_jobs(store: PolicyStore, *, kind: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Recent jobs, newest first, with their result decoded."""
    rows = store.fetch_dicts(
        "SELECT * FROM jobs WHERE (? IS NULL OR kind = ?) ORDER BY started_at DESC LIMIT ?", [kind, kind, limit]
    )
    for row in rows:
        row["result"] = json.loads(row["result"]) if row["result"] else None
    return rows
