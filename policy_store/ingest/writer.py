"""Writing validated studies into the store: atomic, idempotent, in bulk through Arrow.

>>> import pandas as pd
>>> from policy_store import PolicyStore
>>> frame = pd.DataFrame({"task": "iris-sgd", "study": "s1", "trial": [0, 0, 1, 1],
...                       "step": [0, 1, 0, 1], "value": [0.6, 0.8, 0.5, 0.55],
...                       "direction": "maximize"})
>>> with PolicyStore.memory() as store:
...     print(ingest_frame(store, frame).summary())
...     print(ingest_frame(store, frame).summary())
1 study added (4 points, 1 new task)
1 study unchanged (already in the store; nothing written)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from policy_store.errors import DirectionMismatchError, InvalidInputError
from policy_store.ingest.hashing import study_hashes
from policy_store.ingest.longformat import validate_long_frame
from policy_store.ingest.replacing import sort_incoming
from policy_store.ingest.report import IngestReport
from policy_store.store import PolicyStore, utcnow

__all__ = ["IngestReport", "ingest_canonical_view", "ingest_frame"]


def _check_tasks(store: PolicyStore, tasks: pd.DataFrame) -> list[str]:
    """Compare the input's tasks with stored ones; return the names of new tasks."""
    stored = {
        r["task"]: r
        for r in store.fetch_dicts(
            "SELECT task, metric, direction FROM tasks WHERE task IN (SELECT unnest(?::VARCHAR[]))",
            [tasks["task"].tolist()],
        )
    }
    new = []
    for row in tasks.itertuples(index=False):
        old = stored.get(row.task)
        if old is None:
            new.append(row.task)
            continue
        if old["direction"] != row.direction:
            raise DirectionMismatchError(
                f"task {row.task!r} is recorded as {old['direction']!r} but the input says {row.direction!r}",
                row=int(row.first_row),
                field="direction",
            )
        if old["metric"] and row.metric and old["metric"] != row.metric:
            raise InvalidInputError(
                f"task {row.task!r} is recorded with metric {old['metric']!r} but the input says {row.metric!r}",
                row=int(row.first_row),
                field="metric",
            )
    return new


def ingest_frame(
    store: PolicyStore,
    frame: pd.DataFrame,
    *,
    source: str = "frame",
    replace: bool = False,
    direction: str | None = None,
    metric: str | None = None,
    progress: bool = False,
) -> IngestReport:
    """Ingest long-format learning curves in one transaction.

    Every study of the call lands, or none does. A study already in the store
    with identical content is skipped; with different content it is refused
    (:class:`StudyConflictError`) unless ``replace=True``, which also drops the
    outcomes and replay decisions recorded for its old content.

    Parameters
    ----------
    store:
        The open store.
    frame:
        Rows in the long format (:mod:`policy_store.ingest.longformat`).
    source:
        Where the rows came from (a file path, ``optuna:<study>``, ``lcdb``...).
    replace:
        Replace studies whose content changed.
    direction, metric:
        Defaults for rows that do not say.
    progress:
        Show a progress bar on stderr (validate, hash, write, commit).

    Returns
    -------
    IngestReport
    """
    with tqdm(total=4, desc=f"ingest {len(frame):,} rows", unit="stage", disable=not progress) as bar:
        bar.set_postfix_str("validate")
        canonical = validate_long_frame(frame, direction=direction, metric=metric)
        bar.update()
        bar.set_postfix_str("hash")
        hashes = study_hashes(canonical)
        bar.update()
        view = f"_ingest_{uuid.uuid4().hex}"
        # Arrow's allocator keeps what validation and hashing freed; DuckDB's writes allocate their own
        pa.default_memory_pool().release_unused()
        # `_row` (input order) lets errors found in the store (a direction mismatch) name the input row.
        store.register(view, canonical.append_column("_row", pa.array(np.arange(canonical.num_rows))))
        bar.set_postfix_str("write, commit")
        try:
            report = ingest_canonical_view(store, view, hashes, source=source, replace=replace)
            bar.update(2)
        finally:
            store.unregister(view)
    return report


def ingest_canonical_view(store: PolicyStore, view: str, hashes: dict[str, str], *, source: str,
                          replace: bool, parts: Sequence[str] = ()) -> IngestReport:
    """Write the validated rows of ``view`` (canonical columns plus ``_row``) whose studies ``hashes`` lists.

    ``parts``: views that together hold the rows of ``view``, each with whole studies; the points are then
    written part by part (each aggregate sees one part), still in the one transaction.
    A whole unit of work: on a commit conflict with another host it is re-run from the reads on, with a fresh
    report (a re-run must not count, or write, a study twice).
    """
    return store.run_atomic(lambda s: _ingest_view(s, view, hashes, IngestReport(), source=source, replace=replace,
                                                   parts=tuple(parts) or (view,)))


def _ingest_view(
    store: PolicyStore,
    view: str,
    hashes: dict[str, str],
    report: IngestReport,
    *,
    source: str,
    replace: bool,
    parts: tuple[str, ...],
) -> IngestReport:
    # Two hosts adding the same study at once must not both insert it: fenced transactions conflict.
    store.fence()
    # ``view`` is generated by ingest_frame (uuid hex), never user input.
    tasks = store.fetch_df(
        f"""SELECT task, any_value(metric) AS metric, any_value(direction) AS direction,
                   min(_row) AS first_row
            FROM {view} GROUP BY task"""  # noqa: S608
    )
    report.new_tasks = _check_tasks(store, tasks)
    to_write = sort_incoming(store, view, hashes, report, replace=replace)
    if not to_write:
        return report
    studies = f"{view.replace('.', '_')}_studies"
    store.register(studies, pd.DataFrame({"study": list(to_write), "task": list(to_write.values()),
                                          "content_hash": [hashes[s] for s in to_write]}))
    try:
        now = utcnow()
        _write_tasks(store, tasks[tasks["task"].isin(report.new_tasks)], now)
        for part in parts:
            # Only the studies to write (unchanged ones are in the input too); `studies` is ours, never user input.
            rows = f"(SELECT v.* FROM {part} AS v SEMI JOIN {studies} USING (study))" if report.unchanged else part  # noqa: S608
            report.points_written += _write(store, rows)
        _write_studies(store, studies, source, now)
    finally:
        store.unregister(studies)
    return report


def _write_tasks(store: PolicyStore, new_tasks: pd.DataFrame, now) -> None:
    """The new tasks, from the per-task summary already read (not from another pass over the points)."""
    if new_tasks.empty:
        return
    name = f"_tasks_{uuid.uuid4().hex}"
    store.register(name, new_tasks[["task", "metric", "direction"]])
    try:
        store.execute(f"INSERT INTO tasks SELECT task, metric, direction, ? FROM {name}", [now])  # noqa: S608
    finally:
        store.unregister(name)


def _write(store: PolicyStore, view: str) -> int:
    """Points and trials of ``view`` (whole studies)."""
    store.execute(
        f"INSERT INTO curve_points SELECT study, trial, step, value, cost_seconds FROM {view}"  # noqa: S608
    )
    store.execute(
        f"""INSERT INTO curve_memory SELECT study, trial, step, peak_memory_mb FROM {view}
            WHERE peak_memory_mb IS NOT NULL AND NOT isnan(peak_memory_mb)"""  # noqa: S608
    )
    store.execute(
        f"""INSERT INTO trials
            WITH t AS (
                SELECT study, trial, any_value(state) AS state, any_value(params) AS params,
                       max(step) AS final_step, arg_max(value, step) AS final_value,
                       count(*) AS n_steps,
                       CASE WHEN count(cost_seconds) = count(*) THEN sum(cost_seconds) END AS cost_seconds
                FROM {view} GROUP BY study, trial
            )
            SELECT study, trial,
                   -- labels are their numbers only when each is an integer written canonically ('00' and '0'
                   -- would both be 0); else numbered in label order
                   CASE WHEN bool_and(CAST(TRY_CAST(trial AS INTEGER) AS VARCHAR) IS NOT DISTINCT FROM trial)
                                 OVER (PARTITION BY study)
                        THEN TRY_CAST(trial AS INTEGER)
                        ELSE dense_rank() OVER (PARTITION BY study ORDER BY trial) - 1 END,
                   state, params, final_step, final_value, n_steps, cost_seconds
            FROM t""",  # noqa: S608
    )
    return int(store.scalar(f"SELECT count(*) FROM {view}"))  # noqa: S608


def _write_studies(store: PolicyStore, studies: str, source: str, now) -> None:
    """The studies rows, from their trials just written (not from the points: a count of distinct labels over
    every point was a tenth of a large ingest); ``studies`` holds each study's task and content hash."""
    store.execute(
        f"""INSERT INTO studies
            SELECT t.study, h.task, h.content_hash, count(*), sum(t.n_steps), ?, ?
            FROM trials AS t JOIN {studies} AS h USING (study) GROUP BY t.study, h.task, h.content_hash""",  # noqa: S608
        [source, now],
    )
