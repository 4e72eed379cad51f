"""Opening the store while another process writes it: a bounded wait, and a snapshot for readers.

DuckDB lets one process open a store file at a time. A command that finds the file locked by a writer
(a long ingest, a recalibration job)

* waits up to ``wait`` seconds for it, then fails with one line naming the process that holds it
  (:class:`~policy_store.store.StoreBusyError`);
* if it only reads, reads a snapshot instead of waiting: a copy of the file and its write-ahead log taken
  while no checkpoint ran (the file's headers the same before and after), opened read only. The copy holds
  every transaction committed when it was taken and nothing of one in flight: DuckDB replays the copied log
  as it would after a crash, ignoring a torn last entry.

A DuckLake needs none of this: every host reads and writes it at once.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     with open_waiting(f"{d}/s.duckdb", read_only=False, wait=0) as store:
...         store.schema_version
4
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from policy_store.location import FileLocation, parse_location
from policy_store.store import PolicyStore, StoreBusyError

_HEADERS = 3 * 4096  # the file header and the two database headers: they change only at a checkpoint
_POLL_SECONDS = 0.2
SNAPSHOT_ATTEMPTS = 5


def open_waiting(location: str, *, read_only: bool, wait: float, create_parents: bool = True,
                 on_snapshot: Callable[[StoreBusyError], None] | None = None) -> PolicyStore:
    """Open the store at ``location``, waiting up to ``wait`` seconds while another process writes it.

    Parameters
    ----------
    location:
        As for :class:`~policy_store.store.PolicyStore`.
    read_only:
        A reader: when a writer holds the file, read a snapshot of it at once (see the module docstring).
    wait:
        Seconds to keep trying (0: once).
    create_parents:
        As for :class:`~policy_store.store.PolicyStore`.
    on_snapshot:
        Called with the busy error when a snapshot is read instead of the file (to tell the user).

    Raises
    ------
    StoreBusyError
        Another process still held the file after ``wait`` seconds (and no snapshot could be read).
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            return PolicyStore(location, read_only=read_only, create_parents=create_parents)
        except StoreBusyError as busy:
            if read_only and isinstance(parse_location(location), FileLocation):
                snapshot = read_snapshot(location, busy)
                if snapshot is not None:
                    if on_snapshot is not None:
                        on_snapshot(busy)
                    return snapshot
            if time.monotonic() >= deadline:
                raise StoreBusyError(f"{busy}; waited {wait:g} s for it (--wait SECONDS to wait longer)",
                                     pid=busy.pid, holder=busy.holder) from busy
        time.sleep(max(0.0, min(_POLL_SECONDS, deadline - time.monotonic())))


def read_snapshot(path: str, busy: StoreBusyError) -> PolicyStore | None:
    """A read-only store on a consistent copy of the store file at ``path`` and its log, or None.

    None when every attempt saw a checkpoint run during the copy. The copy is removed when the store closes.
    """
    for _ in range(SNAPSHOT_ATTEMPTS):
        folder = tempfile.mkdtemp(prefix="policy-store-snapshot-")
        copy = os.path.join(folder, Path(path).name)
        try:
            before = _headers(path)
            shutil.copyfile(path, copy)
            if os.path.exists(f"{path}.wal"):
                shutil.copyfile(f"{path}.wal", f"{copy}.wal")
            if _headers(path) == before:
                store = PolicyStore(copy, read_only=True)
                store.location = f"{path} (snapshot: {busy.holder} is writing it)"
                store.on_close(lambda f=folder: shutil.rmtree(f, ignore_errors=True))
                return store
        except (OSError, StoreBusyError):
            pass
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        shutil.rmtree(folder, ignore_errors=True)
        time.sleep(_POLL_SECONDS)
    return None


def _headers(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(_HEADERS)
