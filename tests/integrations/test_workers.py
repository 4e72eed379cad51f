"""Many worker processes on one study: no lost or duplicated decision; SIGKILL loses at most the in-flight one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from policy_store import PolicyStore, StoreError
from policy_store.integrations import StorePruner, absorb_spool

from .conftest import WORKER

TASK = "breast-cancer-sgd"


def _storage(tmp_path):
    journal = str(tmp_path / "journal.log")
    return journal, optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))


def _spawn(tmp_path, journal, study, store_path, index, n_trials, *extra):
    out = str(tmp_path / f"calls-{index}")
    args = [sys.executable, str(WORKER), journal, study, store_path, "median@1", str(n_trials), out, *extra]
    return subprocess.Popen(args, stderr=subprocess.PIPE), out


def test_four_workers_lose_and_duplicate_nothing(tmp_path, store_path):
    journal, storage = _storage(tmp_path)
    study = optuna.create_study(study_name="shared", storage=storage)
    procs = [_spawn(tmp_path, journal, "shared", store_path, i, 25) for i in range(4)]
    for p, _ in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()
    calls = sum(int(Path(out).read_text()) for _, out in procs)
    assert len(list(Path(store_path + ".spool").glob("*.jsonl"))) == 4
    pruner = StorePruner(store_path, task=TASK, rule="median@1")
    outcome = pruner.finish(study)
    assert outcome["decisions_absorbed"] == calls
    assert list(Path(store_path + ".spool").iterdir()) == []
    with PolicyStore(store_path, read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM decisions WHERE study = 'shared'") == calls
        assert store.scalar("SELECT count(DISTINCT decision_id) FROM decisions") == calls
        # one decision per (trial, step): every call of the 100 trials is there once
        assert store.scalar("SELECT count(DISTINCT (trial_number, step)) FROM decisions") == calls
        assert store.scalar("SELECT count(DISTINCT trial_number) FROM decisions") == 100
        assert store.scalar("SELECT n_trials FROM outcomes WHERE study = 'shared' AND mode = 'live'") == 100
        pruned = store.scalar("SELECT count(*) FROM decisions WHERE verdict = 'prune'")
        assert pruned == store.scalar("SELECT count(*) FROM trials WHERE study = 'shared' AND state = 'PRUNED'") > 0


def test_sigkill_loses_nothing_recorded_before(tmp_path, store_path):
    journal, storage = _storage(tmp_path)
    optuna.create_study(study_name="killed", storage=storage)
    proc, out = _spawn(tmp_path, journal, "killed", store_path, 9, 25, "--hang-after", "20")
    ready = Path(out + ".ready")
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "worker never reached its 20th decision"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    spooled = list(Path(store_path + ".spool").iterdir())
    assert len(spooled) == 1 and spooled[0].name.endswith(".jsonl.part")  # never closed
    with PolicyStore(store_path) as store:
        report = absorb_spool(store, store_path + ".spool")
        assert (report.inserted, report.torn, report.bad) == (20, 0, 0)
        assert report.removed == [spooled[0].name]  # its writer is gone: no record can follow
        assert store.scalar("SELECT count(*) FROM decisions WHERE study = 'killed'") == 20
        assert absorb_spool(store, store_path + ".spool").records == 0


@pytest.mark.parametrize("tail", [b'{"decision_id": "x", "stu', b"not json\n"])
def test_a_torn_or_corrupt_line_is_skipped(worker, store_path, tail):
    pruner = StorePruner(store_path, task=TASK, rule="median@1")
    study = optuna.create_study(study_name="torn", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(worker.objective, n_trials=2)
    pruner.close()
    (spool,) = Path(pruner.spool_dir).iterdir()
    with open(spool, "ab") as f:
        f.write(tail)
    with PolicyStore(store_path) as store:
        report = absorb_spool(store, spool.parent)
        assert report.inserted == pruner.calls == 16
        assert (report.torn, report.bad) == ((1, 0) if not tail.endswith(b"\n") else (0, 1))


def test_rule_resolution_waits_for_a_writer_then_gives_up(tmp_path, store_path):
    ready = tmp_path / "locked"
    hold = ("import sys, time, pathlib; from policy_store import PolicyStore\n"
            "s = PolicyStore(sys.argv[1]); pathlib.Path(sys.argv[2]).touch(); time.sleep(float(sys.argv[3]))")
    proc = subprocess.Popen([sys.executable, "-c", hold, store_path, str(ready), "1.5"])
    while not ready.exists():
        assert proc.poll() is None
        time.sleep(0.02)
    with pytest.raises(StoreError, match="lock"):
        StorePruner(store_path, task=TASK, rule="median@1", timeout=0.2)
    assert StorePruner(store_path, task=TASK, rule="median@1", timeout=30).version.ref == "median@1"
    assert proc.wait(timeout=30) == 0
