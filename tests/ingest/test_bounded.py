"""The store's settings put back as they were after bulk writes: no drift of the memory limit."""

from __future__ import annotations

import pytest

from policy_store import PolicyStore
from policy_store.errors import StoreError
from policy_store.ingest.bounded import bounded_write
from policy_store.ingest.engine_load import ingest_with_engine
from policy_store.ingest.stream import ingest_csv_stream


def _settings(store: PolicyStore) -> tuple:
    return (store.scalar("SELECT current_setting('memory_limit')"),
            store.scalar("SELECT current_setting('preserve_insertion_order')"))


@pytest.mark.parametrize("limit", [None, "3GB", "1000000000B", "700MiB"])
@pytest.mark.parametrize("ingest", [ingest_with_engine, ingest_csv_stream])
def test_ten_ingests_leave_the_memory_limit_as_it_was(tmp_path, limit, ingest):
    path = tmp_path / "runs.csv"
    with PolicyStore.memory() as store:
        if limit is not None:
            store.execute("SET memory_limit = ?", [limit])
        before = _settings(store)
        for i in range(10):  # a new study each time, then one unchanged: both write under the cap
            path.write_text("task,study,trial,step,value\n" + f"t,s{i // 2},0,0,0.5\nt,s{i // 2},0,1,0.25\n")
            kwargs = {"fmt": "csv"} if ingest is ingest_with_engine else {}
            assert ingest(store, path, source="f", **kwargs) is not None
        assert _settings(store) == before
        assert store.scalar("SELECT count(*) FROM studies") == 5


def test_the_settings_are_put_back_when_the_write_fails():
    with PolicyStore.memory() as store:
        before = _settings(store)
        with pytest.raises(StoreError), bounded_write(store, "256MB"):
            assert _settings(store) == ("244.1 MiB", False)
            store.execute("SELECT * FROM no_such_table")
        assert _settings(store) == before
