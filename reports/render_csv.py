"""Write every table of a report as its own CSV file, with all rows and raw (unrounded) values.

>>> import tempfile, pathlib
>>> from policy_store.reports._base import Column, Section, Table
>>> with tempfile.TemporaryDirectory() as d:
...     paths = write_csv([Section("s", "S", tables=[Table("t", "T", (Column("a", "a"),), [{"a": 0.125}])])], d)
...     [p.name for p in paths], paths[0].read_text().splitlines()
(['t.csv'], ['a', '0.125'])
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from policy_store.reports._base import Section

from policy_store.outputs import write_file

#: A text cell starting with one of these is a formula to spreadsheet programs (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_value(value: Any) -> Any:
    """The raw value as written: empty for missing or non-finite, ISO text for times.

    Text that a spreadsheet would run as a formula (a task named ``=HYPERLINK(…)``) gets a leading
    apostrophe; numbers are written as they are.

    >>> csv_value("=1+1"), csv_value(-0.5), csv_value("lcdb/3/accuracy"), csv_value(float("nan"))
    ("'=1+1", -0.5, 'lcdb/3/accuracy', '')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(sections: Sequence[Section], out_dir: str | os.PathLike[str]) -> list[Path]:
    """One ``<table name>.csv`` per table (header = column keys); returns the paths written.

    ``out_dir`` must exist; each file replaces its name whole (:func:`policy_store.outputs.write_file`).
    """
    paths = []
    for section in sections:
        for table in section.tables:
            buffer = io.StringIO(newline="")
            writer = csv.writer(buffer)
            writer.writerow([c.key for c in table.columns])
            for row in table.rows:
                writer.writerow([csv_value(row.get(c.key)) for c in table.columns])
            paths.append(write_file(Path(out_dir), f"{table.name}.csv", buffer.getvalue()))
    return paths
