"""Named locks that one holder at a time can take, across processes and hosts.

What a recalibration job (or any job that must not run twice at once) holds while it runs:

* embedded file ``team.duckdb``: an exclusive ``flock`` on ``team.duckdb.lock-<name>`` beside it;
* ``:memory:``: a lock inside this process;
* DuckLake: a PostgreSQL session-level advisory lock in the catalog database, held by a connection of
  its own (``psycopg``, part of the ``ducklake`` extra) for as long as the block runs.

Each is released when the block ends or when the holder's process dies (even by SIGKILL), so a crashed job
never blocks the next one, and no lease needs renewing.

>>> from policy_store.location import parse_location
>>> with hold_lock(parse_location(":memory:"), "recalibration"):
...     print("only one holder")
only one holder
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from policy_store.errors import JobLockedError, StoreError
from policy_store.location import FileLocation, LakeLocation, mask

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_POLL_SECONDS = 0.1
# First key of every advisory lock policy-store takes ("PSL1"), so its locks never collide with others'.
_ADVISORY_NAMESPACE = 0x50534C31
_memory_locks: dict[str, threading.Lock] = {}
_memory_guard = threading.Lock()


@contextmanager
def hold_lock(location: FileLocation | LakeLocation, name: str, *, wait: float = 0.0) -> Iterator[None]:
    """Hold lock ``name`` of the store at ``location`` for the block.

    Parameters
    ----------
    location:
        A parsed store location (:func:`policy_store.location.parse_location`).
    name:
        1-100 letters, digits or ``._-``.
    wait:
        Seconds to keep trying while another holder has it.

    Raises
    ------
    JobLockedError
        Another process (or job in this process) holds it and did not let go within ``wait``.
    """
    if not _NAME.fullmatch(name):
        raise StoreError(f"invalid lock name {name!r}: use 1-100 letters, digits, '.', '_' or '-'")
    if isinstance(location, LakeLocation):
        holder = _advisory(location, name)
    elif location.path == ":memory:":
        holder = _in_process(name)
    else:
        holder = _file(Path(f"{location.path}.lock-{name}"))
    with holder as try_acquire:
        deadline = time.monotonic() + wait
        while not try_acquire():
            if time.monotonic() >= deadline:
                raise JobLockedError(
                    f"lock {name!r} on {location.masked()!r} is held by another process or job; "
                    "wait for it to finish (or pass a longer wait)"
                )
            time.sleep(_POLL_SECONDS)
        yield


def is_held(location: FileLocation | LakeLocation, name: str) -> bool:
    """Whether some holder has lock ``name`` of the store at ``location`` right now.

    Takes the lock for an instant to find out, and, on the embedded file, creates no lock file: a file that
    is not there is a lock nobody holds (every holder creates it). For read-only callers such as
    ``policy-store check``.

    >>> from policy_store.location import parse_location
    >>> where = parse_location(":memory:")
    >>> with hold_lock(where, "recalibration"):
    ...     is_held(where, "recalibration")
    True
    >>> is_held(where, "recalibration")
    False
    """
    if isinstance(location, FileLocation) and location.path != ":memory:":
        if not _NAME.fullmatch(name):
            raise StoreError(f"invalid lock name {name!r}: use 1-100 letters, digits, '.', '_' or '-'")
        import fcntl

        try:
            fd = os.open(f"{location.path}.lock-{name}", os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return False
        except OSError as e:
            raise StoreError(f"cannot read lock file {location.path}.lock-{name!r}: {e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing the descriptor releases an flock it took
        return False
    try:
        with hold_lock(location, name):
            return False
    except JobLockedError:
        return True


@contextmanager
def _in_process(name: str) -> Iterator[Callable[[], bool]]:
    with _memory_guard:
        lock = _memory_locks.setdefault(name, threading.Lock())
    acquired = False

    def try_acquire() -> bool:
        nonlocal acquired
        acquired = lock.acquire(blocking=False)
        return acquired

    try:
        yield try_acquire
    finally:
        if acquired:
            lock.release()


@contextmanager
def _file(path: Path) -> Iterator[Callable[[], bool]]:
    import fcntl  # POSIX only; imported here so that the store itself still imports elsewhere

    try:
        handle = open(path, "a+b")  # noqa: SIM115 - held open for the whole block
    except OSError as e:
        raise StoreError(f"cannot create lock file {str(path)!r}: {e}") from e

    def try_acquire() -> bool:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    try:
        yield try_acquire
    finally:
        handle.close()  # closing the descriptor releases the flock


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big", signed=True)


@contextmanager
def _advisory(location: LakeLocation, name: str) -> Iterator[Callable[[], bool]]:
    try:
        import psycopg
    except ImportError as e:
        raise StoreError("locks on a DuckLake store need psycopg: pip install 'policy-store[ducklake]'") from e
    try:
        con = psycopg.connect(location.conninfo, autocommit=True)
    except psycopg.Error as e:
        raise StoreError(
            f"cannot take lock {name!r} on {location.masked()!r}: {mask(str(e), location.password)}"
        ) from e
    key = _advisory_key(name)

    def try_acquire() -> bool:
        row = con.execute("SELECT pg_try_advisory_lock(%s, %s)", (_ADVISORY_NAMESPACE, key)).fetchone()
        return bool(row and row[0])

    try:
        yield try_acquire
    finally:
        con.close()  # ending the session releases its advisory locks
