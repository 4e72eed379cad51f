"""The dashboard over a DuckLake: one read-only connection, the snapshot id as the signature, the same pages."""

from __future__ import annotations

from policy_store import PolicyStore
from policy_store.dashboard import Dashboard
from policy_store.ingest import ingest_frame
from policy_store.rules import add_rule_version
from tests.conftest import make_frame


def test_the_pages_follow_a_lake_written_by_another_connection(new_lake):
    lake = new_lake()
    with PolicyStore(lake) as store:
        ingest_frame(store, make_frame(n_studies=3))
    board = Dashboard(lake)
    try:
        before = board.signature()
        assert board.spool.directory is None  # a lake's workers spool where they are told (--spool-dir)
        assert "task-a/study-2" in board.studies().main and board.signature() == before
        with PolicyStore(lake) as store:
            add_rule_version(store, "median", {"strategy": "median"}, created_by="test")
        assert board.signature() != before
        assert 'href="/lineage?rule=median"' in board.rules().main
        with PolicyStore(lake) as store:
            ingest_frame(store, make_frame(n_studies=1, task="task-b"))
        assert "task-b/study-0" not in board.studies().main  # the previous answer at once, refreshed behind it
        assert board.reader.settle() and "task-b/study-0" in board.studies().main
    finally:
        board.reader.close()
