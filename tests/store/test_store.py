"""The store: migrations, schema-version refusal, transactions."""

from __future__ import annotations

import pytest

from policy_store import PolicyStore, SchemaVersionError, StoreError
from policy_store.migrations import LATEST_VERSION
from policy_store.store import default_location, utcnow

TABLES = {
    "schema_version", "tasks", "meta_features", "studies", "trials", "curve_points", "rules", "rule_versions",
    "outcomes", "decisions", "meta_models", "recommendations", "drift_events", "jobs",
}


def test_new_store_has_every_table_and_the_latest_version(tmp_path):
    with PolicyStore(tmp_path / "s.duckdb") as store:
        assert set(store.row_counts()) >= TABLES
        assert store.schema_version == LATEST_VERSION
        assert store.scalar("SELECT count(*) FROM schema_version") == LATEST_VERSION


def test_reopening_applies_nothing_twice(tmp_path):
    path = tmp_path / "s.duckdb"
    PolicyStore(path).close()
    with PolicyStore(path) as store:
        assert store.scalar("SELECT count(*) FROM schema_version") == LATEST_VERSION


def test_store_from_a_newer_version_is_refused_with_advice(tmp_path):
    path = tmp_path / "s.duckdb"
    with PolicyStore(path) as store:
        store.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [LATEST_VERSION + 1, "future", utcnow()])
    with pytest.raises(SchemaVersionError, match="Upgrade policy-store"):
        PolicyStore(path)


def test_atomic_rolls_back_on_error(store):
    with pytest.raises(RuntimeError), store.atomic():
        store.execute("INSERT INTO rules VALUES (?, ?, ?)", ["r1", None, utcnow()])
        raise RuntimeError("boom")
    assert store.scalar("SELECT count(*) FROM rules") == 0


def test_nested_atomic_joins_the_outer_transaction(store):
    with pytest.raises(RuntimeError), store.atomic():
        with store.atomic():
            store.execute("INSERT INTO rules VALUES (?, ?, ?)", ["inner", None, utcnow()])
        assert store.in_transaction
        raise RuntimeError("outer fails after inner finished")
    assert store.scalar("SELECT count(*) FROM rules") == 0
    assert not store.in_transaction


def test_database_errors_are_wrapped(store):
    with pytest.raises(StoreError, match="query failed"):
        store.execute("SELECT * FROM no_such_table")


def test_unopenable_location_is_a_store_error(tmp_path):
    path = tmp_path / "not-a-db.duckdb"
    path.write_text("this is not a database")
    with pytest.raises(StoreError, match="cannot open store"):
        PolicyStore(path)


def test_default_location_honours_the_environment(monkeypatch):
    monkeypatch.setenv("POLICY_STORE", "/tmp/elsewhere.duckdb")
    assert default_location() == "/tmp/elsewhere.duckdb"
    monkeypatch.delenv("POLICY_STORE")
    assert default_location() == "policy-store.duckdb"
