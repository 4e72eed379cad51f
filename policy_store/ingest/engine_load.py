"""Ingest of a well-formed long-format file read by DuckDB itself, checked in SQL.

:func:`~policy_store.ingest.files.ingest_file` tries this first. DuckDB reads the
file (CSV or Parquet) in place in each pass, its columns typed and canonical on
the way in: reading a CSV file again costs less than keeping its rows in a
temporary table (which spills beyond the buffer pool). One aggregate per trial
gives the trials' rows and every row check (an odd cell, a NaN where it may not
be, a trial whose state or params differ between its points); the label, state,
direction and params checks run on the distinct values of that summary, the
group checks on it too. The content hash is the one of
:mod:`~policy_store.ingest.hashing` (same digests): each study's header and
trial texts come from the summary, its points are fetched as numbers only, in
file order, sorted per study where the file is not. The points go from the file
to the store's tables without leaving DuckDB, in one
transaction, and the trials from the summary. Neither pandas nor the whole
validation is imported on this path.

A file written to between the passes is never stored: its ``os.stat`` (size,
modification time, inode, device) is taken before the first pass and checked
again inside the write's transaction, after the inserts, with the number of
points inserted against the summary's count. A difference rolls the
transaction back and raises :class:`~policy_store.errors.InvalidInputError`
naming the file.

This path accepts a file only when every check passes and every cell is one the
reference path (:func:`~policy_store.ingest.files.read_long_file` +
:func:`~policy_store.ingest.longformat.validate_long_frame`) reads the same way.
Anything else -- a bad or unusual cell, a conflict found while writing -- returns
``None``, and the caller runs the reference path, which stores the same content
or raises the typed error naming the file's line and field. So both paths give
the same stores, hashes and errors; this one is only faster.

>>> import tempfile, pathlib
>>> from policy_store import PolicyStore
>>> path = pathlib.Path(tempfile.mkdtemp()) / "curves.csv"
>>> _ = path.write_text("task,study,trial,step,value\\nt,s,0,0,0.5\\nt,s,0,1,0.25\\n")
>>> padded = path.with_name("padded.csv")
>>> _ = padded.write_text("task,study,trial,step,value\\nt, s2 ,0,0,0.5\\n")
>>> with PolicyStore.memory() as store:
...     print(ingest_with_engine(store, path, "csv", source="demo").summary())
...     print(ingest_with_engine(store, padded, "csv", source="demo"))  # trimmed by the reference path
1 study added (2 points, 1 new task)
None
"""

from __future__ import annotations

import csv
import json
import os
import uuid
from pathlib import Path
from stat import S_ISREG

import duckdb
import numpy as np

from policy_store.binding import literal_path
from policy_store.errors import InvalidInputError, StoreError
from policy_store.ingest.bounded import bounded_write
from policy_store.ingest.columns import COLUMNS, DEFAULT_DIRECTION, DIRECTIONS, MAX_STEP, REQUIRED_COLUMNS, STATES
from policy_store.ingest.hashing import canonical_digest, canonical_numbers, numbers
from policy_store.ingest.replacing import STUDY_LIST, joined, sort_incoming
from policy_store.ingest.report import IngestReport
from policy_store.names import has_control
from policy_store.store import PolicyStore, utcnow

_NUMBERS = ("step", "value", "cost_seconds", "peak_memory_mb")
_LABELS = ("task", "study", "trial")
# Cells pyarrow's CSV reader (the reference path) reads as NULL; DuckDB reads them as text.
_CSV_NULLS = frozenset(("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                        "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"))
_PARQUET_NUMBERS = frozenset(("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER",
                              "USMALLINT", "UTINYINT"))
_PARQUET_INTEGERS = _PARQUET_NUMBERS - {"DOUBLE", "FLOAT"}
ROWS_PER_BATCH = 250_000
"""Points fetched from DuckDB at a time, in file order, for the content hash (numbers only)."""
STORE_MEMORY = "256MB"
"""Buffer pool of the store's connection during the call: the per-trial aggregate beyond it spills to disk."""


class _FileChangedError(Exception):
    """The file is no longer the one the first pass read; raised inside the write's unit, it rolls it back."""


def _file_state(path: Path) -> tuple[int, int, int, int] | None:
    """What changes when the file is written to (None: not a regular file one can stat)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    if not S_ISREG(found.st_mode):
        return None
    return found.st_size, found.st_mtime_ns, found.st_ino, found.st_dev


def _check_unchanged(path: Path, seen: tuple) -> None:
    """Raise :class:`_FileChangedError` unless the file's state is still ``seen`` (taken before the first pass)."""
    if _file_state(path) != seen:
        raise _FileChangedError


def _csv_header(path: Path, delimiter: str) -> list[str] | None:
    with open(path, encoding="utf-8-sig", newline="") as f:
        try:
            return next(csv.reader(f, delimiter=delimiter))
        except (StopIteration, csv.Error, UnicodeDecodeError):
            return None


def _number(name: str, present: bool, csv_text: bool) -> tuple[str, str]:
    """(the column as DOUBLE, a condition true where the reference path could read the cell otherwise).
    The DOUBLE is ``_{name}``, cast once per cell by :func:`_load_sql`'s inner SELECT (DuckDB does not share a
    cast repeated inside CASE and coalesce: it was a third of the row checks' CPU)."""
    if not present:
        return "CAST(NULL AS DOUBLE)", "false"
    number = f"_{name}"
    # pyarrow infers an integer CSV column as int64 ('-0' is then 0, not -0.0); DuckDB reads '1_000' as 1000
    odd = f"coalesce(({number} = 0 AND signbit({number})) OR isinf({number}), false)"
    if csv_text:
        odd += f" OR ({name} IS NOT NULL AND {number} IS NULL) OR coalesce(contains({name}, '_'), false)"
    return number, odd


def _load_sql(path: Path, fmt: str, names: list[str], types: dict[str, str]) -> tuple[str, dict] | None:
    """The SELECT reading ``path``: its own columns typed and canonical, plus ``_odd`` (a cell to leave to the
    reference path). :func:`_canonical` adds the columns the file does not have."""
    csv_text = fmt == "csv"
    if csv_text:
        columns = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"  # names are known COLUMNS
        source = (f"read_csv($path, header = true, auto_detect = false, columns = {columns}, delim = $delimiter, "
                  "quote = '\"', escape = '\"', strict_mode = true, null_padding = false)")
        params: dict = {"path": literal_path(path), "delimiter": "\t" if path.suffix.lower() == ".tsv" else ","}
    else:
        for name in names:
            kind = types[name]
            if name in _NUMBERS and kind not in _PARQUET_NUMBERS:
                return None
            if name in _LABELS and kind != "VARCHAR" and kind not in _PARQUET_INTEGERS:
                return None
            if name not in _NUMBERS and name not in _LABELS and kind != "VARCHAR":
                return None
        source, params = "read_parquet($path)", {"path": literal_path(path)}

    step, step_odd = _number("step", True, csv_text)
    value, value_odd = _number("value", True, csv_text)
    cost, cost_odd = _number("cost_seconds", "cost_seconds" in names, csv_text)
    memory, memory_odd = _number("peak_memory_mb", "peak_memory_mb" in names, csv_text)
    # state upper-cased as the reference path does; a non-ASCII case mapping is left to it
    state_odd = ("coalesce(upper(state) <> state AND strlen(state) <> length(state), false)" if "state" in names
                 else "false")
    integral = f"({step} BETWEEN 0 AND {MAX_STEP} AND {step} = floor({step}))"
    typed = {"task": "CAST(task AS VARCHAR)", "study": "CAST(study AS VARCHAR)", "trial": "CAST(trial AS VARCHAR)",
             "step": f"CASE WHEN {integral} THEN CAST({step} AS BIGINT) END",
             "value": f"coalesce({value}, 'NaN'::DOUBLE)",
             "cost_seconds": f"CASE WHEN NOT isnan({cost}) THEN {cost} END",
             "params": "nullif(CAST(params AS VARCHAR), '')",
             "state": "coalesce(upper(CAST(state AS VARCHAR)), 'COMPLETE')",
             "metric": "CAST(metric AS VARCHAR)", "direction": "CAST(direction AS VARCHAR)",
             "peak_memory_mb": f"CASE WHEN NOT isnan({memory}) THEN {memory} END"}
    odd = (f"""coalesce(NOT {integral}, true) OR {step_odd} OR {value_odd} OR {cost_odd}
               OR coalesce({cost} < 0, false) OR {memory_odd} OR coalesce({memory} < 0, false) OR {state_odd}""")
    own = ", ".join(f"{typed[c]} AS {c}" for c in COLUMNS if c in names)
    cast = "TRY_CAST" if csv_text else "CAST"
    doubles = "".join(f", {cast}({c} AS DOUBLE) AS _{c}" for c in _NUMBERS if c in names)
    # column names are COLUMNS, the file is a bound parameter
    return f"SELECT {own}, {odd} AS _odd FROM (SELECT *{doubles} FROM {source})", params  # noqa: S608


def _canonical(rows: str, names: list[str]) -> str:
    """Every canonical column of ``rows`` (the file's, typed by :func:`_load_sql`), defaults for the others;
    binds ``$metric`` and ``$direction``."""
    absent = {"cost_seconds": "CAST(NULL AS DOUBLE)", "params": "CAST(NULL AS VARCHAR)", "state": "'COMPLETE'",
              "metric": "CAST($metric AS VARCHAR)", "direction": "CAST($direction AS VARCHAR)",
              "peak_memory_mb": "CAST(NULL AS DOUBLE)"}
    given = {"metric": "coalesce(metric, $metric)", "direction": "coalesce(direction, $direction)"}
    columns = ", ".join(f"{given.get(c, c) if c in names else absent[c]} AS {c}" for c in COLUMNS)
    return f"(SELECT {columns}, _odd FROM {rows}) AS p"  # noqa: S608 - generated names and constants


def _plain_label(value: str | None, csv_text: bool, *, nullable: bool = False) -> bool:
    """A label the reference path keeps as it is (no trimming, no NULL reading, no error)."""
    if value is None:
        return nullable
    return (value != "" and value == value.strip() and not has_control(value)
            and not (csv_text and value in _CSV_NULLS))


def _plain_params(value: str | None, csv_text: bool) -> bool:
    if value is None:
        return True
    if csv_text and (value in _CSV_NULLS or "\n" in value or "\r" in value):
        return False  # pyarrow reads these as NULL, or refuses a newline inside a value
    try:
        parsed = json.loads(value, parse_constant=_refuse)
    except (ValueError, RecursionError):
        return False
    return isinstance(parsed, dict)


def _refuse(name: str) -> float:
    raise ValueError(name)


def _distinct(store: PolicyStore, table: str, column: str) -> list:
    return [r[0] for r in store.execute(f"SELECT DISTINCT {column} FROM {table}").fetchall()]  # noqa: S608


def _plain_state(value: str | None) -> bool:
    return value in STATES


def _plain_values(store: PolicyStore, trials: str, csv_text: bool) -> bool:
    """Every label, state, direction, metric and params text is one the reference path reads unchanged."""
    if not all(_plain_label(v, csv_text) for column in _LABELS for v in _distinct(store, trials, column)):
        return False
    if not all(_plain_label(v, csv_text, nullable=True) for v in _distinct(store, trials, "metric")):
        return False
    if not set(_distinct(store, trials, "direction")) <= set(DIRECTIONS):
        return False
    if not all(_plain_state(v) for v in _distinct(store, trials, "state")):
        return False
    return all(_plain_params(v, csv_text) for v in _distinct(store, trials, "params"))


def _trials_sql(points: str, names: list[str]) -> str:
    """One row per trial of ``points``: the trials table's columns, the task's, and ``_odd`` (leave it to the
    reference path: an odd cell, a NaN in a COMPLETE or RUNNING trial, two states or params in one trial).
    A column the file does not have is one constant (:func:`_canonical`): nothing to compare."""
    per_trial = ("task", "state", "params", "metric", "direction")
    never_null = ("state", "direction")  # a default fills them in the canonical columns
    agree = " AND ".join([f"min({c}) IS NOT DISTINCT FROM max({c})"
                          + ("" if c in never_null else f" AND count({c}) IN (0, count(*))")
                          for c in per_trial if c in names] or ["true"])
    first = ", ".join(f"{'min' if c in names else 'any_value'}({c}) AS {c}" for c in per_trial)
    return f"""SELECT study, trial, {first},
                      max(step) AS final_step, arg_max(value, step) AS final_value, count(*) AS n_steps,
                      CASE WHEN count(cost_seconds) = count(*) THEN sum(cost_seconds) END AS cost_seconds,
                      bool_or(_odd OR (isnan(value) AND state IN ('COMPLETE', 'RUNNING'))) OR NOT ({agree}) AS _odd
               FROM {points} GROUP BY study, trial"""  # noqa: S608 - generated names and constants


def _groups_agree(store: PolicyStore, trials: str) -> bool:
    """One task per study, one direction and metric per task (one state and params per trial: the summary)."""
    return bool(store.scalar(
        f"""SELECT NOT EXISTS (SELECT study FROM {trials} GROUP BY study HAVING count(DISTINCT task) > 1)
               AND NOT EXISTS (SELECT task FROM {trials} GROUP BY task
                               HAVING count(DISTINCT direction) > 1 OR count(DISTINCT metric) > 1
                                      OR count(metric) NOT IN (0, count(*)))"""  # noqa: S608 - generated names
    ))


def _hashes(store: PolicyStore, points: str, params: dict, trials: str, memory: bool) -> dict[str, str] | None:
    """Content hash of every study; None when a point repeats or a study's rows are not together in the file
    (the reference path then hashes the file whole, or partitioned), or when the reader refuses a line the
    summary read (the file changed in between, or DuckDB reads it differently).

    The header and trial texts of each study are built by DuckDB from the trials summary; the points are
    fetched in file order as numbers, each with its trial's rank in (study, trial label) order, and hashed
    study by study, sorted first only where the file's order is not already the canonical one.
    """
    studies = store.execute(
        f"""SELECT study, task || chr(31) || coalesce(metric, '') || chr(31) || direction || chr(29),
                   count(*), sum(n_steps)
            FROM {trials} GROUP BY study, task, metric, direction ORDER BY study"""  # noqa: S608
    ).fetchall()
    # the trials in (study, trial label) byte order: a trial's rank is its row here
    ranked = store.execute(
        f"""SELECT trial || chr(31) || state || chr(31) || coalesce(params, '') || chr(31) || CAST(n_steps AS VARCHAR),
                   hash(study, trial)
            FROM {trials} ORDER BY study, trial"""  # noqa: S608
    ).to_arrow_table()
    texts, keys = ranked.column(0).to_pylist(), numbers(ranked.column(1))
    del ranked
    n_trials = np.array([r[2] for r in studies], dtype=np.int64)
    n_points = np.array([r[3] for r in studies], dtype=np.int64)
    bounds = np.r_[0, np.cumsum(n_trials)].tolist()
    studies = [(r[0], r[1] + "\x1e".join(texts[bounds[i]:bounds[i + 1]])) for i, r in enumerate(studies)]
    del texts
    study_of = np.repeat(np.arange(len(studies)), n_trials)  # trial rank -> study index
    # each point's trial rank from its (study, trial) hash: no join, which would have to run on one thread to
    # keep the file's order; two trials with one 64-bit hash (odds ~3e-8 at 1 M trials) leave it to the reference path
    by_key = np.argsort(keys)
    keys = keys[by_key]
    if (keys[1:] == keys[:-1]).any():
        return None
    mem = "coalesce(peak_memory_mb, 'NaN'::DOUBLE)" if memory else "'NaN'::DOUBLE"
    order = store.scalar("SELECT current_setting('preserve_insertion_order')")
    store.execute("SET preserve_insertion_order = true")
    try:
        reader = store.execute(
            f"""SELECT hash(study, trial), step, value, coalesce(cost_seconds, 'NaN'::DOUBLE), {mem}
                FROM {points}""",  # noqa: S608
            params or None,
        ).to_arrow_reader(ROWS_PER_BATCH)
        done = np.zeros(len(studies), dtype=bool)
        result: dict[str, str] = {}
        carry: list[np.ndarray] | None = None
        for batch in reader:
            columns = [numbers(batch.column(i)) for i in range(5)]
            # looked up once per run of one trial's points (usually together in the file)
            runs = np.flatnonzero(np.r_[True, columns[0][1:] != columns[0][:-1]])
            at = np.searchsorted(keys, columns[0][runs])
            if not (keys[np.minimum(at, len(keys) - 1)] == columns[0][runs]).all():
                return None  # a trial the summary did not see: the file changed since
            columns[0] = np.repeat(by_key[at], np.diff(np.r_[runs, len(columns[0])]))
            if carry is not None:
                columns = [np.concatenate((a, b)) for a, b in zip(carry, columns, strict=True)]
            last = study_of[columns[0]] == study_of[columns[0][-1]]  # its study may go on in the next batch
            carry = [c[last] for c in columns]
            if not _hash_block([c[~last] for c in columns], study_of, n_points, studies, done, result):
                return None
        if carry is not None and not _hash_block(carry, study_of, n_points, studies, done, result):
            return None
    except (StoreError, duckdb.Error, OSError):
        # DuckDB refuses a line now (the file cut or rewritten since the summary): a StoreError from the query,
        # or a bare OSError from the Arrow reader past the first batch; the reference path names the line
        return None
    finally:
        store.execute("SET preserve_insertion_order = ?", [order])
    return result if done.all() else None


def _hash_block(columns: list[np.ndarray], study_of: np.ndarray, n_points: np.ndarray, studies: list,
                done: np.ndarray, result: dict[str, str]) -> bool:
    """Hash the studies of ``columns`` (trial rank, step, value, cost, memory; whole studies, each in one run)."""
    ranks, steps, values, costs, memory = columns
    if not len(ranks):
        return True
    study = study_of[ranks]
    starts = np.r_[0, np.flatnonzero(study[1:] != study[:-1]) + 1]
    if len(np.unique(study[starts])) != len(starts):  # studies interleaved within the block: group them
        order = np.argsort(study, kind="stable")
        study, ranks, steps, values, costs, memory = (a[order] for a in (study, ranks, steps, values, costs, memory))
        starts = np.r_[0, np.flatnonzero(study[1:] != study[:-1]) + 1]
    ends = np.r_[starts[1:], len(study)]
    which = study[starts]
    if done[which].any() or not (ends - starts == n_points[which]).all():
        return False  # a study's rows are not together in the file
    # canonical order within a study: trial rank, then step strictly increasing
    ordered = (ranks[1:] > ranks[:-1]) | ((ranks[1:] == ranks[:-1]) & (steps[1:] > steps[:-1]))
    unordered = np.zeros(len(study), dtype=bool)
    unordered[1:] = ~ordered
    unordered[starts] = False
    needs_sort = (np.add.reduceat(unordered, starts) > 0).tolist()
    has_memory = (np.add.reduceat(~np.isnan(memory), starts) > 0).tolist()
    # the numbers as hashed, converted for the whole block at once (per study: 18k times a few small calls)
    steps, values, costs = steps.astype("<i8", copy=False), canonical_numbers(values), canonical_numbers(costs)
    memory = canonical_numbers(memory) if any(has_memory) else memory
    for k, (i, lo, hi) in enumerate(zip(which.tolist(), starts.tolist(), ends.tolist(), strict=True)):
        r, s = ranks[lo:hi], steps[lo:hi]
        v, c, m = values[lo:hi], costs[lo:hi], memory[lo:hi]
        if needs_sort[k]:
            order = np.lexsort((s, r))
            r, s, v, c, m = r[order], s[order], v[order], c[order], m[order]
            if ((r[1:] == r[:-1]) & (s[1:] == s[:-1])).any():
                return False  # a repeated point: the reference path names it
        result[studies[i][0]] = canonical_digest(studies[i][1], s, v, c, m if has_memory[k] else None)
    done[which] = True
    return True


def _write(store: PolicyStore, points: str, params: dict, trials: str, hashes: dict[str, str],
           report: IngestReport, *, source: str, replace: bool, memory: bool, path: Path,
           seen: tuple) -> IngestReport:
    """Write the checked studies: one unit of work (re-run from the reads on after a commit conflict).

    The points are read from the file once more: :class:`_FileChangedError` (the unit rolled back) unless the file is
    still the one the first pass read and the points inserted are the ones the summary counted."""
    # Two hosts adding the same study at once must not both insert it: fenced transactions conflict.
    store.fence()
    tasks = store.fetch_dicts(f"""SELECT task, any_value(metric) AS metric, any_value(direction) AS direction
                                  FROM {trials} GROUP BY task""")  # noqa: S608
    stored = {r["task"]: r for r in store.fetch_dicts(
        f"SELECT task, metric, direction FROM tasks WHERE task IN (SELECT task FROM {trials})")}  # noqa: S608
    for task in tasks:
        old = stored.get(task["task"])
        if old is not None and (old["direction"] != task["direction"]
                                or (old["metric"] and task["metric"] and old["metric"] != task["metric"])):
            raise InvalidInputError("a task disagrees with the store")  # the reference path names the line
    report.new_tasks = [t["task"] for t in tasks if t["task"] not in stored]
    to_write = sort_incoming(store, trials, hashes, report, replace=replace)
    if not to_write:
        _check_unchanged(path, seen)  # "unchanged" is said of the hashes of the file as first read
        return report
    now = utcnow()
    if report.new_tasks:
        store.execute(f"""INSERT INTO tasks SELECT task, any_value(metric), any_value(direction), ? FROM {trials}
                          WHERE task IN (SELECT {STUDY_LIST}) GROUP BY task""",  # noqa: S608
                      [now, joined(report.new_tasks)])
    # Only the studies to write (unchanged ones are in the input too)
    only = (" SEMI JOIN (SELECT unnest(string_split($write, chr(31))) AS study) USING (study)" if report.unchanged
            else "")
    chosen = {"write": joined(to_write)} if report.unchanged else {}
    inserted = store.execute(
        f"INSERT INTO curve_points SELECT study, trial, step, value, cost_seconds FROM {points}{only}",  # noqa: S608
        {**params, **chosen} or None).fetchone()[0]
    if memory:
        store.execute(f"""INSERT INTO curve_memory SELECT study, trial, step, peak_memory_mb FROM {points}{only}
                          WHERE peak_memory_mb IS NOT NULL""",  # noqa: S608
                      {**params, **chosen} or None)
    store.execute(
        f"""INSERT INTO trials
            SELECT study, trial,
                   -- as ingest_frame: labels are their numbers only when each is an integer written canonically
                   CASE WHEN bool_and(CAST(TRY_CAST(trial AS INTEGER) AS VARCHAR) IS NOT DISTINCT FROM trial)
                                 OVER (PARTITION BY study)
                        THEN TRY_CAST(trial AS INTEGER)
                        ELSE dense_rank() OVER (PARTITION BY study ORDER BY trial) - 1 END,
                   state, params, final_step, final_value, n_steps, cost_seconds
            FROM {trials} AS t{only}""",  # noqa: S608
        chosen or None,
    )
    store.execute(
        f"""INSERT INTO studies
            SELECT t.study, any_value(t.task), h.content_hash, count(*), sum(t.n_steps), $source, $now
            FROM {trials} AS t
            JOIN (SELECT unnest(string_split($studies, chr(31))) AS study,
                         unnest(string_split($hashes, chr(31))) AS content_hash) AS h
            USING (study) GROUP BY t.study, h.content_hash""",  # noqa: S608
        {"source": source, "now": now, "studies": joined(to_write), "hashes": joined([hashes[s] for s in to_write])},
    )
    report.points_written = int(store.scalar(
        f"SELECT sum(n_steps) FROM {trials} WHERE study IN (SELECT {STUDY_LIST})", [joined(to_write)]))  # noqa: S608
    if inserted != report.points_written:
        raise _FileChangedError
    _check_unchanged(path, seen)
    return report


def ingest_with_engine(store: PolicyStore, path: str | Path, fmt: str, *, source: str, replace: bool = False,
                       direction: str | None = None, metric: str | None = None) -> IngestReport | None:
    """Ingest ``path`` read and checked by DuckDB; ``None`` when the reference path must decide.

    Parameters
    ----------
    store:
        The open store.
    path:
        A long-format CSV (``.tsv``: tab-separated) or Parquet file.
    fmt:
        ``csv`` or ``parquet``.
    source, replace, direction, metric:
        As for :func:`~policy_store.ingest.writer.ingest_frame`.

    Returns
    -------
    IngestReport or None
        ``None``: nothing was written; read the file with the reference path (it stores the same
        content or raises the typed error naming the line and field).

    Raises
    ------
    InvalidInputError
        The file changed while it was read (its size, time, inode or device, or the number of its points,
        differ between passes); nothing was written.
    """
    path = Path(path)
    seen = _file_state(path)  # before the first pass: any later write to the file changes it
    if seen is None or (direction is not None and direction not in DIRECTIONS):
        return None
    csv_text = fmt == "csv"
    if csv_text:
        names = _csv_header(path, "\t" if path.suffix.lower() == ".tsv" else ",")
        types: dict[str, str] = {}
    else:
        try:
            described = store.execute("DESCRIBE SELECT * FROM read_parquet(?)", [literal_path(path)]).fetchall()
        except StoreError:  # unreadable: the reference path names the problem
            return None
        names, types = [r[0] for r in described], {r[0]: r[1] for r in described}
    if (not names or len(set(names)) != len(names) or not set(names) <= set(COLUMNS)
            or not set(REQUIRED_COLUMNS) <= set(names)):
        return None
    load = _load_sql(path, fmt, names, types)
    if load is None:
        return None
    select, params = load
    defaults = {"metric": metric, "direction": direction or DEFAULT_DIRECTION}
    trials = f"_engine_{uuid.uuid4().hex}_trials"
    memory = "peak_memory_mb" in names
    points, params = _canonical(f"({select})", names), {**params, **defaults}
    try:
        with bounded_write(store, STORE_MEMORY):
            try:
                store.execute(f"CREATE TEMP TABLE {trials} AS {_trials_sql(points, names)}",  # noqa: S608
                              params or None)
            except StoreError:  # a cell or line DuckDB's reader refuses: the reference path names it
                return None
            rows, odd = store.execute(f"SELECT count(*), bool_or(_odd) FROM {trials}").fetchone()  # noqa: S608
            if rows == 0 or odd or not _plain_values(store, trials, csv_text) or not _groups_agree(store, trials):
                return None
            hashes = _hashes(store, points, params, trials, memory)
            if hashes is None:
                _check_unchanged(path, seen)  # a line refused, points missing: the file may have changed since
                return None
            try:
                return store.run_atomic(lambda s: _write(s, points, params, trials, hashes, IngestReport(),
                                                         source=source, replace=replace, memory=memory, path=path,
                                                         seen=seen))
            except InvalidInputError:
                return None  # a conflict with stored tasks: the reference path raises it naming the line
            except StoreError:  # the write's read refused a line (the file cut since the first pass?)
                _check_unchanged(path, seen)
                raise
    except _FileChangedError:
        raise InvalidInputError("the file changed while it was being ingested, so nothing of it was stored; "
                                "ingest it again once it is complete", source=str(path)) from None
    finally:
        store.execute(f"DROP TABLE IF EXISTS {trials}")
