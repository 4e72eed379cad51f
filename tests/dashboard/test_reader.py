"""The reader never keeps the DuckDB lock from a writer in another process, and shows what it has while one writes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from policy_store import PolicyStore
from policy_store.dashboard import Dashboard, SpoolTail, StoreBusyError, StoreReader
from policy_store.integrations.spool import SpoolWriter, absorb_spool
from policy_store.rules import add_rule_version

_WRITER = textwrap.dedent("""
    import sys
    from policy_store import PolicyStore
    from policy_store.rules import add_rule_version
    with PolicyStore(sys.argv[1]) as store:
        add_rule_version(store, sys.argv[2], {"strategy": "median"}, created_by="writer")
        print("ready", flush=True)
        sys.stdin.readline()  # holds the write lock until told to stop
""")


def _writer(path, rule: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), rule], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=60) == 0, proc.stderr.read()


def _rules(store: PolicyStore) -> list[str]:
    return [r["rule"] for r in store.fetch_dicts("SELECT rule FROM rules ORDER BY rule")]


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "store.duckdb"
    with PolicyStore(p) as store:
        add_rule_version(store, "a", {"strategy": "median"}, created_by="test")
    return p


def test_a_writer_in_another_process_opens_the_store_right_after_a_read(path):
    reader = StoreReader(path)
    assert reader.read("rules", _rules).value == ["a"]
    _stop(_writer(path, "b"))  # would fail with "Could not set lock" if the reader kept its connection
    assert reader.read("rules", _rules).stale and reader.settle()
    snap = reader.read("rules", _rules)
    assert (snap.value, snap.stale) == (["a", "b"], False)


def test_after_a_change_the_last_answer_is_served_at_once_and_refreshed_once_the_writer_is_done(path):
    reader = StoreReader(path, lock_wait=0.1)
    before = reader.read("rules", _rules)
    writer = _writer(path, "b")
    try:
        snap = reader.read("rules", _rules)  # the writer holds the lock: no wait, the answer read before
        assert (snap.value, snap.stale, snap.read_at) == (["a"], True, before.read_at)
        with pytest.raises(StoreBusyError, match="being written by another process"):
            reader.read("versions", lambda s: s.scalar("SELECT count(*) FROM rule_versions"))
        assert not reader.settle(timeout=0.3), "the refresh waits for the writer, it does not give up"
    finally:
        _stop(writer)
    assert reader.settle()
    snap = reader.read("rules", _rules)
    assert (snap.value, snap.stale) == (["a", "b"], False)


def test_pages_asked_for_since_the_last_read_are_refreshed_in_one_open(path):
    reader = StoreReader(path)
    for key in ("x", "y", "z"):
        reader.read(key, _rules)
    _stop(_writer(path, "b"))
    opens = reader.opens
    assert [reader.read(key, _rules).stale for key in ("x", "y", "z")] == [True] * 3
    assert reader.settle()
    assert [reader.read(key, _rules).value for key in ("x", "y", "z")] == [["a", "b"]] * 3
    assert reader.opens - opens <= 2  # one batch, or two if the first started before the others were queued


def test_the_reader_holds_the_lock_at_most_its_share_of_the_time(path):
    reader = StoreReader(path, cache_size=0, max_share=0.2)

    def slow(store):
        time.sleep(0.05)
        return 1

    start = time.monotonic()
    for _ in range(5):
        reader.read("k", slow)
    # Each read after the first waited ~4x the previous one's time with the file closed.
    assert time.monotonic() - start >= 0.05 * 5 + 4 * 0.05 * 4


def test_an_unchanged_store_is_not_opened_again(path):
    reader = StoreReader(path)
    opens = reader.opens
    signature = reader.signature()
    for _ in range(3):
        reader.read("rules", _rules)
    assert reader.opens == opens + 1 and reader.signature() == signature
    _stop(_writer(path, "b"))
    assert reader.signature() != signature


def test_memory_and_missing_stores_are_refused(tmp_path):
    from policy_store.errors import InvalidInputError, StoreError

    with pytest.raises(InvalidInputError, match="not ':memory:'"):
        StoreReader(":memory:")
    with pytest.raises(StoreError, match="no store at"):
        StoreReader(tmp_path / "missing.duckdb")
    assert not (tmp_path / "missing.duckdb").exists()


def _record(trial: int, verdict: str, reason: str, version: int = 1, spec_hash: str = "") -> dict:
    return {"decision_id": f"d{trial}-{verdict}", "study": "run", "trial": str(trial), "trial_number": trial,
            "step": 2, "value": 0.5, "threshold": 0.4, "ref_size": 3, "verdict": verdict, "reason": reason,
            "rule": "a", "version": version, "spec_hash": spec_hash, "decided_at": f"2026-01-01T00:00:0{trial}"}


def test_spool_tail_reads_complete_lines_once_and_skips_what_is_not_a_decision(tmp_path):
    spool = tmp_path / "spool"
    writer = SpoolWriter(spool)
    writer.append(_record(0, "continue", "warm-up"))
    tail = SpoolTail(spool)
    assert [r["decision_id"] for r in tail.records()] == ["d0-continue"]
    with open(writer.path, "ab") as f:  # a line being written, then garbage, then a switch record
        f.write(b'{"decision_id": "half')
    assert len(tail.records()) == 1
    with open(writer.path, "ab") as f:
        f.write(b'"}\nnot json\n{"kind": "switch"}\n')
    writer.append(_record(1, "prune", "below the median"))
    assert [r["decision_id"] for r in tail.records()] == ["d0-continue", "d1-prune"]
    sig = tail.signature()
    writer.close()
    assert tail.signature() == sig.replace(".part", "")  # the rename keeps the file's place
    assert len(tail.records()) == 2
    writer.path.unlink()  # absorbed and removed: its decisions are in the store now
    assert tail.records() == [] and tail.signature() == ""


def test_a_study_page_counts_a_decision_once_when_it_is_both_absorbed_and_still_spooled(path):
    with PolicyStore(path) as store:
        spec_hash = store.scalar("SELECT spec_hash FROM rule_versions WHERE rule = 'a'")
    spool = f"{path}.spool"
    writer = SpoolWriter(spool)
    for t, verdict in enumerate(("continue", "prune", "continue")):
        writer.append(_record(t, verdict, "below the median", spec_hash=spec_hash))
    writer.close()
    board = Dashboard(path)
    assert "live, not absorbed yet" in board.study("run").main
    with PolicyStore(path) as store:
        absorb_spool(store, spool, remove=False)  # committed, files not removed yet
    assert "The store changed after" in board.study("run").main and board.reader.settle()
    page = board.study("run").main
    assert "live, not absorbed yet" not in page
    assert page.count("<tr><td>a@1</td><td>live</td><td class=\"num\">3</td>") == 1


def test_a_refresh_waits_until_the_store_has_been_quiet(path):
    reader = StoreReader(path, quiet=0.3, max_delay=30)
    reader.read("k", _rules)
    changes = iter(range(10**9))
    busy_until = time.monotonic() + 1.0
    reader.signature = lambda: f"busy-{next(changes)}" if time.monotonic() < busy_until else "quiet"  # a writer
    opens = reader.opens
    assert reader.read("k", _rules).stale
    time.sleep(0.6)
    assert reader.opens == opens, "no read between a writer's commits"
    assert reader.settle()
    assert reader.opens == opens + 1 and time.monotonic() >= busy_until + 0.3
