"""One process writes a store file at a time: others wait a bounded time, readers read a snapshot meanwhile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from policy_store import PolicyStore
from policy_store.cli.main import main
from tests.conftest import make_frame

# A real ingest of a CSV file that stops inside its transaction, after its rows are written and before its
# commit, until the test lets it go: an ingest caught in the middle, for as long as the test needs.
INGEST = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from policy_store import PolicyStore
    from policy_store.ingest import ingest_file
    store_path, csv, ready, go = sys.argv[1:]
    with PolicyStore(store_path) as store:
        with store.atomic():
            ingest_file(store, csv)
            Path(ready).touch()
            while not Path(go).exists():
                time.sleep(0.05)
""")


@pytest.fixture
def ingest_in_flight(tmp_path):
    """A store with task-a committed, and a second process midway through ingesting task-b into it."""
    store_path = tmp_path / "s.duckdb"
    assert main(["--store", str(store_path), "ingest", _csv(tmp_path, "task-a")]) == 0
    ready, go = tmp_path / "ready", tmp_path / "go"
    writer = subprocess.Popen([sys.executable, "-c", INGEST, str(store_path), _csv(tmp_path, "task-b"), str(ready),
                               str(go)], env={**os.environ, "PYTHONPATH": os.getcwd()}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120  # a bound for a hung writer only; a loaded machine just takes longer
    while not ready.exists():
        assert writer.poll() is None, writer.stderr.read().decode()
        assert time.monotonic() < deadline, "the writer never reached its transaction"
        time.sleep(0.05)
    yield store_path, writer, go
    go.touch()
    writer.wait(timeout=120)


def _csv(folder: Path, task: str) -> str:
    path = folder / f"{task}.csv"
    make_frame(n_studies=2, task=task).to_csv(path, index=False)
    return str(path)


def _tasks(capsys, store_path) -> list[str]:
    assert main(["--store", str(store_path), "tasks", "--json"]) == 0
    out, err = capsys.readouterr()
    return [t["task"] for t in json.loads(out)], err


def test_a_read_beside_an_ingest_reads_what_is_committed(ingest_in_flight, capsys):
    store_path, writer, go = ingest_in_flight
    tasks, err = _tasks(capsys, store_path)
    assert tasks == ["task-a"]  # committed before; nothing of the transaction in flight
    assert err.startswith("note: ") and f"process {writer.pid} (" in err and "snapshot" in err
    assert main(["--store", str(store_path), "check"]) == 0
    assert capsys.readouterr().out.startswith("ok: 2 studies")
    go.touch()
    assert writer.wait(timeout=120) == 0
    assert _tasks(capsys, store_path) == (["task-a", "task-b"], "")
    assert not [p for p in store_path.parent.iterdir() if "snapshot" in p.name]


def test_a_second_writer_waits_its_bound_then_names_the_holder(ingest_in_flight, tmp_path):
    # The second writer is a second process, as it is for a user, and its stderr is read from its own pipe
    # (not from pytest's capture of this process, which once lost the line to its global capture under load).
    store_path, writer, _ = ingest_in_flight
    started = time.monotonic()
    second = subprocess.run([sys.executable, "-m", "policy_store.cli.main", "--store", str(store_path), "--wait",
                             "0.5", "ingest", _csv(tmp_path, "task-c")], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=300)
    waited, code, err = time.monotonic() - started, second.returncode, second.stderr
    assert code == 1 and waited >= 0.5 and second.stdout == ""
    assert err.count("\n") == 1 and err.startswith("Error: store ")
    assert f"locked by process {writer.pid} (" in err and "waited 0.5 s" in err and "--wait" in err


def test_a_writer_that_waits_long_enough_gets_the_store(ingest_in_flight, tmp_path, capsys):
    store_path, writer, go = ingest_in_flight
    releaser = subprocess.Popen([sys.executable, "-c", f"import time, pathlib; time.sleep(1); "
                                 f"pathlib.Path({str(go)!r}).touch()"])
    assert main(["--store", str(store_path), "--wait", "300", "ingest", _csv(tmp_path, "task-c")]) == 0
    releaser.wait(timeout=60)
    assert writer.wait(timeout=120) == 0
    with PolicyStore(store_path, read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM tasks") == 3


@pytest.mark.parametrize("argv, field", [
    (["recommend", "--meta-features", '{"n_rows": 100}', "--lam", "-5", "--save", "R"], "lam"),
    (["recommend", "--meta-features", '{"n_rows": 100}', "--lam", "nan"], "lam"),
    (["evaluate", "median", "--orders", "0"], "orders"),
    (["report", "--regret-weight", "-1"], "regret-weight"),
    (["--wait", "-1", "tasks"], "wait"),
    (["drift", "check", "--rule", "median", "--window", "0"], "window"),
])
def test_numeric_options_out_of_bounds_are_typed_errors(tmp_path, capsys, argv, field):
    store_path = tmp_path / "s.duckdb"
    with PolicyStore(store_path) as store:
        before = store.row_counts()
    assert main(["--store", str(store_path), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Error: field '{field}': must be ") and err.count("\n") == 1
    with PolicyStore(store_path, read_only=True) as store:
        assert store.row_counts() == before


def test_init_and_ingest_create_missing_folders_only_with_parents(tmp_path, capsys):
    store_path = tmp_path / "a" / "b" / "s.duckdb"
    for argv in (["init"], ["ingest", _csv(tmp_path, "task-a")]):
        assert main(["--store", str(store_path), *argv]) == 1
        assert "does not exist" in capsys.readouterr().err and not (tmp_path / "a").exists()
    assert main(["--store", str(store_path), "ingest", "--parents", _csv(tmp_path, "task-a")]) == 0
    assert store_path.exists()
