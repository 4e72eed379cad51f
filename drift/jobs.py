"""Job records in the ``jobs`` table: started, finished, abandoned.

Only one job of a kind may run: the caller holds the store's named lock
(:meth:`PolicyStore.lock <policy_store.store.PolicyStore.lock>`, released even
when its holder dies by SIGKILL) around :func:`start_job` ... :func:`finish_job`.
So a ``running`` row found while holding the lock belongs to a job whose process
died: :func:`start_job` marks it ``failed`` (abandoned). Its writes were one
transaction, so it left nothing half-written, and the new job redoes the work.

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store, store.lock("recalibrate"):
...     job = start_job(store, "recalibrate", trigger="doc")
...     finish_job(store, job, "noop", watermark=None, result={})
...     [(r["status"], r["trigger"]) for r in list_jobs(store)]
[('noop', 'doc')]
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from policy_store.drift._base import check_int

from policy_store.errors import InvalidInputError
from policy_store.store import PolicyStore, utcnow

STATUSES = ("running", "succeeded", "failed", "noop")


@dataclass(frozen=True)
class Job:
    """A started job: its id, kind, trigger and start time."""

    job_id: str
    kind: str
    trigger: str | None
    started_at: datetime


def start_job(store: PolicyStore, kind: str, *, trigger: str | None = None) -> Job:
    """Record a ``running`` job (committed at once); mark leftovers of dead jobs of ``kind`` as failed.

    Call it while holding ``store.lock(kind)``.
    """
    now = utcnow()
    job = Job(f"job-{uuid.uuid4().hex}", kind, trigger, now)
    abandoned = json.dumps(
        {"error": f"abandoned: its process died before it finished; nothing it did was committed, "
                  f"{job.job_id} redoes the work"}
    )  # fmt: skip


    def unit(s: PolicyStore) -> None:
        # The lock keeps other jobs of ``kind`` out, so no fence: a conflict with another writer of ``jobs``
        # (a job of another kind) re-runs both statements, which read nothing decided outside.
        s.execute(
            "UPDATE jobs SET status = 'failed', ended_at = ?, result = ? WHERE kind = ? AND status = 'running'",
            [now, abandoned, kind],
        )
        s.execute("INSERT INTO jobs VALUES (?, ?, 'running', ?, ?, NULL, NULL, NULL)", [job.job_id, kind, trigger, now])

    store.run_atomic(unit)
    return job


def finish_job(store: PolicyStore, job: Job, status: str, *, watermark: str | None, result: dict[str, Any]) -> None:
    """Record how ``job`` ended (joins the caller's unit of work, if any; else its own, re-run on a conflict)."""
    if status not in STATUSES or status == "running":
        raise InvalidInputError(f"a finished job is succeeded, failed or noop; got {status!r}", field="status")
    payload = json.dumps(result, default=str)
    store.run_atomic(
        lambda s: s.execute(
            "UPDATE jobs SET status = ?, ended_at = ?, watermark = ?, result = ? WHERE job_id = ?",
            [status, utcnow(), watermark, payload, job.job_id],
        )
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
    check_int("limit", limit, minimum=0)
    rows = store.fetch_dicts(
        "SELECT * FROM jobs WHERE (? IS NULL OR kind = ?) ORDER BY started_at DESC LIMIT ?", [kind, kind, limit]
    )
    for row in rows:
        row["result"] = json.loads(row["result"]) if row["result"] else None
    return rows
