"""Which incoming studies are new, unchanged or changed, and making room for the changed ones (``--replace``).

Both ingest paths -- the DataFrame writer and DuckDB's own file reader -- stage the rows in a generated
table or view, then sort its studies here; nothing heavy is imported. Study lists are bound as one text
(:data:`STUDY_LIST`, :func:`joined`).

>>> joined(["s1", "s2"]).split(chr(31))
['s1', 's2']
"""

from __future__ import annotations

from policy_store.errors import StudyConflictError
from policy_store.ingest.report import IngestReport, count
from policy_store.store import PolicyStore

STUDY_LIST = "unnest(string_split(?, chr(31)))"
"""The labels of one bound text joined by US (checked at ingest: no label holds a control character). A bound
Python list costs an import attempt of pandas per element in DuckDB's client (0.6 s for 18k studies)."""

DERIVED = {"curve_points": "", "curve_memory": "", "trials": "", "studies": "", "outcomes": "",
           "outcome_resources": "", "decisions": " AND mode <> 'live'"}
"""Tables holding what was derived from a study's content, with the rows a replacement keeps: live decisions
are what a live pruner did (the audit trail ``policy-store explain`` reads), so they stay."""


def joined(labels: list[str]) -> str:
    """``labels`` as the one text :data:`STUDY_LIST` binds."""
    return "\x1f".join(labels)


def sort_incoming(store: PolicyStore, staged: str, hashes: dict[str, str], report: IngestReport, *,
                  replace: bool) -> dict[str, str]:
    """Sort the staged studies into ``report.added``, ``unchanged`` and ``replaced``; the ones to write -> task.

    ``staged`` is a generated table or view name (never user input) with ``study`` and ``task`` columns;
    ``hashes`` maps each of its studies to its content hash. A study already in the store with other content
    (or another task) is refused unless ``replace``; with it, what was derived from its old content is deleted.

    Raises
    ------
    StudyConflictError
        Changed studies without ``replace`` (up to five named).
    """
    incoming = store.fetch_dicts(
        f"SELECT study, any_value(task) AS task FROM {staged} GROUP BY study ORDER BY study"  # noqa: S608
    )
    existing = {r["study"]: r for r in store.fetch_dicts(
        f"SELECT study, task, content_hash FROM studies WHERE study IN (SELECT study FROM {staged})")}  # noqa: S608
    changed = []
    for row in incoming:
        old = existing.get(row["study"])
        if old is None:
            report.added.append(row["study"])
        elif old["content_hash"] == hashes[row["study"]] and old["task"] == row["task"]:
            report.unchanged.append(row["study"])
        else:
            changed.append(row["study"])
    if changed and not replace:
        shown = ", ".join(repr(s) for s in changed[:5]) + (" …" if len(changed) > 5 else "")
        raise StudyConflictError(
            f"{count(len(changed), 'study', 'studies')} already in the store with different content: {shown}. "
            "Use --replace (replace=True) to overwrite them, or give the new data new study ids."
        )
    report.replaced = changed
    for table, keep in DERIVED.items() if changed else ():
        store.execute(f"DELETE FROM {table} WHERE study IN (SELECT {STUDY_LIST}){keep}", [joined(changed)])  # noqa: S608
    task_of = {row["study"]: row["task"] for row in incoming}
    return {study: task_of[study] for study in report.added + changed}
