"""Copying a whole store between locations (embedded file -> DuckLake and back), verified table by table.

Every table is copied in one transaction of the destination, and each is checked, before it commits,
against the source's row count and content fingerprint: the sum of DuckDB's 64-bit ``hash`` of every row
(order-free, sensitive to duplicates, identical in a file and in a lake). An interrupted copy leaves the
destination as it was (a store holding some tables and not others would break the invariants between them,
which ``policy-store check`` verifies); rerunning it copies again. A table whose fingerprint already
matches is skipped, so rerunning a finished copy writes nothing. A destination table with other content
is refused unless ``replace=True``.

>>> import pandas as pd
>>> from policy_store.ingest import ingest_frame
>>> frame = pd.DataFrame({"task": "t", "study": "s", "trial": [0, 0], "step": [0, 1], "value": [0.5, 0.4]})
>>> with PolicyStore("a.duckdb") as a:
...     _ = ingest_frame(a, frame)
>>> print(copy_store("a.duckdb", "b.duckdb").summary())
4 tables copied (5 rows), 11 empty, 0 unchanged; verified by row counts and content hashes
>>> print(copy_store("a.duckdb", "b.duckdb").summary())
0 tables copied (0 rows), 11 empty, 4 unchanged; verified by row counts and content hashes
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tqdm.auto import tqdm

from policy_store.errors import StoreError
from policy_store.location import parse_location
from policy_store.store import PolicyStore

# Every store has its own history of migrations; the copy requires equal versions instead of copying it.
_NOT_COPIED = ("schema_version",)
_BATCH_ROWS = 500_000


@dataclass(frozen=True)
class TableFingerprint:
    """Row count and order-free content hash of one table."""

    rows: int
    content_hash: str


@dataclass
class CopyReport:
    """What :func:`copy_store` did, per table: ``copied``, ``unchanged`` or ``empty`` (nothing to copy)."""

    source: str
    destination: str
    actions: dict[str, str] = field(default_factory=dict)
    fingerprints: dict[str, TableFingerprint] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for people."""
        copied = [t for t, a in self.actions.items() if a == "copied"]
        rows = sum(self.fingerprints[t].rows for t in copied)
        counts = {a: sum(1 for v in self.actions.values() if v == a) for a in ("empty", "unchanged")}
        return (
            f"{len(copied)} tables copied ({rows} rows), {counts['empty']} empty, {counts['unchanged']} unchanged; "
            "verified by row counts and content hashes"
        )

    def to_dict(self) -> dict:
        return asdict(self)


def fingerprints(store: PolicyStore, tables: list[str] | None = None) -> dict[str, TableFingerprint]:
    """Row count and content hash of each table (default: every table), all read from one snapshot.

    >>> with PolicyStore.memory() as store:
    ...     fingerprints(store, ["rules"])
    {'rules': TableFingerprint(rows=0, content_hash='0')}
    """
    known = store.tables()
    unknown = sorted(set(tables or ()) - set(known))
    if unknown:
        raise StoreError(f"no table(s) {', '.join(unknown)} in store {store.location!r}")
    with store.atomic():
        return {t: _fingerprint(store, t) for t in (known if tables is None else tables)}


def _fingerprint(store: PolicyStore, table: str) -> TableFingerprint:
    # ``table`` comes from the catalog; the alias ``t`` is the whole row as a struct.
    sql = f'SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM "{table}" AS t'  # noqa: S608
    rows, total = store.execute(sql).fetchone()
    return TableFingerprint(int(rows), str(total))


def copy_store(source: str, destination: str, *, replace: bool = False, progress: bool = False) -> CopyReport:
    """Copy every table of the store at ``source`` into the store at ``destination``.

    Parameters
    ----------
    source, destination:
        Store locations (paths or ``ducklake:`` locations); the destination is created if needed.
    replace:
        Overwrite destination tables that hold different, non-empty content.
    progress:
        Show a progress bar on stderr, one step per table.

    Raises
    ------
    StoreError
        Same location twice, different schema versions, a destination table with other content
        (without ``replace``), or a copy whose verification fails (nothing is committed).
    """
    if parse_location(source) == parse_location(destination):
        raise StoreError(f"source and destination are the same store ({parse_location(source).masked()!r})")
    with PolicyStore(source, read_only=True) as src, PolicyStore(destination) as dst:
        if src.schema_version != dst.schema_version:
            raise StoreError(
                f"schema versions differ: {src.location!r} is at {src.schema_version}, {dst.location!r} at "
                f"{dst.schema_version}; open both with this policy-store (`policy-store --store … init`) first"
            )
        report = CopyReport(src.location, dst.location)
        tables = [t for t in src.tables() if t not in _NOT_COPIED]
        missing = sorted(set(tables) - set(dst.tables()))
        if missing:
            raise StoreError(f"{dst.location!r} has no table(s) {', '.join(missing)}; is it a policy store?")
        wanted = fingerprints(src, tables)

        def unit(store: PolicyStore) -> dict[str, str]:
            # One unit of work for every table: a store with some tables copied and not others breaks the
            # invariants between them (curve points without their study, a study without its points).
            have = fingerprints(store, tables)
            clashing = [t for t in tables if have[t].rows and have[t] != wanted[t]]
            if clashing and not replace:
                raise StoreError(
                    f"{store.location!r} already holds different rows in {', '.join(clashing)}; "
                    "copy into an empty store, or pass --replace (replace=True) to overwrite those tables"
                )
            actions = {}
            for table in tqdm(tables, desc="copy", unit="table", disable=not progress):
                if have[table] == wanted[table]:
                    actions[table] = "empty" if not wanted[table].rows else "unchanged"
                    continue
                _copy_table(src, store, table, wanted[table])
                actions[table] = "copied"
            return actions

        report.actions = dst.run_atomic(unit)
        report.fingerprints = dict(wanted)
    return report


def _copy_table(src: PolicyStore, dst: PolicyStore, table: str, want: TableFingerprint) -> None:
    """Replace ``table`` in ``dst`` (inside its transaction) by the source's rows, streamed in Arrow batches."""
    columns = ", ".join(f'"{c}"' for c in _columns(src, table))
    dst.execute(f'DELETE FROM "{table}"')  # noqa: S608 - table names come from the catalog
    reader = src.execute(f'SELECT {columns} FROM "{table}"').to_arrow_reader(_BATCH_ROWS)  # noqa: S608
    view = f"_copy_{table}"
    dst.register(view, reader)
    try:
        dst.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM {view}')  # noqa: S608
    finally:
        dst.unregister(view)
    got = _fingerprint(dst, table)
    if got != want:
        raise StoreError(
            f"copy of table {table!r} did not verify ({got.rows} rows, hash {got.content_hash} after copying; "
            f"source {want.rows} rows, hash {want.content_hash}); nothing of it was committed"
        )


def _columns(store: PolicyStore, table: str) -> list[str]:
    rows = store.execute(
        """SELECT column_name FROM information_schema.columns
           WHERE table_catalog = current_database() AND table_schema = current_schema() AND table_name = ?
           ORDER BY ordinal_position""",
        [table],
    ).fetchall()
    return [r[0] for r in rows]
