"""A private PostgreSQL server for the DuckLake tests, and store locations parametrized over both backends.

The server starts once per test session: ``initdb`` in a temporary folder (as the ``postgres`` user when the
tests run as root, since ``initdb`` refuses root), a unix socket in that folder, a random loopback port with
password authentication for the login tests. One lake is migrated once and kept as a PostgreSQL template, so
each test gets a fresh, migrated lake by ``CREATE DATABASE … TEMPLATE`` in a fraction of a second.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from policy_store import PolicyStore

PASSWORD = "lake-test-secret"


@dataclass(frozen=True)
class PostgresServer:
    socket_dir: str
    port: int
    user: str = "postgres"

    def lake(self, dbname: str, data_path: Path | None = None) -> str:
        """A DuckLake location on this server (catalog database ``dbname``)."""
        tail = f"?data_path={data_path}" if data_path else ""
        return f"ducklake:postgres:dbname={dbname} host={self.socket_dir} port={self.port} user={self.user}{tail}"

    def psql(self, *sql: str) -> None:
        args = [str(_bindir() / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir, "-p", str(self.port)]
        args += ["-U", self.user, "-d", "postgres"]
        for statement in sql:
            args += ["-c", statement]
        subprocess.run(args, check=True, capture_output=True, timeout=60)


def _bindir() -> Path:
    found = shutil.which("pg_config")
    if found is None:
        raise RuntimeError("the lake tests need PostgreSQL's binaries (pg_config, initdb, pg_ctl) on PATH")
    return Path(subprocess.run([found, "--bindir"], check=True, capture_output=True, text=True).stdout.strip())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    bindir = _bindir()
    # A short path: unix socket paths are limited to ~100 characters.
    root = Path(tempfile.mkdtemp(prefix="ps-pg-"))
    if os.geteuid() == 0:
        os.chown(root, pwd.getpwnam("postgres").pw_uid, -1)
    data = root / "data"
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD)
    if os.geteuid() == 0:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    subprocess.run(
        _as_server_user([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--no-sync",
                         "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]),
        check=True, capture_output=True, timeout=120,
    )
    port = _free_port()
    options = f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off " \
              "-c full_page_writes=off -c max_connections=200"
    subprocess.run(
        _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w",
                         "-t", "60", "start"]),
        check=True, capture_output=True, timeout=90,
    )
    try:
        yield PostgresServer(str(root), port)
    finally:
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


_names = itertools.count()


@pytest.fixture(scope="session")
def lake_template(postgres, tmp_path_factory) -> str:
    """Name of a database holding a freshly migrated, empty lake (cloned for every test)."""
    postgres.psql("CREATE DATABASE lake_template")
    data = tmp_path_factory.mktemp("lake-template-data")
    PolicyStore(postgres.lake("lake_template", data)).close()
    return "lake_template"


@pytest.fixture
def new_lake(postgres, lake_template, tmp_path):
    """Factory: the location of a fresh, migrated lake (a clone of the template catalog)."""

    def make() -> str:
        name = f"lake_{os.getpid()}_{next(_names)}"
        postgres.psql(f"CREATE DATABASE {name} TEMPLATE {lake_template}")
        return postgres.lake(name)

    return make


@pytest.fixture(params=["file", "lake"])
def location(request, tmp_path) -> str:
    """A new store location: an embedded file, or a fresh DuckLake on the private PostgreSQL."""
    if request.param == "file":
        return str(tmp_path / "store.duckdb")
    return request.getfixturevalue("new_lake")()
