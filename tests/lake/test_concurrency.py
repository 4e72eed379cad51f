"""Many writers on one lake: conflicts re-run whole units, nothing is lost or duplicated, locks have one holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policy_store import JobLockedError, PolicyStore
from policy_store.ingest import ingest_frame
from policy_store.store import CommitConflictError, utcnow
from tests.conftest import make_frame

WORKER = Path(__file__).with_name("lake_worker.py")
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}


def _insert_rule(store: PolicyStore, name: str) -> None:
    store.fence()
    if not store.scalar("SELECT count(*) FROM rules WHERE rule = ?", [name]):
        store.execute("INSERT INTO rules VALUES (?, ?, ?)", [name, None, utcnow()])


def test_a_conflicting_commit_re_runs_the_whole_unit(new_lake):
    location = new_lake()
    with PolicyStore(location) as a, PolicyStore(location) as b:
        attempts = []

        def unit(store: PolicyStore) -> None:
            attempts.append(1)
            _insert_rule(store, "shared")
            if len(attempts) == 1:  # another host commits the same key while this unit is open
                b.run_atomic(lambda s: _insert_rule(s, "shared"))

        a.run_atomic(unit)
        assert len(attempts) == 2
        assert a.scalar("SELECT count(*) FROM rules WHERE rule = 'shared'") == 1


def test_a_conflict_on_every_attempt_is_an_error_and_writes_nothing(new_lake):
    location = new_lake()
    with PolicyStore(location) as a, PolicyStore(location) as b:

        def unit(store: PolicyStore) -> None:
            _insert_rule(store, "mine")
            b.run_atomic(lambda s: s.fence())

        with pytest.raises(CommitConflictError, match="after 3 attempts"):
            a.run_atomic(unit, attempts=3)
        assert a.scalar("SELECT count(*) FROM rules") == 0


# Holds the lock without keeping the store open (an embedded file takes one process at a time).
HOLDER = """
import sys, time
from policy_store.location import parse_location
from policy_store.locks import hold_lock
with hold_lock(parse_location(sys.argv[1]), "recalibration"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_lock_has_one_holder_across_processes_and_dies_with_it(location):
    PolicyStore(location).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, location], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "held"
        with PolicyStore(location) as store:
            with pytest.raises(JobLockedError, match="'recalibration'"), store.lock("recalibration", wait=0.3):
                pass
            holder.send_signal(signal.SIGKILL)
            with store.lock("recalibration", wait=10), pytest.raises(JobLockedError), store.lock("recalibration"):
                pass
    finally:
        holder.kill()
        holder.wait(timeout=30)


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), *args], env=ENV, stderr=subprocess.PIPE)


@pytest.mark.campaign  # ~1 min of processes racing on a lake
def test_live_studies_and_an_ingest_at_once_one_killed(new_lake, tmp_path):
    from policy_store.rules import add_rule_version

    location = new_lake()
    with PolicyStore(location) as store:
        add_rule_version(store, "median", {"strategy": "median", "params": {"n_startup_trials": 5}}, created_by="t")
        ingest_frame(store, make_frame(n_studies=1, task="before"))
        before = store.row_counts()
    spool = str(tmp_path / "spool")
    outs = {f"live-{i}": str(tmp_path / f"calls-{i}") for i in range(7)}
    procs = {name: _spawn("study", location, name, f"{spool}-{name}", "30", out) for name, out in outs.items()}
    killed_out = str(tmp_path / "calls-killed")
    procs["killed"] = _spawn("study", location, "killed", f"{spool}-killed", "30", killed_out, "40")
    procs["ingest"] = _spawn("ingest", location, "ingested", str(tmp_path / "ingest"))
    deadline = time.monotonic() + 120
    while not Path(killed_out + ".ready").exists():
        assert procs["killed"].poll() is None, procs["killed"].stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    procs["killed"].send_signal(signal.SIGKILL)
    for name, proc in procs.items():
        code = proc.wait(timeout=180)
        assert code == (-signal.SIGKILL if name == "killed" else 0), proc.stderr.read().decode()
    calls = {name: int(Path(out).read_text()) for name, out in outs.items()}
    with PolicyStore(location, read_only=True) as store:
        per_study = dict(store.execute("SELECT study, count(*) FROM decisions GROUP BY study").fetchall())
        assert per_study == calls  # every should_prune recorded once; nothing of the killed study
        assert store.scalar("SELECT count(DISTINCT decision_id) FROM decisions") == sum(calls.values())
        studies = dict(store.execute("SELECT study, count(*) FROM studies GROUP BY study").fetchall())
        assert set(studies) == {*calls, "before/study-0", *(f"ingested/study-{i}" for i in range(3))}
        assert set(studies.values()) == {1}
        assert store.scalar("SELECT count(*) FROM outcomes WHERE mode = 'live'") == 7
        assert store.scalar("SELECT count(*) FROM trials WHERE study = 'killed'") == 0
        assert store.scalar("SELECT count(*) FROM curve_points WHERE study LIKE 'ingested/%'") == 3 * 5 * 6
        assert store.row_counts()["rules"] == before["rules"]


@pytest.mark.campaign  # ~1 min of processes racing on a lake
def test_workers_adding_one_rule_version_and_its_outcomes_at_once_write_each_row_once(new_lake, tmp_path):
    location = new_lake()
    with PolicyStore(location) as store:
        ingest_frame(store, make_frame(n_studies=3, n_trials=4, n_steps=5, task="shared-task"))
    go = tmp_path / "go"
    outs = [str(tmp_path / f"version-{i}") for i in range(4)]
    procs = [_spawn("version", location, str(go), out) for out in outs]
    try:
        deadline = time.monotonic() + 120
        while not all(Path(out + ".ready").exists() for out in outs):
            assert all(p.poll() is None for p in procs), [p.stderr.read().decode() for p in procs]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        go.write_text("go")  # every worker has its store open: they check for the rule and insert at once
        for proc in procs:
            assert proc.wait(timeout=180) == 0, proc.stderr.read().decode()
    finally:
        for proc in procs:
            proc.kill()
    results = [Path(out).read_text().split() for out in outs]
    assert {v for v, _ in results} == {"1"}, "every worker resolved the one version"
    with PolicyStore(location, read_only=True) as store:
        assert store.execute("SELECT rule, version, status FROM rule_versions").fetchall() == [("shared", 1, "active")]
        assert store.scalar("SELECT count(*) FROM rules WHERE rule = 'shared'") == 1
        n_outcomes = 3 * 2  # studies x orders
        assert store.scalar("SELECT count(*) FROM outcomes") == n_outcomes
        assert store.scalar("SELECT count(DISTINCT outcome_id) FROM outcomes") == n_outcomes
        assert sum(int(n) for _, n in results) == n_outcomes, "each outcome was new to exactly one worker"
        assert store.scalar("SELECT count(*) FROM decisions") == store.scalar(
            "SELECT count(DISTINCT decision_id) FROM decisions") == n_outcomes * 4  # one per trial and replay
