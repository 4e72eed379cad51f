"""Opening a DuckLake store: the extensions from the ``ducklake`` extra's wheels, the ATTACH, the errors.

Nothing is downloaded at run time. DuckDB's extension wheels on PyPI (``duckdb-extension-ducklake``,
``duckdb-extension-postgres``) hold the binaries; this module lays them out as a DuckDB extension directory
(symlinks in a per-user cache) so that ``ATTACH 'ducklake:postgres:…'`` autoloads both, with autoinstall off.

>>> LAKE_ALIAS
'lake'
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import duckdb

from policy_store.errors import StoreError
from policy_store.location import LakeLocation, mask

LAKE_ALIAS = "lake"
# extension name -> (wheel package, file name inside the wheel)
_WHEELS = {
    "ducklake": ("duckdb_extension_ducklake", "ducklake.duckdb_extension"),
    # The postgres wheel's file is named after the extension, but its entry point is postgres_scanner's.
    "postgres_scanner": ("duckdb_extension_postgres", "postgres.duckdb_extension"),
}
INSTALL_HINT = "pip install 'policy-store[ducklake]'"


def _wheel_file(package: str, filename: str, version: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise StoreError(f"DuckLake stores need the 'ducklake' extra ({package} is not installed): {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "extensions" / version / filename
    if not path.is_file():
        found = sorted(p.parent.name for p in path.parent.parent.glob(f"*/{filename}"))
        raise StoreError(
            f"{package} holds the extension for DuckDB {', '.join(found) or 'no version'}, but duckdb is "
            f"{version.lstrip('v')}: install matching versions ({INSTALL_HINT})"
        )
    return path


def extension_directory() -> Path:
    """A DuckDB extension directory whose entries link to the installed extension wheels.

    Built once per user under ``$XDG_CACHE_HOME`` (or ``~/.cache``), falling back to the temp folder.
    """
    version = f"v{duckdb.__version__}"
    platform = duckdb.execute("PRAGMA platform").fetchone()[0]
    targets = {name: _wheel_file(*wheel, version) for name, wheel in _WHEELS.items()}
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    fallback = Path(tempfile.gettempdir()) / f"policy-store-{os.getuid()}-duckdb-extensions"
    for root in (cache / "policy-store" / "duckdb-extensions", fallback):
        folder = root / version / platform
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, target in targets.items():
                link = folder / f"{name}.duckdb_extension"
                if not link.is_symlink() or link.resolve() != target.resolve():
                    tmp = folder / f".{name}.{os.getpid()}"
                    tmp.unlink(missing_ok=True)
                    tmp.symlink_to(target)
                    os.replace(tmp, link)  # atomic: concurrent processes never see a half-made entry
            return root
        except OSError:
            continue
    raise StoreError("no writable folder for the DuckDB extension directory (tried the user cache and the temp folder)")


def connect_lake(location: LakeLocation, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached as ``lake`` and selected as the default catalog.

    Raises
    ------
    StoreError
        The extra is missing, the server is unreachable or refuses the login (within the connect timeout),
        or the lake cannot be attached; the message names the location with its password masked.
    """
    config = {
        "extension_directory": str(extension_directory()),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    }
    options = ["READ_ONLY"] if read_only else []
    params: list[str] = []
    if location.data_path:
        options.append("DATA_PATH ?")
        params.append(location.data_path)
    con = duckdb.connect(":memory:", config=config)
    try:
        con.execute("SET enable_progress_bar = false")  # catalog round trips make short statements look long
        # ATTACH takes no bound path; the conninfo is escaped as a SQL string literal instead.
        target = "ducklake:postgres:" + location.conninfo
        literal = "'" + target.replace("'", "''") + "'"
        suffix = f" ({', '.join(options)})" if options else ""
        if params:  # DATA_PATH is bound through a prepared value
            con.execute("SET VARIABLE _policy_store_data_path = ?", params)
            suffix = suffix.replace("DATA_PATH ?", "DATA_PATH getvariable('_policy_store_data_path')")
        con.execute(f"ATTACH {literal} AS {LAKE_ALIAS}{suffix}")
        con.execute(f"USE {LAKE_ALIAS}")
    except duckdb.Error as e:
        con.close()
        raise StoreError(f"cannot open store {location.masked()!r}: {_explain(mask(str(e), location.password))}") from e
    return con


def _explain(message: str) -> str:
    """The first line of DuckDB's message, with a hint for the usual causes."""
    lowered = message.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        hint = "the server refused the login: check user and password (PGPASSWORD or ~/.pgpass)"
    elif "timeout expired" in lowered or "could not connect" in lowered or "connection refused" in lowered:
        hint = "the PostgreSQL server is not reachable: check host, port and that it is running"
    elif "does not exist" in lowered and "database" in lowered:
        hint = "the catalog database does not exist: create it (createdb) first"
    else:
        hint = ""
    detail = " ".join(message.split())
    return f"{hint} ({detail})" if hint else detail
