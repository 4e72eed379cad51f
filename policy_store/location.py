"""Where a store lives: a local DuckDB file, or a DuckLake with its catalog in PostgreSQL.

``POLICY_STORE`` and ``--store`` take either form:

* a path (``policy-store.duckdb``, ``/data/team.duckdb``) or ``:memory:``: the embedded store, one writing
  process at a time;
* ``ducklake:postgres:<libpq key=value conninfo>[?data_path=<dir or prefix>]``, e.g.
  ``ducklake:postgres:dbname=lake host=db.internal user=hpo?data_path=/shared/lake``;
* ``ducklake:postgresql://user[:password]@host[:port]/dbname[?data_path=<dir>&<libpq params>]``.

``data_path`` is where DuckLake writes its Parquet files (a folder every host mounts at the same path, or an
object-store prefix). It is recorded in the catalog when the lake is created, so later hosts may leave it out.
A ``connect_timeout`` of 10 s is added to the conninfo unless it names one. Prefer ``PGPASSWORD`` or
``~/.pgpass`` over a password in the location; if one is given, :func:`mask` hides it in every message.

>>> loc = parse_location("ducklake:postgresql://hpo:s3cret@db:5433/lake?data_path=/shared/lake")
>>> loc.conninfo
'host=db port=5433 dbname=lake user=hpo password=s3cret connect_timeout=10'
>>> loc.data_path, loc.masked()
('/shared/lake', 'ducklake:postgresql://hpo:***@db:5433/lake?data_path=/shared/lake')
>>> parse_location("runs/team.duckdb")
FileLocation(path='runs/team.duckdb')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from policy_store.errors import StoreError

LAKE_PREFIX = "ducklake:"
DEFAULT_CONNECT_TIMEOUT = 10
# Options policy-store reads itself; everything else in a URI's query goes to libpq.
_OWN_OPTIONS = ("data_path",)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URI_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*):[^@\s]*@", re.IGNORECASE)


def mask(text: str, secret: str | None = None) -> str:
    """Hide passwords (``password=…`` and ``scheme://user:…@``) and ``secret`` in ``text``.

    >>> mask("Unable to connect to \\"dbname=lake password='a b' host=x\\"")
    'Unable to connect to "dbname=lake password=*** host=x"'
    >>> mask("postgresql://u:pw@h/db failed; pw was wrong", secret="pw")
    'postgresql://u:***@h/db failed; *** was wrong'
    """
    text = _URI_PASSWORD.sub(r"\1:***@", _KV_PASSWORD.sub(r"\1***", text))
    return text.replace(secret, "***") if secret else text


@dataclass(frozen=True)
class FileLocation:
    """The embedded store: a DuckDB file (or ``:memory:``)."""

    path: str

    def masked(self) -> str:
        return self.path


@dataclass(frozen=True)
class LakeLocation:
    """A DuckLake: catalog in the PostgreSQL database named by ``conninfo``, Parquet under ``data_path``."""

    text: str
    conninfo: str
    data_path: str | None
    password: str | None

    def masked(self) -> str:
        """The location as given, password hidden: safe for messages and logs."""
        return mask(self.text, self.password)

    def __repr__(self) -> str:
        return f"LakeLocation({self.masked()!r})"


def is_lake(text: str) -> bool:
    """Whether ``text`` names a DuckLake rather than a file.

    >>> is_lake("ducklake:postgres:dbname=lake"), is_lake("lake.duckdb")
    (True, False)
    """
    return text.startswith(LAKE_PREFIX)


def parse_location(text: str) -> FileLocation | LakeLocation:
    """Parse a store location (see the module docstring for the syntax).

    Raises
    ------
    StoreError
        The location starts with ``ducklake:`` but is not one this version understands.
    """
    if not is_lake(text):
        return FileLocation(text)
    rest = text[len(LAKE_PREFIX) :]
    if rest.startswith(("postgresql://", "postgres://")):
        conninfo, options, password = _from_uri(text, rest)
    elif rest.startswith("postgres:"):
        conninfo, options, password = _from_conninfo(text, rest[len("postgres:") :])
    else:
        raise StoreError(
            f"unsupported DuckLake location {mask(text)!r}: the catalog must be PostgreSQL, written "
            "'ducklake:postgres:dbname=… host=…?data_path=…' or 'ducklake:postgresql://user@host/dbname?data_path=…'"
        )
    if not re.search(r"(^|\s)connect_timeout\s*=", conninfo):
        conninfo = f"{conninfo} connect_timeout={DEFAULT_CONNECT_TIMEOUT}".strip()
    return LakeLocation(text, conninfo, options.get("data_path"), password)


def _from_conninfo(text: str, rest: str) -> tuple[str, dict[str, str], str | None]:
    conninfo, sep, query = rest.rpartition("?")
    if not sep or not re.fullmatch(r"\w+=[^&]*(&\w+=[^&]*)*", query):
        conninfo, query = rest, ""  # a '?' inside the conninfo (in a password, say), not options
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - set(_OWN_OPTIONS))
    if unknown:
        raise StoreError(
            f"unknown option(s) {', '.join(unknown)} in store location {mask(text)!r}; "
            f"known: {', '.join(_OWN_OPTIONS)} (libpq parameters go before the '?')"
        )
    found = _KV_PASSWORD.search(conninfo)
    password = found.group(2).strip("'") if found else None
    return conninfo.strip(), options, password


def _from_uri(text: str, rest: str) -> tuple[str, dict[str, str], str | None]:
    try:
        uri = urlsplit(rest)
        port = uri.port
    except ValueError as e:
        raise StoreError(f"cannot parse store location {mask(text)!r}: {mask(str(e))}") from e
    query = dict(parse_qsl(uri.query, keep_blank_values=True))
    options = {k: query.pop(k) for k in _OWN_OPTIONS if k in query}
    password = unquote(uri.password) if uri.password else None
    pairs = {
        "host": unquote(uri.hostname or ""),
        "port": str(port or ""),
        "dbname": unquote(uri.path.lstrip("/")),
        "user": unquote(uri.username or ""),
        "password": password or "",
        **query,
    }
    return " ".join(f"{k}={_quote(v)}" for k, v in pairs.items() if v), options, password


def _quote(value: str) -> str:
    """A libpq conninfo value: quoted when it holds spaces, quotes or backslashes."""
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
