"""The contract every section builder follows: tables, figures and sections, and how a cell is formatted.

A section builder is a function ``build(store, flt) -> Section``. It reads the
store with SQL (bound parameters only), aggregates there, and returns plain
data: :class:`Table` rows hold raw values, :class:`Figure` holds an SVG string
that :mod:`policy_store.reports.svg` has already escaped. The renderers (HTML,
Markdown, CSV) format every cell with :func:`fmt`, so the three outputs show
the same numbers.

>>> t = Table("demo", "Demo", (Column("rule", "rule"), Column("saved", "saved", "pct")),
...           [{"rule": "median@1", "saved": 0.4321}])
>>> [fmt(r["saved"], "pct") for r in t.visible_rows]
['43.2 %']
>>> fmt(float("nan"), "float"), fmt(None, "int"), fmt(3, "int")
('–', '–', '3')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: How a column's values are shown: free text, integers, floats (4 decimals), shares as percent, timestamps.
KINDS = ("text", "int", "float", "pct", "time")
#: What a missing or non-finite value shows as.
MISSING = "–"


def fmt(value: Any, kind: str = "text") -> str:
    """Format one cell for people (HTML and Markdown); CSV keeps the raw value.

    Parameters
    ----------
    value:
        The raw cell value (``None``, NaN and ``""`` show as :data:`MISSING`).
    kind:
        One of :data:`KINDS`.

    Examples
    --------
    >>> fmt(0.0123456, "float"), fmt(0.5, "pct"), fmt(datetime(2026, 1, 2, 3, 4, 5), "time")
    ('0.0123', '50.0 %', '2026-01-02 03:04:05')
    """
    if value is None or value == "" or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if kind == "int":
        return str(int(value))
    if kind == "float":
        return f"{float(value):.4f}"
    if kind == "pct":
        return f"{100 * float(value):.1f} %"
    if kind == "time" and isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


@dataclass(frozen=True)
class Column:
    """One column of a table: its key in the row dicts, its header and its :data:`KINDS` entry."""

    key: str
    label: str
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key!r}: kind must be one of {KINDS}, got {self.kind!r}")


@dataclass
class Table:
    """Rows of one table; HTML and Markdown show the first ``shown`` rows, the CSV file holds all of them.

    ``name`` is the CSV file's stem, so it is unique within a report.
    """

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    shown: int | None = None
    note: str = ""

    @property
    def visible_rows(self) -> list[dict[str, Any]]:
        """The rows the HTML and Markdown show."""
        return self.rows if self.shown is None else self.rows[: self.shown]

    @property
    def truncation_note(self) -> str:
        """A sentence saying how many rows are left out of HTML/Markdown, or ``""``."""
        hidden = len(self.rows) - len(self.visible_rows)
        return f"Showing {len(self.visible_rows)} of {len(self.rows)} rows; {self.name}.csv has all." if hidden else ""


@dataclass(frozen=True)
class Figure:
    """One inline SVG plot (already escaped) with a caption (plain text, escaped when rendered).

    ``half`` plots sit two to a row on wide screens.
    """

    key: str
    svg: str
    caption: str = ""
    half: bool = False


@dataclass
class Section:
    """One numbered section of the report.

    ``empty`` holds the sentence shown instead of the content when the store has
    no data for the section yet; sections never disappear.
    """

    key: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    empty: str | None = None
