"""The store: one DuckDB connection, its schema and its transactions.

>>> with PolicyStore.memory() as store:
...     store.schema_version
1
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from policy_store.errors import SchemaVersionError, StoreError
from policy_store.migrations import LATEST_VERSION, MIGRATIONS

DEFAULT_STORE_PATH = "policy-store.duckdb"
STORE_ENV = "POLICY_STORE"


def default_location() -> str:
    """The store the CLI opens when ``--store`` is not given.

    >>> import os
    >>> os.environ.pop("POLICY_STORE", None) and None
    >>> default_location()
    'policy-store.duckdb'
    """
    return os.environ.get(STORE_ENV) or DEFAULT_STORE_PATH


def utcnow() -> datetime:
    """Naive UTC timestamp, the form every TIMESTAMP column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


class PolicyStore:
    """A policy store in a DuckDB file (or in memory).

    The store owns one connection; use it as a context manager. Opening a file
    that does not exist creates it and applies every migration; opening a store
    written by a newer policy-store raises :class:`SchemaVersionError`.

    Parameters
    ----------
    location:
        Path of the DuckDB file, or ``":memory:"``.
    read_only:
        Open without taking the write lock (no migrations are applied).

    Examples
    --------
    >>> with PolicyStore.memory() as store:
    ...     with store.atomic():
    ...         _ = store.execute("INSERT INTO rules VALUES (?, ?, ?)", ["r", None, utcnow()])
    ...     store.scalar("SELECT count(*) FROM rules")
    1
    """

    def __init__(self, location: str | os.PathLike[str] = DEFAULT_STORE_PATH, *, read_only: bool = False):
        self.location = str(location)
        self._depth = 0
        self._lock = threading.RLock()
        if read_only and self.location != ":memory:" and not Path(self.location).exists():
            raise StoreError(
                f"no store at {self.location!r}; create one with `policy-store init` or by ingesting studies"
            )
        try:
            if self.location != ":memory:":
                Path(self.location).parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(self.location, read_only=read_only)
        except duckdb.Error as e:
            raise StoreError(f"cannot open store {self.location!r}: {e}") from e
        try:
            self._migrate(read_only)
        except BaseException:
            self.con.close()
            raise

    @classmethod
    def memory(cls) -> PolicyStore:
        """An in-memory store, for tests and examples."""
        return cls(":memory:")

    def __enter__(self) -> PolicyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.con.close()

    def __repr__(self) -> str:
        return f"PolicyStore({self.location!r})"

    # -- schema ---------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        """The version of the newest migration applied to this store."""
        return int(self.scalar("SELECT max(version) FROM schema_version"))

    def _current_version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchone()[0]
        if not exists:
            return 0
        return int(self.con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])

    def _migrate(self, read_only: bool) -> None:
        current = self._current_version()
        if current > LATEST_VERSION:
            raise SchemaVersionError(
                f"store {self.location!r} has schema version {current}, but this policy-store "
                f"only knows versions up to {LATEST_VERSION}. Upgrade policy-store "
                "(pip install -U policy-store) to open it; never downgrade a store."
            )
        pending = [m for m in MIGRATIONS if m.version > current]
        if pending and read_only:
            raise StoreError(
                f"store {self.location!r} is at schema version {current} and needs migrating to "
                f"{LATEST_VERSION}; open it once without read_only to migrate."
            )
        for migration in pending:
            with self.atomic():
                for statement in migration.statements:
                    self.execute(statement)
                self.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    [migration.version, migration.description, utcnow()],
                )

    # -- transactions and queries -----------------------------------------------------
    @contextmanager
    def atomic(self) -> Iterator[PolicyStore]:
        """Run the block in one transaction; roll back on any error.

        DuckDB has no savepoints, so a nested block joins the outer transaction:
        an error anywhere rolls back everything since the outermost ``atomic()``.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._raw("BEGIN TRANSACTION")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._depth = 0
                self._raw("ROLLBACK")
                raise
            self._depth = 0
            self._raw("COMMIT")

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def _raw(self, sql: str) -> None:
        try:
            self.con.execute(sql)
        except duckdb.Error as e:
            raise StoreError(f"{sql.split()[0]} failed on {self.location!r}: {e}") from e

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Execute one statement with bound parameters; database errors become :class:`StoreError`."""
        try:
            return self.con.execute(sql, params) if params is not None else self.con.execute(sql)
        except duckdb.Error as e:
            raise StoreError(f"query failed on {self.location!r}: {e}") from e

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        """First column of the first row, or None."""
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def fetch_df(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None):
        """The result as a pandas DataFrame."""
        return self.execute(sql, params).df()

    def fetch_dicts(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[dict]:
        """The result as a list of dicts (for small results)."""
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def register(self, name: str, data: Any) -> None:
        """Expose an Arrow table or DataFrame to SQL as a view called ``name``."""
        self.con.register(name, data)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def row_counts(self) -> dict[str, int]:
        """Rows per table, for summaries and for tests that assert nothing moved."""
        names = [
            r[0]
            for r in self.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "ORDER BY table_name"
            ).fetchall()
        ]
        # Identifiers come from the catalog, never from users.
        return {n: int(self.scalar(f'SELECT count(*) FROM "{n}"')) for n in names}  # noqa: S608
