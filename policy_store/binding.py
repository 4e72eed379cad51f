"""Binding query parameters: without DuckDB's Python client importing pandas (and pyarrow with it), and file
paths that DuckDB's readers take literally.

DuckDB's client converts each bound Python value by first asking whether it *is* ``pandas.NaT`` or
``pandas.NA``, and its import cache imports pandas to ask (``GetPythonObjectType`` in its
``python_conversion.cpp``; only ``None`` is recognised before that). Importing pandas costs 0.3-0.5 s of
CPU, the whole start-up of a command that reads the store with one bound value. While pandas is not
imported no value can be ``pandas.NaT``, so :func:`pandas_unimported` lets the client's import fail
instead: ``sys.modules["pandas"] = None`` makes ``import pandas`` raise at once, the client treats a
failed optional import as "not that type" and does not remember it, so a later bind, after pandas has
really been imported, recognises ``pandas.NaT`` again.

``sys.modules`` is shared by every thread, and an import in another thread during the block would fail
(no lock guards that check), so the block only hides pandas while the calling thread is the process's
only Python thread -- a CLI command reading the store. With other threads alive, or pandas imported
already, it does nothing and DuckDB imports pandas as usual.

>>> import duckdb
>>> with pandas_unimported():
...     duckdb.connect().execute("SELECT ?", [1]).fetchall()
[(1,)]
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def pandas_unimported() -> Iterator[None]:
    """Within this block ``import pandas`` fails fast, if pandas is not imported and no other thread runs."""
    if "pandas" in sys.modules or threading.active_count() > 1:
        yield
        return
    sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("pandas", 0) is None:
            del sys.modules["pandas"]


def literal_path(path: str | os.PathLike[str]) -> str:
    """``path`` as DuckDB's file readers (``read_csv``, ``read_parquet``) take it literally.

    They read a path as a glob pattern, so ``runs[1].csv`` would read ``runs1.csv`` and ``a*.csv`` every
    match; each ``*``, ``?`` and ``[`` becomes a one-character class matching only itself.

    >>> literal_path("runs[1]/a*b?.csv")
    'runs[[]1]/a[*]b[?].csv'
    """
    return "".join(f"[{c}]" if c in "*?[" else c for c in os.fspath(path))
