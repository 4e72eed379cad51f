"""policy-store copy: embedded -> lake -> embedded keeps every table's content hash; all or nothing; reruns."""

from __future__ import annotations

import pytest

import policy_store.copy as copy_module
from policy_store import PolicyStore, StoreError
from policy_store.check import check_store
from policy_store.cli.main import main
from policy_store.copy import copy_store, fingerprints
from policy_store.ingest import ingest_frame
from policy_store.migrations import MIGRATIONS
from policy_store.rules import add_rule_version
from tests.conftest import make_frame


@pytest.fixture
def source(tmp_path) -> str:
    path = str(tmp_path / "source.duckdb")
    with PolicyStore(path) as store:
        ingest_frame(store, make_frame(n_studies=4, n_trials=5, n_steps=6))
        add_rule_version(store, "median", {"strategy": "median", "params": {"n_startup_trials": 3}}, created_by="t")
    return path


def _hashes(location: str) -> dict:
    with PolicyStore(location, read_only=True) as store:
        found = fingerprints(store)
    found.pop("schema_version")
    return found


def test_round_trip_file_lake_file_keeps_every_hash(source, new_lake, tmp_path, capsys):
    lake, back = new_lake(), str(tmp_path / "back.duckdb")
    assert main(["copy", source, lake]) == 0
    assert "6 tables copied (147 rows)" in capsys.readouterr().out
    assert copy_store(source, lake).summary().startswith("0 tables copied")  # rerun: a no-op
    copy_store(lake, back)
    want = _hashes(source)
    assert _hashes(lake) == want == _hashes(back)
    assert want["curve_points"].rows == 120


def test_an_interrupted_copy_leaves_the_destination_as_it_was_and_the_rerun_copies_all(source, tmp_path,
                                                                                       monkeypatch):
    # Regression (crash matrix): tables were committed one by one, so a copy killed between two left curve
    # points without their studies, which `policy-store check` reports as orphans.
    destination = str(tmp_path / "dst.duckdb")
    real = copy_module._copy_table

    def fail_on_trials(src, dst, table, want):
        if table == "trials":
            raise KeyboardInterrupt
        real(src, dst, table, want)

    monkeypatch.setattr(copy_module, "_copy_table", fail_on_trials)
    with pytest.raises(KeyboardInterrupt):
        copy_store(source, destination)
    monkeypatch.undo()
    with PolicyStore(destination, read_only=True) as store:
        counts = store.row_counts()
        assert counts.pop("schema_version") == len(MIGRATIONS)  # only the migrations' rows
        assert set(counts.values()) == {0}
        assert check_store(store).ok
    report = copy_store(source, destination)
    assert report.actions["curve_points"] == "copied" and report.actions["trials"] == "copied"
    assert _hashes(destination) == _hashes(source)


def test_other_content_in_the_destination_is_refused_unless_replace(source, tmp_path):
    destination = str(tmp_path / "dst.duckdb")
    with PolicyStore(destination) as store:
        ingest_frame(store, make_frame(n_studies=1, task="elsewhere"))
    with pytest.raises(StoreError, match="already holds different rows in curve_points"):
        copy_store(source, destination)
    with pytest.raises(StoreError, match="same store"):
        copy_store(source, source)
    copy_store(source, destination, replace=True)
    assert _hashes(destination) == _hashes(source)
