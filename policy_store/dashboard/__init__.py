"""A live, read-only dashboard over a store: ``policy-store serve`` (extra ``[dashboard]``: Starlette, uvicorn).

Pages: tasks and rules (the report's counts, Pareto front and task x rule
utility), studies and one study's pruning trajectory (a running study's spooled
decisions included), halted configurations, recommendations, drift monitors, and
a rule's lineage. Each page polls for changes and swaps its content in place.

How it stays out of the writers' way (DuckDB's file lock, the cache, the spool):
:mod:`policy_store.dashboard.reader` and :mod:`policy_store.dashboard.spool_tail`.
The plots and section tables are the report's (:mod:`policy_store.reports`).

>>> import tempfile
>>> from policy_store import PolicyStore
>>> path = tempfile.mkdtemp() + "/store.duckdb"
>>> PolicyStore(path).close()
>>> Dashboard(path).rules().title
'Rule lineage'
"""

from policy_store.dashboard.app import DEFAULT_HOST, DEFAULT_PORT, create_app, serve
from policy_store.dashboard.pages import Dashboard, View
from policy_store.dashboard.reader import Snapshot, StoreBusyError, StoreReader
from policy_store.dashboard.spool_tail import SpoolTail

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "Dashboard", "Snapshot", "SpoolTail", "StoreBusyError", "StoreReader",
           "View", "create_app", "serve"]
