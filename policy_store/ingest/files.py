"""Reading long-format CSV and Parquet files, with errors that name the file and line.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "curves.csv"
>>> _ = path.write_text("task,study,trial,step,value\\nt,s,0,0,0.5\\nt,s,0,1,0.25\\n")
>>> read_long_file(path)["value"].tolist()
[0.5, 0.25]
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import TYPE_CHECKING

from policy_store.choices import FORMATS
from policy_store.errors import InvalidInputError
from policy_store.ingest.columns import COLUMNS

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

_TEXT_COLUMNS = ("task", "study", "trial", "params", "state", "metric", "direction")


def detect_format(path: str | os.PathLike[str]) -> str:
    """``csv`` or ``parquet`` from the file name.

    >>> detect_format("runs.parquet"), detect_format("runs.CSV")
    ('parquet', 'csv')
    """
    if Path(path).is_dir():
        raise InvalidInputError(f"{str(path)!r} is a directory; ingest takes one file: CSV (.csv, .tsv, .txt) or "
                                "Parquet (.parquet, .pq) in the long format, or an Optuna storage URL with "
                                "--format optuna")
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in ("parquet", "pq"):
        return "parquet"
    if suffix in ("csv", "txt", "tsv"):
        return "csv"
    raise InvalidInputError(f"cannot tell the format of {str(path)!r}; pass --format csv|parquet")


def csv_line(path: str | os.PathLike[str], row: int) -> int:
    """The line of the CSV file ``path`` on which data row ``row`` (0-based, header excluded) starts.

    A quoted field may span lines, so the line is counted by a CSV reader, not as ``row + 2``. Blank lines are
    skipped, as the file's reader skips them.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "c.csv"
    >>> lines = ["task,study,trial,step,value,params", 't,s,0,0,0.5,"{', "  a: 1", '}"', "t,s,0,1,x,"]
    >>> _ = path.write_text(chr(10).join(lines) + chr(10))
    >>> csv_line(path, 0), csv_line(path, 1)
    (2, 5)
    """
    import csv

    delimiter = "\t" if Path(path).suffix.lower() == ".tsv" else ","
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        records, start = -1, 1  # the header is record -1
        for record in reader:
            if record:
                if records == row:
                    return start
                records += 1
            start = reader.line_num + 1
    return row + 2  # past the end: the plain count, the best there is


def _check_utf8(path: Path) -> None:
    """Refuse non-UTF-8 text, naming the line and byte offset of the first bad byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    lines = 1
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                bad = offset + e.start
                line = lines + chunk[: e.start].count(b"\n")
                raise InvalidInputError(
                    f"{path}: line {line} (byte {bad}) is not valid UTF-8; re-save the file as UTF-8"
                ) from e
            offset += len(chunk)
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:
            raise InvalidInputError(f"{path}: the file ends inside a UTF-8 character") from e


def read_long_file(path: str | os.PathLike[str], fmt: str | None = None) -> pd.DataFrame:
    """Read a long-format file into a DataFrame (not yet validated).

    Identifier columns are read as text so that ``007`` stays ``007``.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InvalidInputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", field="format")
    if not path.is_file():
        raise InvalidInputError(f"{str(path)!r} does not exist or is not a file")
    if path.stat().st_size == 0:
        raise InvalidInputError(f"{path}: the file is empty")
    if fmt == "parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as e:
            raise InvalidInputError(f"{path}: not a readable Parquet file ({e})") from e
        return _to_frame(table)
    _check_utf8(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in _TEXT_COLUMNS},
                strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as e:
        if "Empty CSV file" in str(e):
            raise InvalidInputError(f"{path}: the file is empty") from e
        raise InvalidInputError(f"{path}: not a readable CSV file ({e})") from e
    if table.num_rows == 0:
        raise InvalidInputError(f"{path}: the file has a header but no rows")
    pa.default_memory_pool().release_unused()  # the reader's parse buffers: a third of a large read's peak
    frame = _to_frame(table)
    unknown = [c for c in frame.columns if c not in COLUMNS]
    if unknown:
        raise InvalidInputError(f"{path}: unknown column; allowed columns are {', '.join(COLUMNS)}", field=unknown[0])
    return frame


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as a DataFrame whose label columns stay Arrow strings.

    A Python object per label cell (millions of them, converted back to Arrow by
    the validation) was a third of the time of ingesting a large file.
    """
    import pandas as pd
    import pyarrow as pa

    names = table.column_names
    if len(set(names)) != len(names):  # refused by the validation, which names the repeated column
        return table.to_pandas()
    return pd.DataFrame({
        name: pd.arrays.ArrowExtensionArray(col)
        if name in _TEXT_COLUMNS and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type))
        else col.to_pandas()
        for name, col in zip(names, table.columns, strict=True)
    })


def ingest_file(store, path: str | os.PathLike[str], fmt: str | None = None, **kwargs):
    """Read and ingest one long-format file; errors name the file and its line.

    Keyword arguments go to :func:`policy_store.ingest.writer.ingest_frame`.
    The source recorded for each study defaults to the file path. A CSV file
    larger than :data:`policy_store.ingest.stream.STREAM_BYTES` is streamed in
    bounded memory (:func:`policy_store.ingest.stream.ingest_csv_stream`).
    """
    from policy_store.ingest.engine_load import ingest_with_engine

    path = Path(path)
    if (fmt or detect_format(path)) in FORMATS and path.is_file() and path.stat().st_size > 0:
        # DuckDB reads and checks a well-formed file; anything else is read and named below
        report = ingest_with_engine(store, path, fmt or detect_format(path), source=kwargs.get("source", str(path)),
                                    **{k: v for k, v in kwargs.items() if k in ("replace", "direction", "metric")})
        if report is not None:
            return report
    from policy_store.ingest.stream import STREAM_BYTES, ingest_csv_stream
    from policy_store.ingest.writer import ingest_frame

    if (fmt or detect_format(path)) == "csv" and path.is_file() and path.stat().st_size > STREAM_BYTES:
        kwargs.pop("progress", None)
        return ingest_csv_stream(store, path, **kwargs)
    frame = read_long_file(path, fmt)
    kwargs.setdefault("source", str(path))
    try:
        return ingest_frame(store, frame, **kwargs)
    except InvalidInputError as e:
        if e.row is None:
            raise
        line = f" line {csv_line(path, e.row)}" if (fmt or detect_format(path)) == "csv" else ""
        raise type(e)(e.reason, row=e.row, field=e.field, source=f"{path}{line}") from e
