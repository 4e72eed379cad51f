"""Helpers every CLI command shares: opening the store, printing tables and JSON."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policy_store.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from policy_store.store import PolicyStore


def open_store(args: argparse.Namespace, *, read_only: bool = False) -> PolicyStore:
    """The store named by ``--store``, ``$POLICY_STORE`` or the default file.

    Waits ``--wait`` seconds for a file another process writes (a reader reads a snapshot of it at once,
    and says so on stderr); creates missing folders on the way to a new store file only with ``--parents``.
    """
    from policy_store.store import default_location  # duckdb: not for `--help`
    from policy_store.waiting import open_waiting

    def tell(busy: Exception) -> None:
        print(f"note: {busy}; reading a snapshot of what it has committed", file=sys.stderr)

    return open_waiting(args.store or default_location(), read_only=read_only, wait=getattr(args, "wait", 0.0),
                        create_parents=getattr(args, "parents", False), on_snapshot=tell)


def require_rule(store: PolicyStore, name: str) -> None:
    """Raise :class:`NotFoundError` naming the rules the store has, unless it has rule ``name``."""
    from policy_store.rules import list_rules

    names = [r["rule"] for r in list_rules(store)]
    if name not in names:
        raise NotFoundError(f"no rule called {name!r}; the store has {_some(names, 'no rules yet')}")


def require_folder(path: str, what: str, *, default: str | None = None) -> None:
    """Raise :class:`NotFoundError` unless ``path`` is a folder; name ``default`` when that one exists."""
    if Path(path).is_dir():
        return
    there = f"; {default!r} is one" if default and default != path and Path(default).is_dir() else ""
    raise NotFoundError(f"no {what} folder at {path!r}{there}")


def _some(names: Sequence[str], none: str, shown: int = 10) -> str:
    """``'a', 'b' and 3 more`` for messages (kept to one short line)."""
    if not names:
        return none
    listed = ", ".join(repr(n if len(n) <= 40 else n[:39] + "…") for n in names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")


def add_parents_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parents", action="store_true",
                        help="create the missing folders on the way to a new store file")


def text_or_file(value: str, field: str) -> str:
    """``value`` itself, or the UTF-8 text of the file it names (for options taking JSON or a JSON file)."""
    try:
        named = Path(value).is_file()
    except (OSError, ValueError):  # too long for a file name, or a NUL byte: it is the text itself
        named = False
    if not named:
        return value
    try:
        return Path(value).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"cannot read {value!r} as UTF-8 text ({e})", field=field) from e


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value


def print_json(payload: Any) -> None:
    """Write ``payload`` as JSON to stdout (NaN/inf become null, datetimes ISO strings)."""

    def default(o: Any) -> Any:
        converted = _jsonable(o)
        if converted is o:
            return str(o)
        return converted

    def clean(o: Any) -> Any:
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [clean(v) for v in o]
        return _jsonable(o)

    json.dump(clean(payload), sys.stdout, indent=2, default=default)
    sys.stdout.write("\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Print dict rows as an aligned plain-text table."""
    if not rows:
        print("(none)")
        return
    columns = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
