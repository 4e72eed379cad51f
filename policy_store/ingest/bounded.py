"""The store's connection set up for one bulk write, and put back as it was.

For the call, the buffer pool is capped (what the write reads spills to disk beyond it) and inserts may reorder
rows (DuckDB then streams them instead of buffering to keep the input's order; every reader of the store orders
explicitly). Both settings are the database's, so they are restored afterwards, error or not.

``current_setting('memory_limit')`` reads the limit rounded down to 0.1 of its unit, and setting that text back
lowers the limit a little more on every call (3GB read as 2.7 GiB, set back read as 2.6 GiB, ...). So a limit
nobody set is reset to DuckDB's own default, and one set on the connection is restored to the middle of what its
text stands for, which reads back as the same text however often it is restored (within 0.05 of its unit of the
bytes first set; DuckDB shows no more).

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     store.execute("SET memory_limit = '3GB'") and None
...     before = store.scalar("SELECT current_setting('memory_limit')")
...     for _ in range(10):
...         with bounded_write(store, "256MB"):
...             during = store.scalar("SELECT current_setting('memory_limit')")
...     before, during, store.scalar("SELECT current_setting('memory_limit')")
('2.7 GiB', '244.1 MiB', '2.7 GiB')
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from policy_store.store import PolicyStore

_SHOWN = re.compile(r"(\d+)(?:\.(\d))?\s+(\S+)")


def _memory_limit(store: PolicyStore) -> str:
    return store.scalar("SELECT current_setting('memory_limit')")


def _middle(shown: str) -> str | None:
    """The middle of the values DuckDB shows as ``shown`` (``2.7 GiB`` -> ``2.75 GiB``)."""
    match = _SHOWN.fullmatch(shown)
    if match is None:
        return None
    whole, tenth, unit = match.groups()
    return f"{whole}.{tenth or 0}5 {unit}"


def _restore_memory_limit(store: PolicyStore, shown: str) -> None:
    """Put back the memory limit read as ``shown`` before the call, without the drift of setting ``shown``."""
    store.execute("RESET memory_limit")
    if _memory_limit(store) == shown:  # the default: nobody had set one
        return
    for value in (_middle(shown), shown):
        if value is not None:
            store.execute("SET memory_limit = ?", [value])
            if _memory_limit(store) == shown:
                return


@contextmanager
def bounded_write(store: PolicyStore, memory_limit: str) -> Iterator[None]:
    """For the block: the store's buffer pool capped at ``memory_limit``, inserts free to reorder rows."""
    limit = _memory_limit(store)
    order = store.scalar("SELECT current_setting('preserve_insertion_order')")
    try:
        store.execute("SET memory_limit = ?", [memory_limit])
        store.execute("SET preserve_insertion_order = false")
        yield
    finally:
        store.execute("SET preserve_insertion_order = ?", [order])
        _restore_memory_limit(store, limit)
