"""The canonical projection of a store: what two uninterrupted runs of the same command must agree on.

Two runs of one command on copies of one store differ legitimately only in what is random or clocked:
timestamps (every TIMESTAMP column), job ids (``job-<uuid4>``), recommendation ids, also where text
names them (``created_by``, ``reason``). (Every run of a campaign uses the same
folder and catalog name, so recorded paths and locations agree.)
:func:`project` drops those and keeps every other column of every table, as a sorted multiset of rows,
so a duplicate row, a lost row or one changed value makes two projections differ.

Two tables are logs of how often a command ran rather than content: ``jobs`` (a job killed mid-way is
marked ``failed``, a run after a finished one is a ``noop``) and ``recommendations`` (each ``recommend``
call logs one). Of ``jobs`` only the ``succeeded`` rows count; ``recommendations`` compares as a set.
A job left ``running`` is the checker's business (``policy-store check``), not the projection's.
"""

from __future__ import annotations

import hashlib
import re

from policy_store import PolicyStore

#: Columns whose values are random per run (besides every TIMESTAMP column).
RANDOM_COLUMNS = {
    "jobs": {"job_id", "watermark", "result"},
    "rule_versions": {"job_id"},
    "drift_events": {"job_id"},
    "recommendations": {"recommendation_id"},
}
#: Row filters of the log tables (see the module docstring).
ROW_FILTERS = {"jobs": "status = 'succeeded'"}
SET_TABLES = {"recommendations"}


#: Random identifiers inside text (a job named in ``created_by``, a recommendation in a ``reason``).
RANDOM_IDS = re.compile(r"job-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _normal(value: str | None) -> str | None:
    return RANDOM_IDS.sub("<random id>", value) if value is not None else None


def project(store: PolicyStore) -> dict[str, list[tuple]]:
    """Every table's canonical rows, sorted, each value as DuckDB prints it (see the module docstring).

    Two statements whatever the number of tables (on a lake every statement is catalog round trips).

    >>> with PolicyStore.memory() as store:
    ...     store.execute("INSERT INTO rules VALUES ('r', NULL, now())") and None
    ...     project(store)["rules"]
    [('r', None)]
    """
    tables = store.tables()
    keep: dict[str, list[str]] = {t: [] for t in tables}
    for table, name, kind in store.execute(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_catalog = current_database() AND table_schema = current_schema()
           ORDER BY table_name, ordinal_position"""
    ).fetchall():
        if table in keep and not kind.startswith("TIMESTAMP") and name not in RANDOM_COLUMNS.get(table, ()):
            keep[table].append(name)
    # Identifiers come from the catalog; the filters are constants above.
    parts = []
    for table in tables:
        cells = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in keep[table])
        where = f" WHERE {ROW_FILTERS[table]}" if table in ROW_FILTERS else ""
        parts.append(f'SELECT ? AS t, [{cells}] AS cells FROM "{table}"{where}')  # noqa: S608
    out: dict[str, list[tuple]] = {t: [] for t in tables}
    for table, cells in store.execute(" UNION ALL ".join(parts), tables).fetchall():
        out[table].append(tuple(_normal(v) for v in cells))
    for table, rows in out.items():
        if table in SET_TABLES:
            rows = list(dict.fromkeys(rows))
        out[table] = sorted(rows, key=repr)
    return out


def digest(projection: dict[str, list[tuple]]) -> dict[str, str]:
    """A short content hash per table of a projection (what the campaign keeps and prints)."""
    return {t: hashlib.sha256(repr(rows).encode()).hexdigest()[:16] for t, rows in projection.items()}


def differences(a: dict[str, list[tuple]], b: dict[str, list[tuple]], *, limit: int = 3) -> list[str]:
    """Human-readable differences between two projections (empty when equal)."""
    out = []
    for table in sorted(set(a) | set(b)):
        ra, rb = a.get(table, []), b.get(table, [])
        if ra == rb:
            continue
        only_a = [r for r in ra if r not in rb][:limit]
        only_b = [r for r in rb if r not in ra][:limit]
        out.append(f"{table}: {len(ra)} vs {len(rb)} rows; only in the first {only_a}; only in the second {only_b}")
    return out
