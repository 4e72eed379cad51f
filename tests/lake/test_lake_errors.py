"""Opening a lake that cannot be opened: a clear StoreError naming the location, password masked, no hang."""

from __future__ import annotations

import time

import pytest

from policy_store import PolicyStore, StoreError
from policy_store.cli.main import main
from policy_store.location import parse_location
from tests.lake.conftest import PASSWORD


def _tcp_lake(postgres, password: str, port: int | None = None) -> str:
    return f"ducklake:postgresql://postgres:{password}@127.0.0.1:{port or postgres.port}/lake_template"


def test_wrong_password_is_refused_quickly_and_masked(postgres, lake_template):
    start = time.monotonic()
    with pytest.raises(StoreError, match="refused the login") as caught:
        PolicyStore(_tcp_lake(postgres, "not-the-password"))
    assert time.monotonic() - start < 15
    assert "not-the-password" not in str(caught.value)
    assert "postgres:***@127.0.0.1" in str(caught.value)


def test_unreachable_server_is_named(postgres):
    with pytest.raises(StoreError, match="not reachable") as caught:
        PolicyStore(_tcp_lake(postgres, "pw-xyz", port=1))
    assert "pw-xyz" not in str(caught.value)


def test_right_password_opens_and_every_rendering_is_masked(postgres, lake_template, capsys):
    location = _tcp_lake(postgres, PASSWORD)
    with PolicyStore(location, read_only=True) as store:
        assert PASSWORD not in repr(store) and PASSWORD not in store.location
        assert store.schema_version >= 1
    assert main(["--store", location, "status"]) == 0
    assert PASSWORD not in capsys.readouterr().out


def test_missing_extra_says_what_to_install(monkeypatch):
    import policy_store.lake as lake

    monkeypatch.setattr(lake.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(StoreError, match=r"pip install 'policy-store\[ducklake\]'"):
        PolicyStore("ducklake:postgres:dbname=x host=/nonexistent")


@pytest.mark.parametrize(
    "text, message",
    [
        ("ducklake:sqlite:lake.db", "catalog must be PostgreSQL"),
        ("ducklake:postgres:dbname=x password=s3cr3t?datapath=/x", "unknown option"),
    ],
)
def test_malformed_lake_locations(text, message):
    with pytest.raises(StoreError, match=message) as caught:
        parse_location(text)
    assert "s3cr3t" not in str(caught.value)


def test_conninfo_with_quoted_password_and_question_mark():
    loc = parse_location("ducklake:postgres:dbname=lake password='a ?b' host=h?data_path=/d")
    assert loc.data_path == "/d" and loc.password == "a ?b"
    assert loc.masked() == "ducklake:postgres:dbname=lake password=*** host=h?data_path=/d"
