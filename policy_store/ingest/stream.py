"""Streaming ingest of large long-format CSV files.

:func:`policy_store.ingest.ingest_file` streams CSV files above
:data:`STREAM_BYTES`; the others are read whole (faster for small files). The
stream keeps the contract of :func:`~policy_store.ingest.writer.ingest_frame`:
one transaction, the same content hashes (re-ingesting a file is a no-op
whichever path read it), and typed errors naming the file's line and field.

Where memory is bounded
-----------------------
1. pyarrow's streaming CSV reader yields blocks of ``block_size`` bytes; each is
   validated by :func:`~policy_store.ingest.longformat.validate_long_frame`
   (the same checks as a whole file; row numbers offset to the file's) and
   appended to Parquet files in a private staging folder.
2. What a block cannot check alone is checked across blocks in the stage:
   one state and params per trial, one task per study, one direction and
   metric per task (from per-block summaries, one row per trial and block).
3. The stage is partitioned by a hash of the study id (one partition per
   :data:`PART_BYTES` of CSV), so each partition holds whole studies: they are
   read back one at a time, hashed by
   :func:`~policy_store.ingest.hashing.study_hashes` and checked for duplicate
   points. A single study must fit in memory; a file may hold any number.
4. The store scans the stage (its Parquet files, lazily, with DuckDB's own
   reader: its reads count against the buffer pool) with the usual writer,
   its own buffer pool capped at :data:`STORE_MEMORY` for the call, one
   partition at a time (each aggregate sees whole studies of one partition),
   all in one transaction.

>>> import tempfile, pathlib
>>> from policy_store import PolicyStore
>>> path = pathlib.Path(tempfile.mkdtemp()) / "curves.csv"
>>> rows = "".join(f"t,s{i % 3},{i},{k},{1 / (k + 1)}\\n" for i in range(30) for k in range(4))
>>> _ = path.write_text("task,study,trial,step,value\\n" + rows)
>>> with PolicyStore.memory() as store:
...     print(ingest_csv_stream(store, path, block_size=1 << 10).summary())
...     print(ingest_csv_stream(store, path).summary())
3 studies added (120 points, 1 new task)
3 studies unchanged (already in the store; nothing written)
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from policy_store.binding import literal_path
from policy_store.errors import InvalidInputError
from policy_store.ingest.bounded import bounded_write
from policy_store.ingest.hashing import study_hashes
from policy_store.ingest.longformat import COLUMNS, DIRECTIONS, refuse_repeated_columns, validate_long_frame
from policy_store.store import PolicyStore

STREAM_BYTES = 256 << 20
"""CSV files larger than this are streamed by :func:`~policy_store.ingest.ingest_file`."""
BLOCK_BYTES = 8 << 20
"""Bytes of CSV parsed and validated at a time."""
STAGE_MEMORY = "256MB"
"""Buffer pool of the private DuckDB that partitions blocks and runs the cross-block checks (spills beyond)."""
STORE_MEMORY = "512MB"
"""Buffer pool of the store's connection while it writes a streamed file."""
PART_BYTES = 32 << 20
"""CSV bytes per stage partition: one partition (whole studies) is in memory at a time when hashing."""

_NUMERIC = ("step", "value", "cost_seconds", "peak_memory_mb")
# (field, the key columns it must be unique within, what the key is called): the cross-block checks.
_CROSS_CHECKS = (
    ("state", ("study", "trial"), "trial"),
    ("params", ("study", "trial"), "trial"),
    ("task", ("study",), "study"),
    ("direction", ("task",), "task"),
    ("metric", ("task",), "task"),
)
_SUMMARIES = {"trial": ("study", "trial", "state", "params"), "study": ("study", "task"),
              "task": ("task", "direction", "metric")}


def _blocks(path: Path, block_size: int) -> Iterator[pa.RecordBatch]:
    """The file's record batches: label columns as text, numbers as text too (parsed per block)."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open("rb") as fh:
        header = fh.readline().decode("utf-8-sig").rstrip("\r\n").split(delimiter)
    unknown = [c for c in header if c.strip('"') not in COLUMNS]
    if unknown:
        raise InvalidInputError(f"{path}: unknown column; allowed columns are {', '.join(COLUMNS)}", field=unknown[0])
    refuse_repeated_columns([c.strip('"') for c in header])  # before Arrow's reader meets a name twice
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=block_size),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            # Text for every column: a bad number in block 900 is then a typed error naming its row, not
            # a conversion failure of the reader's inferred type.
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in COLUMNS},
                                                 strings_can_be_null=True),
        )
        yield from reader
    except pa.ArrowInvalid as e:
        raise InvalidInputError(f"{path}: not a readable CSV file ({e})") from e


def _as_frame(batch: pa.RecordBatch):
    """The block as a DataFrame: numeric columns parsed by Arrow when they parse, else left as text."""
    columns = {}
    for name in batch.schema.names:
        column = batch.column(name)
        if name in _NUMERIC:
            with suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):  # else validation names the bad row
                column = pc.cast(column, pa.float64())
        columns[name] = column
    return pa.table(columns).to_pandas()


class _Stage:
    """Validated blocks on disk until the store takes them: Parquet files, each holding whole studies."""

    def __init__(self, directory: str, parts: int) -> None:
        self.directory = directory
        self.parts = parts
        os.mkdir(os.path.join(directory, "points"))
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.con = duckdb.connect()  # private, in memory: per-block summaries and the cross-block checks
        self.con.execute("SET memory_limit = ?", [STAGE_MEMORY])
        self.con.execute("SET temp_directory = ?", [os.path.join(directory, "spill")])
        self.con.execute("SET enable_progress_bar = false")
        self.rows = 0

    def _write(self, name: str, table: pa.Table) -> None:
        if name not in self._writers:
            self._writers[name] = pq.ParquetWriter(os.path.join(self.directory, f"{name}.parquet"), table.schema)
        self._writers[name].write_table(table)

    def append(self, canonical: pa.Table) -> None:
        n = canonical.num_rows
        block = canonical.append_column("_row", pa.array(np.arange(self.rows, self.rows + n, dtype=np.int64)))
        self.con.register("block", block)
        # Partition by a hash of the study id, so that every study lands whole in one partition.
        parts = self.con.execute("SELECT CAST(hash(study) % CAST(? AS UBIGINT) AS INTEGER) AS p FROM block",
                                 [self.parts]).to_arrow_table()["p"].to_numpy()
        ordered = block.take(pa.array(np.argsort(parts, kind="stable")))
        bounds = np.r_[0, np.cumsum(np.bincount(parts, minlength=self.parts))]
        for part in np.flatnonzero(np.diff(bounds)):
            self._write(f"points/{part}", ordered.slice(bounds[part], bounds[part + 1] - bounds[part]))
        for name, cols in _SUMMARIES.items():
            keys = ", ".join(cols)
            self._write(f"seen_{name}", self.con.execute(
                f"SELECT {keys}, min(_row) AS first_row FROM block GROUP BY {keys}").to_arrow_table())  # noqa: S608
        self.con.unregister("block")
        self.rows += n

    def close_files(self) -> None:
        while self._writers:
            self._writers.popitem()[1].close()

    @property
    def points(self) -> str:
        return os.path.join(self.directory, "points")

    def check_across_blocks(self) -> None:
        """What one block could not see: a trial, study or task given two values in different blocks."""
        for field, keys, what in _CROSS_CHECKS:
            key = ", ".join(keys)
            row = self.con.execute(
                f"""SELECT first_row, {key}, v0, {field} FROM (
                        SELECT *, first_value({field}) OVER (PARTITION BY {key} ORDER BY first_row) AS v0
                        FROM read_parquet(?))
                    WHERE {field} IS DISTINCT FROM v0 ORDER BY first_row LIMIT 1""",  # noqa: S608 - constants
                [literal_path(os.path.join(self.directory, f"seen_{what}.parquet"))],
            ).fetchone()
            if row is not None:
                first_row, *labels, first, other = row
                raise InvalidInputError(f"{what} {'/'.join(labels)!r} has more than one {field}: "
                                        f"{first!r} and {other!r}", row=int(first_row), field=field)

    def hashes(self) -> dict[str, str]:
        """Content hash of every study, one partition (whole studies) in memory at a time."""
        result: dict[str, str] = {}
        duplicate: tuple[int, str] | None = None
        for name in sorted(os.listdir(self.points)):
            table = pq.read_table(os.path.join(self.points, name))
            result.update(study_hashes(table))
            found = _first_duplicate(table)
            if found is not None and (duplicate is None or found[0] < duplicate[0]):
                duplicate = found
        if duplicate is not None:
            raise InvalidInputError(duplicate[1], row=duplicate[0], field="step")
        return result


def _first_duplicate(table: pa.Table) -> tuple[int, str] | None:
    """The first row (in file order) repeating an earlier (study, trial, step), with its message."""
    rows = table["_row"].to_numpy()
    key = pc.binary_join_element_wise(table["study"], table["trial"], pc.cast(table["step"], pa.string()), "\x1f")
    codes = pc.dictionary_encode(key).combine_chunks().indices.to_numpy(zero_copy_only=False)
    order = np.lexsort((rows, codes))
    repeated = codes[order][1:] == codes[order][:-1]
    if not repeated.any():
        return None
    i = int(order[1:][repeated][np.argmin(rows[order[1:][repeated]])])
    message = (f"duplicate point: study {table['study'][i].as_py()!r}, trial {table['trial'][i].as_py()!r}, "
               f"step {table['step'][i].as_py()} appears more than once")
    return int(rows[i]), message


def ingest_csv_stream(store: PolicyStore, path: str | os.PathLike[str], *, source: str | None = None,
                      replace: bool = False, direction: str | None = None, metric: str | None = None,
                      block_size: int = BLOCK_BYTES, part_bytes: int = PART_BYTES, stage_dir: str | None = None):
    """Ingest a long-format CSV file of any size in one transaction, in bounded memory.

    Parameters
    ----------
    store:
        The open store.
    path:
        The CSV (or ``.tsv``) file, UTF-8, header first.
    source, replace, direction, metric:
        As for :func:`~policy_store.ingest.writer.ingest_frame` (``source`` defaults to the path).
    block_size:
        Bytes parsed and validated at a time.
    part_bytes:
        CSV bytes per stage partition (the most held in memory while hashing).
    stage_dir:
        Where the staging folder goes (default: the system's temporary folder); it needs room for
        about the file's size compressed (Parquet) plus sort spill, and is removed afterwards.

    Returns
    -------
    IngestReport

    Raises
    ------
    InvalidInputError
        Naming the file, its line and the field; the store is left as it was.
    """
    from policy_store.ingest.files import _check_utf8, csv_line
    from policy_store.ingest.writer import ingest_canonical_view

    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{str(path)!r} does not exist or is not a file")
    if direction is not None and direction not in DIRECTIONS:
        raise InvalidInputError(f"unknown direction {direction!r}; use 'minimize' or 'maximize'", field="direction")
    _check_utf8(path)
    with tempfile.TemporaryDirectory(prefix="policy-store-stage-", dir=stage_dir) as tmp:
        stage = _Stage(tmp, parts=max(1, -(-path.stat().st_size // part_bytes)))
        try:
            try:
                for batch in _blocks(path, block_size):
                    if batch.num_rows == 0:
                        continue
                    try:
                        stage.append(validate_long_frame(_as_frame(batch), direction=direction, metric=metric))
                    except InvalidInputError as e:
                        if e.row is None:
                            raise
                        raise type(e)(e.reason, row=e.row + stage.rows, field=e.field) from e
                stage.close_files()
                if stage.rows == 0:
                    raise InvalidInputError(f"{path}: the file has a header but no rows")
                stage.check_across_blocks()
                hashes = stage.hashes()
            finally:
                stage.close_files()
                stage.con.close()
        except InvalidInputError as e:
            if e.row is None:
                raise
            raise type(e)(e.reason, row=e.row, field=e.field, source=f"{path} line {csv_line(path, e.row)}") from e
        view = f"_stream_{uuid.uuid4().hex}"
        # Scanned lazily by DuckDB's Parquet reader, inside the store's memory limit (scanned as Arrow
        # datasets, the write of a 1.5 GB file grew the process from 0.54 to 1.21 GB; with the reader, from
        # 0.90 to 0.98 GB); written partition by partition (each holds whole studies).
        files = [os.path.join(stage.points, name) for name in sorted(os.listdir(stage.points))]
        parts = {f"{view}_{i}": file for i, file in enumerate(files)}
        store.register_parquet(view, files)
        for name, file in parts.items():
            store.register_parquet(name, [file])
        try:
            with bounded_write(store, STORE_MEMORY):
                return ingest_canonical_view(store, view, hashes, source=source or str(path), replace=replace,
                                             parts=list(parts))
        finally:
            for name in [view, *parts]:
                store.unregister(name)
