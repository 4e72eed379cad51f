"""The store's contract, the same on an embedded file and on a DuckLake (catalog in a real PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from policy_store import InvalidInputError, PolicyStore, SchemaVersionError, StudyConflictError
from policy_store.ingest import ingest_frame
from policy_store.migrations import LATEST_VERSION
from policy_store.store import utcnow
from tests.conftest import make_frame

TABLES = {
    "schema_version", "tasks", "meta_features", "studies", "trials", "curve_points", "rules", "rule_versions",
    "outcomes", "decisions", "meta_models", "recommendations", "drift_events", "jobs",
}


def test_open_migrates_once_and_reopens(location):
    with PolicyStore(location) as store:
        assert set(store.tables()) >= TABLES
        assert store.schema_version == LATEST_VERSION
        assert store.is_lake == location.startswith("ducklake:")
    with PolicyStore(location) as store:
        assert store.scalar("SELECT count(*) FROM schema_version") == LATEST_VERSION
        assert set(store.row_counts()) == set(store.tables())


def test_store_from_a_newer_version_is_refused(location):
    with PolicyStore(location) as store:
        store.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [LATEST_VERSION + 1, "future", utcnow()])
    with pytest.raises(SchemaVersionError, match="Upgrade policy-store"):
        PolicyStore(location)


def test_atomic_rolls_back_everything_since_the_outermost_block(location):
    with PolicyStore(location) as store:
        with pytest.raises(RuntimeError), store.atomic():
            with store.atomic():
                store.execute("INSERT INTO rules VALUES (?, ?, ?)", ["inner", None, utcnow()])
            raise RuntimeError("outer fails after inner finished")
        assert store.scalar("SELECT count(*) FROM rules") == 0
        assert not store.in_transaction


def test_ingest_is_idempotent_and_visible_to_a_second_connection(location):
    frame = make_frame(n_studies=3, n_trials=4, n_steps=5)
    with PolicyStore(location) as store:
        assert len(ingest_frame(store, frame).added) == 3
        before = store.row_counts()
        report = ingest_frame(store, frame)
        assert report.added == [] and len(report.unchanged) == 3
        assert store.row_counts() == before
    with PolicyStore(location, read_only=True) as other:
        assert other.row_counts() == before
        assert before["curve_points"] == 60 and before["studies"] == 3 and before["tasks"] == 1


def test_bad_or_conflicting_input_leaves_the_store_unchanged(location):
    with PolicyStore(location) as store:
        ingest_frame(store, make_frame(n_studies=2))
        before = store.row_counts()
        bad = make_frame(n_studies=2, task="other")
        bad.loc[3, "value"] = float("inf")
        with pytest.raises(InvalidInputError):
            ingest_frame(store, bad)
        changed = make_frame(n_studies=2, seed=1)
        with pytest.raises(StudyConflictError):
            ingest_frame(store, pd.concat([make_frame(n_studies=1, task="new"), changed]))
        assert store.row_counts() == before
        assert ingest_frame(store, changed, replace=True).replaced == ["task-a/study-0", "task-a/study-1"]
        assert store.row_counts()["curve_points"] == before["curve_points"]


def test_files_go_beside_the_file_or_under_the_lake_data_path(location, tmp_path):
    with PolicyStore(location) as store:
        where = Path(store.files_dir())
    assert where.is_dir()
    assert (where == tmp_path) != location.startswith("ducklake:")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_engine_ingest_stores_what_the_reference_path_stores(location, tmp_path, suffix):
    from policy_store.ingest import read_long_file
    from policy_store.ingest.engine_load import ingest_with_engine

    old, new = make_frame(n_studies=2, seed=3), make_frame(n_studies=3, task="t2", seed=4)
    path = tmp_path / f"new{suffix}"
    new.to_csv(path, index=False) if suffix == ".csv" else new.to_parquet(path, index=False)
    query = "SELECT study, content_hash FROM studies ORDER BY study"
    with PolicyStore(location) as store, PolicyStore.memory() as reference:
        ingest_frame(store, old)  # stored rows before the new ones: the hash must read only the new
        report = ingest_with_engine(store, path, suffix[1:], source="f")
        assert report is not None and len(report.added) == 3
        ingest_frame(reference, old)
        ingest_frame(reference, read_long_file(path), source="f")
        assert store.fetch_df(query).equals(reference.fetch_df(query))
        assert store.row_counts()["curve_points"] == reference.row_counts()["curve_points"]
        again = ingest_with_engine(store, path, suffix[1:], source="f")
        assert again is not None and sorted(again.unchanged) == sorted(report.added)
