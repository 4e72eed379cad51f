"""SIGKILL in the middle of a large ingest: the store opens, holds none of that call's rows, and takes it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from policy_store import PolicyStore
from policy_store.ingest import ingest_frame
from tests.conftest import make_frame

CHILD = textwrap.dedent(
    """
    import sys, time
    from policy_store import PolicyStore
    from policy_store.ingest import ingest_frame
    from tests.conftest import make_frame

    path, stop_after = sys.argv[1], sys.argv[2]
    original = PolicyStore.execute

    def execute(self, sql, params=None):
        result = original(self, sql, params)
        if sql.startswith(stop_after):
            print("inside", flush=True)
            time.sleep(60)  # killed here, mid-transaction
        return result

    PolicyStore.execute = execute
    with PolicyStore(path) as store:
        ingest_frame(store, make_frame(n_studies=400, n_trials=20, n_steps=14, task="big"))
    """
)


def _kill_mid_ingest(path, stop_after: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), stop_after], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout.readline().strip() == "inside"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL


def test_sigkill_mid_ingest_leaves_nothing_and_the_ingest_can_be_repeated(tmp_path):
    path = tmp_path / "store.duckdb"
    with PolicyStore(path) as store:
        ingest_frame(store, make_frame(n_studies=2, task="before"))
        before = store.row_counts()
    for stop_after in ("INSERT INTO curve_points", "INSERT INTO studies"):
        _kill_mid_ingest(path, stop_after)
        with PolicyStore(path) as store:
            assert store.row_counts() == before
    with PolicyStore(path) as store:
        report = ingest_frame(store, make_frame(n_studies=400, n_trials=20, n_steps=14, task="big"))
        assert len(report.added) == 400
        assert store.scalar("SELECT count(*) FROM curve_points WHERE study LIKE 'big/%'") == 400 * 20 * 14
