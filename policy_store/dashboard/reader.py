"""Read the store for the dashboard without getting in a writer's way.

DuckDB locks a database file per process: a writer takes it exclusively, readers
share it, and neither waits for the other -- an open that finds the lock taken
fails at once ("Could not set lock on file"). A dashboard that kept a read-only
connection open would therefore make every writer (``StorePruner.finish``,
``policy-store absorb``, ``ingest``, a recalibration job) fail for as long as
the page is open. So :class:`StoreReader`:

- opens the file read-only only to read, runs bounded queries and closes it
  (tens of milliseconds), one connection at a time;
- answers from a cache while the store has not changed: the *signature* of a
  file store is the size and modification time of the file and of its
  write-ahead log, read with ``stat`` and no lock, so polling an unchanged store
  never opens it;
- once the store changed, answers with what it read before (``stale``, with the
  time it was read) and re-reads in the background: the pages asked for since
  the last read are refreshed together, in as few opens as ``max_hold`` allows
  (an open is closed after the page that passes ``max_hold`` seconds), so a page
  never waits for the store unless it was never read;
- defers to writers: a background refresh waits until the store has not changed
  for ``quiet`` seconds and then tries to open it once (a writer holding it
  loses nothing); only after ``max_delay`` seconds of a busy store does it retry
  like a first read, so a writer committing in quick succession is interrupted
  at most once per ``max_delay``;
- holds the lock for at most ``max_share`` of the time, however many pages poll:
  after a read that kept the file open for *d* seconds, the next open waits
  until *d* · (1/``max_share`` − 1) have passed;
- when a writer holds the lock, retries for at most ``lock_wait`` seconds, then
  gives up that read (a background refresh tries again later; a first read
  raises :class:`StoreBusyError`); it never queues behind the writer.

A writer that opens the store while a dashboard read is in flight still finds
the lock taken for that read's duration: ``StorePruner`` and the recalibration
job retry with backoff (:func:`policy_store.integrations.optuna.open_store_retrying`).

A DuckLake has no file lock (snapshot isolation over PostgreSQL): the reader
keeps one read-only connection and uses the newest snapshot id as the signature.

>>> import tempfile
>>> from policy_store import PolicyStore
>>> path = tempfile.mkdtemp() + "/store.duckdb"
>>> PolicyStore(path).close()
>>> reader = StoreReader(path)
>>> first = reader.read("rules", lambda s: s.scalar("SELECT count(*) FROM rules"))
>>> again = reader.read("rules", lambda s: 1 / 0)  # unchanged store: answered from the cache
>>> first.value, again.value, again.stale, reader.opens
(0, 0, False, 2)
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from policy_store.errors import InvalidInputError, StoreError
from policy_store.lake import LAKE_ALIAS
from policy_store.location import LakeLocation, parse_location
from policy_store.store import PolicyStore, utcnow

T = TypeVar("T")


class StoreBusyError(StoreError):
    """A writer held the store's lock for longer than the reader waits, and nothing was cached to show."""


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """An answer and when the store was read for it; ``stale`` when a writer kept a newer one out of reach."""

    value: T
    read_at: datetime
    signature: str
    stale: bool = False


@dataclass
class _Entry:
    signature: str
    value: Any
    read_at: datetime


class StoreReader:
    """Short-lived read-only access to a store, with answers cached per store signature.

    Parameters
    ----------
    location:
        A store file or a ``ducklake:`` location (see :mod:`policy_store.location`); ``:memory:`` is refused
        (another process could not see it).
    cache_size:
        Answers kept (least recently used dropped first); 0 reads the store on every call (for benchmarks).
    lock_wait:
        Seconds to keep retrying while a writer holds the file's lock.
    max_share:
        Most of the time the reader may hold the file's lock (1: no pause between reads).
    max_hold:
        Seconds a background refresh keeps the file open before it gives writers a turn (at least one page).
    quiet, max_delay:
        A background refresh starts once the store has not changed for ``quiet`` seconds, or ``max_delay``
        seconds after it was asked for.
    """

    def __init__(self, location: str | os.PathLike[str], *, cache_size: int = 256, lock_wait: float = 0.25,
                 max_share: float = 0.25, max_hold: float = 0.1, quiet: float = 0.3, max_delay: float = 5.0) -> None:
        if not 0 < max_share <= 1:
            raise InvalidInputError(f"must be in (0, 1], got {max_share}", field="max_share")
        self.location = os.fspath(location)
        where = parse_location(self.location)
        self.is_lake = isinstance(where, LakeLocation)
        if not self.is_lake and where.path == ":memory:":
            raise InvalidInputError("the dashboard reads a store file or a DuckLake, not ':memory:'", field="store")
        self.path = None if self.is_lake else Path(where.path)
        self.cache_size = cache_size
        self.lock_wait = lock_wait
        self.max_share = max_share
        self.max_hold = max_hold
        self.quiet, self.max_delay = quiet, max_delay
        self._next_open = 0.0  # time.monotonic() before which the file is left to writers
        self.opens = 0
        """How many times the store was opened (or, on a lake, queried) to answer."""
        self._cache: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()  # the cache and the refresh queue
        self._io = threading.RLock()  # the store: one connection at a time (a lake's signature is read under it)
        self._queue: dict[Hashable, Callable[[PolicyStore], Any]] = {}
        self._worker: threading.Thread | None = None
        self._lake: PolicyStore | None = None
        self.masked = self.read("location", lambda s: s.location).value  # fails now on a missing or newer store

    # -- signature ------------------------------------------------------------------
    def signature(self) -> str:
        """A short string that changes whenever a commit may have changed the store (no lock taken)."""
        if self.is_lake:
            with self._io:
                snapshot = self._lake_store().scalar(
                    f"SELECT max(snapshot_id) FROM __ducklake_metadata_{LAKE_ALIAS}.ducklake_snapshot")  # noqa: S608
            return f"lake-{snapshot}"
        assert self.path is not None
        parts = []
        for p in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                st = p.stat()
                parts.append(f"{st.st_size}:{st.st_mtime_ns}")
            except FileNotFoundError:
                parts.append("-")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    # -- reading --------------------------------------------------------------------
    def read(self, key: Hashable, fn: Callable[[PolicyStore], T]) -> Snapshot[T]:
        """``fn(store)`` on a read-only store, or its cached answer.

        An answer read before the store's last change is returned as it is (``stale``) while a background
        read refreshes it; only a key never read waits for the store.

        Raises
        ------
        StoreBusyError
            A writer held the lock for ``lock_wait`` seconds and nothing for ``key`` is cached.
        """
        signature = self.signature()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                if hit.signature == signature:
                    return Snapshot(hit.value, hit.read_at, signature)
                self._queue[key] = fn
                if self._worker is None:  # the worker clears it, under this lock, when it finds the queue empty
                    self._worker = threading.Thread(target=self._refresh, name="dashboard-refresh", daemon=True)
                    self._worker.start()
                return Snapshot(hit.value, hit.read_at, hit.signature, stale=True)
        with self._io:
            self._pause()
            with self._open() as store:
                signature = self.signature()  # under the shared lock: no commit lands while we read
                value = fn(store)
        entry = _Entry(signature, value, utcnow())
        self._keep(key, entry)
        return Snapshot(value, entry.read_at, signature)

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until the background refresh is done; whether it finished within ``timeout`` seconds."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return worker is None or not worker.is_alive()

    def _keep(self, key: Hashable, entry: _Entry) -> None:
        if not self.cache_size:
            return
        with self._lock:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _refresh(self) -> None:
        """Re-read the queued keys, ``max_hold`` seconds per open, until none is left (a failed one is uncached)."""
        deadline = time.monotonic() + self.max_delay
        while True:
            with self._lock:
                batch, self._queue = self._queue, {}
                if not batch:
                    self._worker = None
                    return
            # While a writer is busy, one attempt per quiet spell (a failed open costs it nothing); past the
            # deadline, retries for lock_wait like a first read.
            insist = not self._wait_for_quiet(deadline)
            with self._io:
                self._pause()
                try:
                    with self._open(retry=insist) as store:
                        signature, start = self.signature(), time.monotonic()
                        for done, (key, fn) in enumerate(batch.items()):
                            if done and time.monotonic() - start > self.max_hold:  # the rest after a writer's turn
                                with self._lock:
                                    self._queue = {**dict(list(batch.items())[done:]), **self._queue}
                                break
                            try:
                                self._keep(key, _Entry(signature, fn(store), utcnow()))
                            except Exception:  # the next request reads it itself and shows the error
                                with self._lock:
                                    self._cache.pop(key, None)
                    deadline = time.monotonic() + self.max_delay
                except StoreBusyError:  # a writer has the store: try again after it
                    with self._lock:
                        self._queue = {**batch, **self._queue}
                    if insist:
                        deadline = time.monotonic() + self.max_delay
                except StoreError:  # gone or unreadable: the next requests read it themselves and say why
                    with self._lock:
                        for key in batch:
                            self._cache.pop(key, None)

    def _wait_for_quiet(self, deadline: float) -> bool:
        """Wait until the store's signature has held for ``quiet`` seconds (True) or ``deadline`` passed (False)."""
        if self.is_lake:
            return True
        signature, since = self.signature(), time.monotonic()
        while time.monotonic() - since < self.quiet:
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.05, self.quiet))
            now = self.signature()
            if now != signature:
                signature, since = now, time.monotonic()
        return True

    def _pause(self) -> None:
        """Leave the file to writers until the reader's share of the time is back under ``max_share``."""
        if not self.is_lake:
            time.sleep(max(0.0, self._next_open - time.monotonic()))

    @contextmanager
    def _open(self, *, retry: bool = True) -> Iterator[PolicyStore]:
        """The store open read-only; ``retry`` for ``lock_wait`` seconds while a writer holds it, else one try."""
        self.opens += 1
        if self.is_lake:
            yield self._lake_store()
            return
        deadline = time.monotonic() + (self.lock_wait if retry else 0.0)
        wait = 0.01
        while True:
            opened = time.monotonic()
            try:
                store = PolicyStore(self.location, read_only=True)
                break
            except StoreError as e:
                if "lock" not in str(e).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusyError(f"store {self.location!r} is being written by another process; "
                                         "try again in a moment") from e
            time.sleep(min(wait, max(deadline - time.monotonic(), 0.0)))
            wait *= 2
        try:
            with store:
                yield store
        finally:
            now = time.monotonic()
            self._next_open = now + (now - opened) * (1 / self.max_share - 1)

    def _lake_store(self) -> PolicyStore:
        if self._lake is None:
            self._lake = PolicyStore(self.location, read_only=True)
        return self._lake

    def close(self) -> None:
        """Close the lake connection, if any (a file store holds nothing open between reads)."""
        if self._lake is not None:
            self._lake.close()
            self._lake = None
