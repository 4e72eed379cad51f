"""The load run shared by ``tests/reliability/test_load.py`` and ``benchmarks/reliability_load.py``.

``run_load`` starts N Optuna worker processes (``load_worker.py``) on ONE study in a JournalStorage file, every
one pruned by ``StorePruner`` on the same store (embedded file or DuckLake), while a side process runs
``policy-store recalibrate`` and ``policy-store report`` one after the other in a loop. When the workers are done
it absorbs their spools with ``StorePruner.finish`` and counts: every ``should_prune`` call of every worker must be
exactly one recorded decision (none lost, none duplicated).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from policy_store import PolicyStore
from policy_store.replay import evaluate
from policy_store.rules import add_rule_version

WORKER = Path(__file__).with_name("load_worker.py")
REPO = Path(__file__).parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
MEDIAN = {"strategy": "median", "params": {"n_startup_trials": 5, "n_warmup_steps": 1}}

# The side jobs: recalibrate, then a report, until told to stop; one JSON line of exit codes per round.
SIDE = """
import json, pathlib, subprocess, sys
location, out_dir, stop, log = sys.argv[1:5]
cli = [sys.executable, "-m", "policy_store"]
while not pathlib.Path(stop).exists():
    for name, args in (("recalibrate", ["recalibrate", "--trigger", "load-test"]),
                       ("report", ["report", "--out", out_dir])):
        done = subprocess.run([*cli, "--store", location, *args], capture_output=True, text=True)
        with open(log, "a") as f:
            f.write(json.dumps({"job": name, "rc": done.returncode, "err": done.stderr[-300:]}) + "\\n")
"""


@dataclass
class LoadResult:
    """What one load run measured."""

    kind: str
    workers: int
    trials_per_worker: int
    calls: int = 0
    recorded: int = 0
    distinct_ids: int = 0
    distinct_points: int = 0
    trials_recorded: int = 0
    lost: int = 0
    duplicated: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    wall_s: float = 0.0
    side_jobs: dict[str, dict[str, int]] = field(default_factory=dict)
    side_errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def check_ok(location: str) -> bool | None:
    """``policy-store check`` on the store after the run: True/False, None where the checker is not merged yet."""
    try:
        from policy_store.check import check_store
    except ImportError:
        return None
    with PolicyStore(location, read_only=True) as store:
        return check_store(store).ok


def prepare(location: str, *, bundled: bool = True) -> None:
    """The rule the workers apply, and a history for the side jobs to read: studies with replayed outcomes.

    ``bundled``: the 12 bundled real sklearn training runs; else a few small synthetic studies (quick).
    """
    from policy_store.datasets import ingest_bundled

    from policy_store.ingest import ingest_frame
    from tests.conftest import make_frame

    with PolicyStore(location) as store:
        version = add_rule_version(store, "median", MEDIAN, created_by="tests/reliability/load.py")
        if bundled:
            ingest_bundled(store)
        else:
            ingest_frame(store, make_frame(n_studies=4, n_trials=8, n_steps=6, task="history"))
        evaluate(store, version, orders=2)


def run_load(location: str, work: Path, *, workers: int, trials: int, timeout: float = 600.0) -> LoadResult:
    """Run the load (see the module docstring) on a prepared store; ``work`` holds journal, spool and logs."""
    import optuna

    from policy_store.integrations import StorePruner

    work.mkdir(parents=True, exist_ok=True)
    journal = str(work / "journal.log")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    study = optuna.create_study(study_name="load", storage=storage)
    spool = str(work / "spool")
    stop, side_log = work / "stop", work / "side.jsonl"
    result = LoadResult("lake" if location.startswith("ducklake:") else "file", workers, trials)
    started = time.perf_counter()
    side = subprocess.Popen([sys.executable, "-c", SIDE, location, str(work / "report"), str(stop), str(side_log)],
                            env=ENV, stderr=subprocess.PIPE)
    outs = [str(work / f"worker-{i}.json") for i in range(workers)]
    procs = [subprocess.Popen([sys.executable, str(WORKER), journal, "load", location, spool, str(trials), str(i),
                               out], env=ENV, stderr=subprocess.PIPE) for i, out in enumerate(outs)]
    try:
        for p in procs:
            p.wait(timeout=max(timeout - (time.perf_counter() - started), 1.0))
            assert p.returncode == 0, p.stderr.read().decode()[-2000:]
    finally:
        stop.touch()
        for p in procs:
            if p.poll() is None:
                p.kill()
        side.wait(timeout=300)
    result.wall_s = time.perf_counter() - started
    logs = [json.loads(Path(o).read_text()) for o in outs]
    result.calls = sum(log["calls"] for log in logs)
    nanos = np.concatenate([np.asarray(log["nanos"], dtype=np.int64) for log in logs]) / 1e6
    result.p50_ms, result.p99_ms = (float(np.percentile(nanos, q)) for q in (50, 99))
    result.max_ms = float(nanos.max())
    for line in side_log.read_text().splitlines() if side_log.exists() else []:
        job = json.loads(line)
        counts = result.side_jobs.setdefault(job["job"], {})
        counts[str(job["rc"])] = counts.get(str(job["rc"]), 0) + 1
        if job["rc"] not in (0, 75):  # 75: the recalibration lock or the file's write lock was busy (try later)
            result.side_errors.append(f"{job['job']} exit {job['rc']}: {job['err']}")
    # The coordinator absorbs everything the workers spooled and records the study, in one transaction.
    StorePruner(location, task="breast-cancer-sgd", rule="median@1", spool_dir=spool, timeout=300).finish(study)
    with PolicyStore(location, read_only=True) as store:
        q = "SELECT count(*), count(DISTINCT decision_id), count(DISTINCT (trial_number, step)) FROM decisions " \
            "WHERE study = 'load' AND mode = 'live'"
        result.recorded, result.distinct_ids, result.distinct_points = store.execute(q).fetchone()
        result.trials_recorded = store.scalar("SELECT count(*) FROM trials WHERE study = 'load'")
        recorded = {tuple(r) for r in store.execute(
            "SELECT trial_number, step FROM decisions WHERE study = 'load' AND mode = 'live'").fetchall()}
    expected = {(int(t), int(s)) for log in logs for t, s in log["points"]}
    result.lost = len(expected - recorded)
    result.duplicated = result.recorded - result.distinct_points
    return result
