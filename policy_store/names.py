"""What a name (task, study, trial, metric, rule) may hold: printable text, no control characters.

A C0/C1 control character in a name (NUL, tab, newline, escape...) would corrupt terminals (escape sequences),
tables, CSV files and file names. File ingest, the live pruner and the spool refuse them by this one rule, and
``policy-store check`` flags any name in a store that breaks it.

>>> has_control("run\\x1b[2J"), has_control("run-7 (β)")
(True, False)
>>> check_name("tab\\there", "study")
Traceback (most recent call last):
...
policy_store.errors.InvalidInputError: field 'study': 'tab\\there' contains a control character (tab, newline, ...
"""

from __future__ import annotations

import re

from policy_store.errors import InvalidInputError

CONTROL_SQL = "[\\x00-\\x1f\\x{7f}-\\x{9f}]"
"""The control characters as a DuckDB (RE2) pattern, for checks that run in SQL."""
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
CONTROL_MESSAGE = "contains a control character (tab, newline, escape, NUL...); names must be printable text"


def has_control(text: str) -> bool:
    """Whether ``text`` holds a C0 or C1 control character."""
    return _CONTROL.search(text) is not None


def check_name(text: str, field: str, *, source: str | None = None) -> str:
    """Return ``text`` when it is printable; else raise :class:`InvalidInputError` naming ``field``."""
    if has_control(text):
        raise InvalidInputError(f"{text!r} {CONTROL_MESSAGE}", field=field, source=source)
    return text
