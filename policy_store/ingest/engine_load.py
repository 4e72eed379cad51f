"""Ingest of a well-formed long-format file read by DuckDB itself, checked in SQL.

:func:`~policy_store.ingest.files.ingest_file` tries this first. DuckDB's
``read_csv`` / ``read_parquet`` load the file into a temporary table of the
store's connection (its own buffer pool, in one pass, canonical columns typed
on the way in); the row checks run as one vectorised aggregate over it, the
label, state, direction and params checks on distinct values, the group checks
on the per-trial summary. The content hash is the unchanged
:func:`~policy_store.ingest.hashing.study_hashes`, fed partitions of whole
studies fetched as Arrow; the points go from the temporary table to the store's
tables without leaving DuckDB.

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
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from policy_store.errors import InvalidInputError, StoreError
from policy_store.ingest.hashing import study_hashes
from policy_store.ingest.longformat import (
    COLUMNS,
    DEFAULT_DIRECTION,
    DIRECTIONS,
    MAX_STEP,
    REQUIRED_COLUMNS,
    STATES,
    codes,
)
from policy_store.ingest.writer import IngestReport, ingest_canonical_view
from policy_store.names import has_control
from policy_store.store import PolicyStore

_NUMBERS = ("step", "value", "cost_seconds", "peak_memory_mb")
_LABELS = ("task", "study", "trial")
# Cells pyarrow's CSV reader (the reference path) reads as NULL; DuckDB reads them as text.
_CSV_NULLS = frozenset(("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                        "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"))
_PARQUET_NUMBERS = frozenset(("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER",
                              "USMALLINT", "UTINYINT"))
_PARQUET_INTEGERS = _PARQUET_NUMBERS - {"DOUBLE", "FLOAT"}
ROWS_PER_BATCH = 250_000
"""Points fetched from DuckDB at a time, in file order, for the content hash."""
STORE_MEMORY = "256MB"
"""Buffer pool of the store's connection during the call: the loaded file beyond it spills to disk."""


def _csv_header(path: Path, delimiter: str) -> list[str] | None:
    with open(path, encoding="utf-8-sig", newline="") as f:
        try:
            return next(csv.reader(f, delimiter=delimiter))
        except (StopIteration, csv.Error, UnicodeDecodeError):
            return None


def _number(name: str, present: bool, csv_text: bool) -> tuple[str, str]:
    """(the column as DOUBLE, a condition true where the reference path could read the cell otherwise)."""
    if not present:
        return "CAST(NULL AS DOUBLE)", "false"
    number = f"TRY_CAST({name} AS DOUBLE)" if csv_text else f"CAST({name} AS DOUBLE)"
    # pyarrow infers an integer CSV column as int64 ('-0' is then 0, not -0.0); DuckDB reads '1_000' as 1000
    odd = f"coalesce(({number} = 0 AND signbit({number})) OR isinf({number}), false)"
    if csv_text:
        odd += f" OR ({name} IS NOT NULL AND {number} IS NULL) OR coalesce(contains({name}, '_'), false)"
    return number, odd


def _load_sql(path: Path, fmt: str, names: list[str], types: dict[str, str]) -> tuple[str, dict] | None:
    """The SELECT reading ``path`` into canonical columns plus ``_odd`` (a cell to leave to the reference path)."""
    csv_text = fmt == "csv"
    if csv_text:
        columns = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"  # names are known COLUMNS
        source = (f"read_csv($path, header = true, auto_detect = false, columns = {columns}, delim = $delimiter, "
                  "quote = '\"', escape = '\"', strict_mode = true, null_padding = false)")
        params: dict = {"path": str(path), "delimiter": "\t" if path.suffix.lower() == ".tsv" else ","}
    else:
        for name in names:
            kind = types[name]
            if name in _NUMBERS and kind not in _PARQUET_NUMBERS:
                return None
            if name in _LABELS and kind != "VARCHAR" and kind not in _PARQUET_INTEGERS:
                return None
            if name not in _NUMBERS and name not in _LABELS and kind != "VARCHAR":
                return None
        source, params = "read_parquet($path)", {"path": str(path)}

    def text(name: str) -> str:
        return f"CAST({name} AS VARCHAR)" if name in names else "CAST(NULL AS VARCHAR)"

    step, step_odd = _number("step", True, csv_text)
    value, value_odd = _number("value", True, csv_text)
    cost, cost_odd = _number("cost_seconds", "cost_seconds" in names, csv_text)
    memory, memory_odd = _number("peak_memory_mb", "peak_memory_mb" in names, csv_text)
    if "state" in names:  # upper-cased as the reference path does; a non-ASCII case mapping is left to it
        state = "coalesce(upper(CAST(state AS VARCHAR)), 'COMPLETE')"
        state_odd = "coalesce(upper(state) <> state AND strlen(state) <> length(state), false)"
    else:
        state, state_odd = "'COMPLETE'", "false"
    integral = f"({step} BETWEEN 0 AND {MAX_STEP} AND {step} = floor({step}))"
    select = f"""SELECT {text('task')} AS task, {text('study')} AS study, {text('trial')} AS trial,
                 CASE WHEN {integral} THEN CAST({step} AS BIGINT) END AS step,
                 coalesce({value}, 'NaN'::DOUBLE) AS value,
                 CASE WHEN NOT isnan({cost}) THEN {cost} END AS cost_seconds,
                 nullif({text('params')}, '') AS params,
                 {state} AS state,
                 coalesce({text('metric')}, $metric) AS metric,
                 coalesce({text('direction')}, $direction) AS direction,
                 CASE WHEN NOT isnan({memory}) THEN {memory} END AS peak_memory_mb,
                 coalesce(NOT {integral}, true) OR {step_odd} OR {value_odd} OR {cost_odd}
                     OR coalesce({cost} < 0, false) OR {memory_odd} OR coalesce({memory} < 0, false)
                     OR {state_odd} AS _odd
              FROM {source}"""  # noqa: S608 - column names are COLUMNS, the file is a bound parameter
    return select, params


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


def _groups_agree(store: PolicyStore, trials: str) -> bool:
    """One state and params per trial, one task per study, one direction and metric per task."""
    return bool(store.scalar(
        f"""SELECT (SELECT count(*) FROM {trials}) = (SELECT count(*) FROM (SELECT DISTINCT study, trial FROM {trials}))
               AND NOT EXISTS (SELECT study FROM {trials} GROUP BY study HAVING count(DISTINCT task) > 1)
               AND NOT EXISTS (SELECT task FROM {trials} GROUP BY task
                               HAVING count(DISTINCT direction) > 1 OR count(DISTINCT metric) > 1
                                      OR count(metric) NOT IN (0, count(*)))"""  # noqa: S608 - generated names
    ))


def _repeats_a_point(table: pa.Table) -> bool:
    """Whether a (study, trial, step) appears twice."""
    study, _ = codes(table["study"])
    trial, _ = codes(table["trial"])
    steps = table["step"].to_numpy()
    order = np.lexsort((steps, trial, study))
    study, trial, steps = study[order], trial[order], steps[order]
    return bool(((study[1:] == study[:-1]) & (trial[1:] == trial[:-1]) & (steps[1:] == steps[:-1])).any())


def _hashes(store: PolicyStore, table: str) -> dict[str, str] | None:
    """Content hash of every study, streamed in file order; None when a point repeats or a study's rows are
    not contiguous (the reference path then hashes the file whole, or partitioned)."""
    columns = ", ".join(COLUMNS)
    reader = store.execute(f"SELECT {columns} FROM {table}").to_arrow_reader(ROWS_PER_BATCH)  # noqa: S608
    result: dict[str, str] = {}
    carry: pa.Table | None = None
    for batch in reader:
        block = pa.Table.from_batches([batch])
        if carry is not None:
            block = pa.concat_tables([carry, block])
        last = pc.equal(block["study"], block["study"][-1])
        carry, block = block.filter(last), block.filter(pc.invert(last))
        if block.num_rows and not _hash_into(result, block):
            return None
    if carry is not None and not _hash_into(result, carry):
        return None
    return result


def _hash_into(result: dict[str, str], block: pa.Table) -> bool:
    """Add the hashes of ``block``'s studies (whole ones); False if one was hashed before or a point repeats."""
    if _repeats_a_point(block):
        return False
    hashes = study_hashes(block)
    if not result.keys().isdisjoint(hashes):
        return False
    result.update(hashes)
    return True


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
    """
    path = Path(path)
    if not path.is_file() or (direction is not None and direction not in DIRECTIONS):
        return None
    csv_text = fmt == "csv"
    if csv_text:
        names = _csv_header(path, "\t" if path.suffix.lower() == ".tsv" else ",")
        types: dict[str, str] = {}
    else:
        try:
            described = store.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
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
    table = f"_engine_{uuid.uuid4().hex}"
    before = store.scalar("SELECT current_setting('memory_limit')")
    store.execute("SET memory_limit = ?", [STORE_MEMORY])
    trials, view = f"{table}_trials", f"{table}_rows"
    try:
        try:
            store.execute(f"CREATE TEMP TABLE {table} AS {select}",  # noqa: S608
                          {**params, "metric": metric, "direction": direction or DEFAULT_DIRECTION})
        except StoreError:  # a cell or line DuckDB's reader refuses: the reference path names it
            return None
        rows, odd, nan_kept = store.execute(
            f"""SELECT count(*), bool_or(_odd), bool_or(isnan(value) AND state IN ('COMPLETE', 'RUNNING'))
                FROM {table}"""  # noqa: S608
        ).fetchone()
        if rows == 0 or odd or nan_kept:
            return None
        store.execute(f"""CREATE TEMP TABLE {trials} AS SELECT DISTINCT study, trial, task, state, params, metric,
                          direction FROM {table}""")  # noqa: S608
        if not _plain_values(store, trials, csv_text) or not _groups_agree(store, trials):
            return None
        hashes = _hashes(store, table)
        if hashes is None:
            return None
        store.execute(f"CREATE TEMP VIEW {view} AS SELECT *, rowid AS _row FROM {table}")  # noqa: S608
        try:
            return ingest_canonical_view(store, view, hashes, source=source, replace=replace)
        except InvalidInputError:
            return None  # a conflict with stored tasks: the reference path raises it naming the line
    finally:
        for name, kind in ((view, "VIEW"), (trials, "TABLE"), (table, "TABLE")):
            store.execute(f"DROP {kind} IF EXISTS {name}")
        store.execute("SET memory_limit = ?", [before])
