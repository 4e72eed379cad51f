"""The store: one DuckDB connection, its schema and its transactions.

>>> with PolicyStore.memory() as store:
...     store.schema_version
4
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from policy_store import faults
from policy_store.binding import literal_path, pandas_unimported
from policy_store.errors import SchemaVersionError, StoreError
from policy_store.lake import LAKE_ALIAS, connect_lake
from policy_store.location import FileLocation, LakeLocation, mask, parse_location
from policy_store.locks import hold_lock, is_held
from policy_store.migrations import LATEST_VERSION, MIGRATIONS

T = TypeVar("T")

DEFAULT_STORE_PATH = "policy-store.duckdb"
STORE_ENV = "POLICY_STORE"
COMMIT_ATTEMPTS = 10
"""How often :meth:`PolicyStore.run_atomic` tries a unit of work whose commit conflicts."""
_BACKOFF_BASE, _BACKOFF_CAP = 0.05, 2.0


class CommitConflictError(StoreError):
    """A concurrent writer committed a conflicting change first; the whole unit of work can be re-run."""


class StoreBusyError(StoreError):
    """Another process holds the store file's write lock (DuckDB lets one process open a file at a time).

    Attributes
    ----------
    pid:
        The process holding it, when DuckDB names it.
    holder:
        That process described for people: its command line, shortened.
    """

    def __init__(self, message: str, *, pid: int | None = None, holder: str = "another process") -> None:
        super().__init__(message)
        self.pid, self.holder = pid, holder


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def _busy(path: str, e: duckdb.Error) -> StoreBusyError | None:
    """The :class:`StoreBusyError` that DuckDB's lock error ``e`` stands for, or None for any other error."""
    if "Could not set lock" not in str(e):
        return None
    found = _LOCK_HOLDER.search(str(e))
    pid = int(found.group(2)) if found else None
    holder = f"process {pid}" if pid else "another process"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0") if pid else []
        command = " ".join(Path(a.decode(errors="replace")).name if i == 0 else a.decode(errors="replace")
                           for i, a in enumerate(argv))
    except OSError:  # gone since, or no /proc: DuckDB's own name for the program
        command = Path(found.group(1)).name if found else ""
    command = " ".join(command.split())  # one line, whatever the arguments hold
    if command:
        holder += f" ({command if len(command) <= 80 else command[:79] + '…'})"
    return StoreBusyError(f"store {path!r} is locked by {holder}, which is writing it", pid=pid, holder=holder)


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


_DUCKDB_HEADERS = 3 * 4096  # the file header and the two database headers before the first block


def _refuse_truncated(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """Refuse a file shorter than the blocks its header lists (cut short by a copy or a full disk).

    DuckDB reads a block only when a query needs it, so a truncated file opens, answers some queries, and
    takes writes on top of what it lost. Every block in use lies in the file (free blocks past its end
    are cut off by DuckDB itself), so a file shorter than its used blocks lost some. With a write-ahead
    log beside it the blocks may be ahead of the file legitimately (its replay is not checkpointed yet),
    so the check waits for that.
    """
    if Path(f"{path}.wal").exists():
        return
    try:
        block_size, blocks = con.execute("SELECT block_size, used_blocks FROM pragma_database_size()").fetchone()
    except duckdb.Error as e:
        raise StoreError(f"cannot open store {path!r}: {e}") from e
    needed, actual = _DUCKDB_HEADERS + block_size * blocks, Path(path).stat().st_size
    if actual < needed:
        raise StoreError(f"cannot open store {path!r}: the file is truncated ({actual:,} bytes; its {blocks} "
                         f"blocks in use need at least {needed:,}). Restore it from a copy; nothing was read or "
                         "written.")


class PolicyStore:
    """A policy store in a DuckDB file, in memory, or in a DuckLake shared by many hosts.

    The store owns one connection; use it as a context manager. Opening a store that does
    not exist creates it and applies every migration; opening a store written by a newer
    policy-store raises :class:`SchemaVersionError`. The API, the schema and the migrations are
    the same for every location (see :mod:`policy_store.location` for the syntax).

    Parameters
    ----------
    location:
        Path of the DuckDB file, ``":memory:"``, or a ``ducklake:`` location.
    read_only:
        Open without taking the write lock (no migrations are applied).
    create_parents:
        Create the missing folders on the way to a new store file (else a missing folder is an error).

    Examples
    --------
    >>> with PolicyStore.memory() as store:
    ...     with store.atomic():
    ...         store.execute("INSERT INTO rules VALUES (?, ?, ?)", ["r", None, utcnow()]) and None
    ...     store.scalar("SELECT count(*) FROM rules"), store.is_lake
    (1, False)
    """

    def __init__(self, location: str | os.PathLike[str] = DEFAULT_STORE_PATH, *, read_only: bool = False,
                 create_parents: bool = True):
        self._where: FileLocation | LakeLocation = parse_location(os.fspath(location))
        self.location = self._where.masked()
        """The location as given, any password masked (safe to print)."""
        self._depth = 0
        self._lock = threading.RLock()
        self._on_close: list[Callable[[], object]] = []
        if isinstance(self._where, LakeLocation):
            self.con = connect_lake(self._where, read_only=read_only)
        else:
            self.con = self._connect_file(self._where.path, read_only, create_parents)
        try:
            self._migrate(read_only)
        except BaseException:
            self.con.close()
            raise

    def _connect_file(self, path: str, read_only: bool, create_parents: bool) -> duckdb.DuckDBPyConnection:
        if read_only and path != ":memory:" and not Path(path).exists():
            raise StoreError(f"no store at {path!r}; create one with `policy-store init` or by ingesting studies")
        folder = Path(path).parent
        if path != ":memory:" and not create_parents and not folder.is_dir():
            raise StoreError(f"the folder {str(folder)!r} of store {path!r} does not exist; create it first "
                             "(`policy-store init --parents` creates it)")
        try:
            if path != ":memory:":
                folder.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(path, read_only=read_only)
            # DuckDB's own progress bar prints to stdout (it would corrupt --json); our long steps show tqdm on stderr.
            con.execute("SET enable_progress_bar = false")
        except duckdb.Error as e:
            raise _busy(path, e) or StoreError(f"cannot open store {path!r}: {e}") from e
        if path != ":memory:":
            try:
                _refuse_truncated(con, path)
            except BaseException:
                con.close()
                raise
        return con

    @classmethod
    def memory(cls) -> PolicyStore:
        """An in-memory store, for tests and examples."""
        return cls(":memory:")

    def __enter__(self) -> PolicyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent), then run what :meth:`on_close` registered."""
        self.con.close()
        while self._on_close:
            self._on_close.pop()()

    def on_close(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once when the store closes (removing a snapshot copy, say)."""
        self._on_close.append(callback)

    def __repr__(self) -> str:
        return f"PolicyStore({self.location!r})"

    @property
    def is_lake(self) -> bool:
        """Whether the store lives in a DuckLake (shared by many hosts) rather than a local file."""
        return isinstance(self._where, LakeLocation)

    def files_dir(self) -> str:
        """Where files that belong with the store go (meta-learner artifacts and the like).

        The embedded file's folder; the current directory for ``:memory:``; for a DuckLake its data path
        (the folder or object-store prefix every host of the lake reaches), from the catalog if the
        location does not name it.

        >>> with PolicyStore.memory() as store:
        ...     store.files_dir() == os.getcwd()
        True
        """
        if isinstance(self._where, LakeLocation):
            # The catalog's own name for it: the alias the lake is attached under, prefixed by DuckLake.
            path = self._where.data_path or self.scalar(
                f"SELECT value FROM __ducklake_metadata_{LAKE_ALIAS}.ducklake_metadata WHERE key = 'data_path'"  # noqa: S608
            )
            return str(path).rstrip("/") or "/"
        if self._where.path == ":memory:":
            return os.getcwd()
        return str(Path(self._where.path).resolve().parent)

    # -- schema ---------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        """The version of the newest migration applied to this store."""
        return int(self.scalar("SELECT max(version) FROM schema_version"))

    def tables(self) -> list[str]:
        """The store's tables, sorted (registered views and other attached catalogs excluded).

        >>> with PolicyStore.memory() as store:
        ...     store.tables()[:3]
        ['curve_memory', 'curve_points', 'decisions']
        """
        rows = self.execute(
            """SELECT table_name FROM information_schema.tables
               WHERE table_catalog = current_database() AND table_schema = current_schema()
                 AND table_type = 'BASE TABLE'
               ORDER BY table_name"""
        ).fetchall()
        return [r[0] for r in rows]

    def _current_version(self) -> int:
        if "schema_version" not in self.tables():
            return 0
        return int(self.scalar("SELECT coalesce(max(version), 0) FROM schema_version"))

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
            self.run_atomic(lambda store, m=migration: store._apply(m))

    def _apply(self, migration) -> None:
        # Another host may have applied it since we looked (the retry after a conflict sees that).
        if self._current_version() >= migration.version:
            return
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
        A commit that loses to a concurrent writer raises :class:`CommitConflictError`
        (nothing of the block is kept); use :meth:`run_atomic` to re-run the block instead.
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
                self._rollback_quietly()
                raise
            self._depth = 0
            try:
                faults.at("before-commit")  # testing hook ($POLICY_STORE_FAULT), see policy_store.faults
                self._raw("COMMIT")
            except BaseException:
                self._rollback_quietly()  # a failed commit normally ends the transaction itself
                raise
            faults.at("after-commit")

    def run_atomic(self, fn: Callable[[PolicyStore], T], *, attempts: int = COMMIT_ATTEMPTS) -> T:
        """Run ``fn(store)`` in one transaction, re-running all of it when the commit conflicts.

        On a DuckLake, two hosts' transactions that touch the same table in conflicting ways
        (deletes, updates, the same new table, a :meth:`fence`) cannot both commit: the later one
        fails. This re-runs the whole unit of work, after a jittered exponential backoff, so ``fn``
        must do everything it decides inside the call (read, decide, write) and touch nothing
        outside the store that it cannot redo. A conflict on every attempt raises
        :class:`CommitConflictError`; nothing is ever dropped silently. Inside an enclosing
        transaction ``fn`` just runs: the outermost unit is the one that is retried.

        Examples
        --------
        >>> with PolicyStore.memory() as store:
        ...     store.run_atomic(lambda s: s.execute("INSERT INTO rules VALUES ('r', NULL, now())").fetchone())
        (1,)
        """
        if self.in_transaction:
            return fn(self)
        for attempt in range(1, attempts + 1):
            try:
                with self.atomic():
                    return fn(self)
            except CommitConflictError as e:
                if attempt == attempts:
                    raise CommitConflictError(
                        f"gave up on {self.location!r} after {attempts} attempts: concurrent writers kept "
                        f"committing conflicting changes first ({e}). Nothing of this call was written; retry it."
                    ) from e
                ceiling = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)
                time.sleep(ceiling / 2 + random.uniform(0, ceiling / 2))
        raise AssertionError("unreachable")  # pragma: no cover

    def fence(self) -> None:
        """Make this transaction conflict with every other fenced transaction that commits first.

        DuckLake has no UNIQUE constraints, and two concurrent inserts never conflict, so
        "insert the rows whose key is not there yet" can insert the same key twice from two hosts.
        A writer that checks for existing keys calls ``fence()`` inside :meth:`run_atomic`: of two
        such transactions running at once, the second to commit fails and is re-run, and its
        anti-join then sees the first one's rows. On the embedded file (one writing process) it
        costs one tiny update.
        """
        if not self.in_transaction:
            raise StoreError("fence() must be called inside store.atomic() / store.run_atomic()")
        # A no-op update of the one row every store has; DuckLake treats it as a delete, which conflicts.
        self.execute(
            "UPDATE schema_version SET applied_at = applied_at "
            "WHERE version = (SELECT max(version) FROM schema_version)"
        )

    def lock(self, name: str, *, wait: float = 0.0) -> AbstractContextManager[None]:
        """Hold the named lock for the block: one holder across processes and hosts.

        Parameters
        ----------
        name:
            Letters, digits, ``._-``, e.g. ``"recalibration"``.
        wait:
            Seconds to wait for a busy lock before raising :class:`~policy_store.errors.JobLockedError`.

        A file lock beside the embedded store, a PostgreSQL advisory lock for a DuckLake; both are
        released when the holder's process ends, even by SIGKILL. See :mod:`policy_store.locks`.

        Examples
        --------
        >>> with PolicyStore.memory() as store, store.lock("recalibration"):
        ...     store.lock("recalibration").__enter__()
        Traceback (most recent call last):
        ...
        policy_store.errors.JobLockedError: lock 'recalibration' on ':memory:' is held by another process or job...
        """
        return hold_lock(self._where, name, wait=wait)

    def lock_is_held(self, name: str) -> bool:
        """Whether some process (or job of this one) holds the named lock now; creates no lock file.

        >>> with PolicyStore.memory() as store, store.lock("recalibration"):
        ...     store.lock_is_held("recalibration")
        True
        """
        return is_held(self._where, name)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def _rollback_quietly(self) -> None:
        # A failed commit has already ended the transaction: nothing left to roll back then.
        with suppress(duckdb.Error):
            self.con.execute("ROLLBACK")

    def _error(self, what: str, e: duckdb.Error) -> StoreError:
        message = f"{what} on {self.location!r}: {mask(str(e), getattr(self._where, 'password', None))}"
        if isinstance(e, duckdb.TransactionException) and "conflict" in str(e).lower():
            return CommitConflictError(message)
        return StoreError(message)

    def _raw(self, sql: str) -> None:
        try:
            self.con.execute(sql)
        except duckdb.Error as e:
            raise self._error(f"{sql.split()[0]} failed", e) from e

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Execute one statement with bound parameters; database errors become :class:`StoreError`."""
        try:
            if params is None:
                return self.con.execute(sql)
            with pandas_unimported():  # binding would import pandas (~0.4 s) just to compare with pandas.NaT
                return self.con.execute(sql, params)
        except duckdb.Error as e:
            raise self._error("query failed", e) from e

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
        """Expose an Arrow table or DataFrame to SQL as a view called ``name``.

        The view lives in the connection's temporary catalog, so it is visible next to the store's
        tables whether they are in a file or in a DuckLake.
        """
        self.con.register(name, data)

    def register_parquet(self, name: str, files: Sequence[str]) -> None:
        """Expose Parquet ``files`` to SQL as a view called ``name``, scanned lazily by DuckDB's own reader.

        Unlike an Arrow dataset handed to :meth:`register`, what DuckDB reads stays inside its buffer
        pool (``memory_limit``): the way to feed a bounded-memory write from files on disk.
        """
        self.con.register(name, self.con.read_parquet([literal_path(f) for f in files]))

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def row_counts(self) -> dict[str, int]:
        """Rows per table, for summaries and for tests that assert nothing moved."""
        # One statement: one snapshot, one catalog round trip on a lake. Identifiers come from the catalog.
        names = self.tables()
        sql = " UNION ALL ".join(f'SELECT ?, count(*) FROM "{n}"' for n in names)  # noqa: S608
        return {name: int(rows) for name, rows in self.execute(sql, names).fetchall()}
