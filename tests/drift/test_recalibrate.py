"""The recalibration job end to end: ingest -> evaluate -> injected drift -> recalibrate -> new version."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from policy_store.drift import list_events
from policy_store.drift.jobs import list_jobs, start_job
from policy_store.drift.recalibration import recalibrate

from policy_store.errors import JobLockedError
from policy_store.ingest import ingest_frame
from policy_store.replay import evaluate
from policy_store.rules import add_rule_version, rule_history

N_TRIALS, N_STEPS = 8, 10


def studies(prefix: str, n: int, *, late_bloomer: bool, seed: int) -> pd.DataFrame:
    """Loss curves (minimised). With ``late_bloomer`` the last trial looks worst until step 2, then best."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        levels = rng.uniform(0.5, 1.0, N_TRIALS)
        for t in range(N_TRIALS):
            for k in range(N_STEPS):
                value = levels[t] - 0.01 * k
                if late_bloomer and t == N_TRIALS - 1:
                    value = 2.0 if k < 2 else 0.1
                rows.append({"task": f"task-{prefix}", "study": f"{prefix}-{s:03d}", "trial": t, "step": k,
                             "value": value})  # fmt: skip
    return pd.DataFrame(rows)


def ingest_and_evaluate(store, frame: pd.DataFrame) -> None:
    ingest_frame(store, frame, direction="minimize")
    evaluate(store, "median", studies=sorted(frame["study"].unique()), orders=1)


@pytest.fixture
def drifted(file_store):
    store = file_store
    add_rule_version(store, "median", {"strategy": "median"}, created_by="test", reason="baseline")
    ingest_and_evaluate(store, studies("a", 80, late_bloomer=False, seed=0))
    return store


def test_no_drift_then_injected_drift_gives_a_new_version_with_provenance(drifted):
    store = drifted
    first = recalibrate(store, trigger="cron")
    assert first.status == "succeeded" and first.events == [] and first.rules_checked == ["median@1"]
    assert recalibrate(store, trigger="cron").status == "noop"

    ingest_and_evaluate(store, studies("b", 60, late_bloomer=True, seed=1))
    preview = recalibrate(store, dry_run=True)
    assert preview.status == "dry-run" and preview.promoted and preview.job_id is None
    assert store.scalar("SELECT count(*) FROM drift_events") == 0

    run = recalibrate(store, trigger="cron")
    assert run.status == "succeeded"
    assert [e["monitor"] for e in run.events][:1] == ["killed_best:PageHinkley"]
    [promoted] = run.promoted
    assert promoted["to_version"] == 2
    assert promoted["candidate"]["regret"] < promoted["current"]["regret"]

    v1, v2 = rule_history(store, "median")
    assert (v2.parent_version, v2.source, v2.job_id) == (1, "recalibration", run.job_id)
    assert v2.spec.params["n_warmup_steps"] >= 2, "the re-tuned rule waits past the late bloomers' dip"
    event = next(e for e in list_events(store, rule="median") if e.event_id == v2.drift_event_id)
    assert event.job_id == run.job_id and event.version == 1
    assert "drift in killed_best:PageHinkley" in v2.reason
    job = list_jobs(store, kind="recalibrate")[0]
    assert (job["job_id"], job["status"], job["trigger"]) == (run.job_id, "succeeded", "cron")
    assert job["result"]["promoted"][0]["to_version"] == 2
    # The new version's outcomes on the window are recorded; rerunning changes nothing.
    assert store.scalar("SELECT count(*) FROM outcomes WHERE rule = 'median' AND version = 2") > 0
    counts = store.row_counts()
    assert recalibrate(store).status == "noop"
    after = store.row_counts()
    assert {k: v for k, v in after.items() if k != "jobs"} == {k: v for k, v in counts.items() if k != "jobs"}


def test_a_running_job_locks_out_a_second_one(drifted):
    start_job(drifted, "recalibrate", trigger="other")
    with pytest.raises(JobLockedError, match="another recalibrate job is running"):
        recalibrate(drifted)


def test_a_dead_jobs_lock_is_reclaimed_and_its_work_redone(drifted):
    store = drifted
    ingest_and_evaluate(store, studies("b", 60, late_bloomer=True, seed=1))
    # A job whose process died (pid 2**22 + 1 cannot exist on Linux) left only its 'running' row.
    dead = start_job(store, "recalibrate", trigger="killed")
    owner = {"owner": {"host": json.loads(store.scalar("SELECT result FROM jobs"))["owner"]["host"], "pid": 2**22 + 1}}
    store.execute("UPDATE jobs SET result = ? WHERE job_id = ?", [json.dumps(owner), dead.job_id])
    run = recalibrate(store)
    assert run.promoted and rule_history(store, "median")[-1].version == 2
    statuses = {j["job_id"]: j["status"] for j in list_jobs(store)}
    assert statuses == {dead.job_id: "failed", run.job_id: "succeeded"}


def test_a_failing_job_writes_nothing_but_its_failure(drifted, monkeypatch):
    store = drifted
    ingest_and_evaluate(store, studies("b", 60, late_bloomer=True, seed=1))
    before = store.row_counts()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("policy_store.drift.recalibration.add_rule_version", boom)
    with pytest.raises(RuntimeError):
        recalibrate(store)
    after = store.row_counts()
    assert after["jobs"] == before["jobs"] + 1
    assert {k: v for k, v in after.items() if k != "jobs"} == {k: v for k, v in before.items() if k != "jobs"}
    assert list_jobs(store)[0]["status"] == "failed"
    monkeypatch.undo()
    assert recalibrate(store).promoted, "the next run does the work"
