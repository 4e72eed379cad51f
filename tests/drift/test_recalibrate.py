"""The recalibration job end to end: ingest -> evaluate -> injected drift -> recalibrate -> new version."""

from __future__ import annotations

import pytest
from policy_store.drift import list_events
from policy_store.drift.jobs import list_jobs, start_job
from policy_store.drift.recalibration import recalibrate

from policy_store import PolicyStore
from policy_store.errors import JobLockedError
from policy_store.rules import get_rule_version, list_rules, rule_history
from tests.drift.conftest import ingest_and_evaluate, store_from, studies


@pytest.fixture
def drifted(templates, tmp_path):
    """Before the drift: only task a's outcomes."""
    with PolicyStore(store_from(templates, "a", tmp_path)) as store:
        yield store


@pytest.fixture
def after_drift(templates, tmp_path):
    with PolicyStore(store_from(templates, "ab", tmp_path)) as store:
        yield store


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


def test_a_losing_candidate_is_a_rejected_version_linked_to_its_job_and_event(after_drift, monkeypatch, tmp_path):
    import dataclasses

    from policy_store.drift import retuning

    from policy_store.integrations import StorePruner

    store = after_drift
    # The same re-tuning, but its winner loses: the job must keep the current version and record the loser.
    monkeypatch.setattr("policy_store.drift.recalibration.retune",
                        lambda *a, **k: dataclasses.replace(retuning.retune(*a, **k), promoted=False))
    run = recalibrate(store, trigger="cron")
    assert run.status == "succeeded" and run.promoted == []
    [rejected] = run.rejected
    assert rejected["rejected_version"] == 2

    v1, v2 = rule_history(store, "median")
    assert (v2.status, v2.source, v2.parent_version, v2.job_id) == ("rejected", "recalibration", 1, run.job_id)
    assert v2.drift_event_id == rejected["drift_event_id"] and v2.created_by == f"recalibrate:{run.job_id}"
    assert v2.spec.spec_hash == rejected["candidate"]["spec_hash"] != v1.spec_hash
    assert "drift in killed_best:PageHinkley" in v2.reason and "window" in v2.reason and "rejected:" in v2.reason
    event = next(e for e in list_events(store, rule="median") if e.event_id == v2.drift_event_id)
    assert event.job_id == run.job_id and event.version == 1
    # ``median`` still names version 1; the rejected candidate has no outcomes for monitors to watch.
    assert get_rule_version(store, "median").ref == "median@1"
    assert StorePruner(store, rule="median", spool_dir=tmp_path / "spool").version.ref == "median@1"
    assert list_rules(store)[0]["latest_version"] == 1 and list_rules(store)[0]["n_rejected"] == 1
    assert store.scalar("SELECT count(*) FROM outcomes WHERE rule = 'median' AND version = 2") == 0
    assert list_jobs(store, kind="recalibrate")[0]["result"]["rejected"][0]["rejected_version"] == 2

    # The next job that promotes gets the next number and derives from the current version, not the loser.
    monkeypatch.undo()
    ingest_and_evaluate(store, studies("c", 60, late_bloomer=True, seed=2))
    assert recalibrate(store, trigger="cron").promoted[0]["to_version"] == 3
    assert [(v.version, v.parent_version, v.status) for v in rule_history(store, "median")] == [
        (1, None, "active"), (2, 1, "rejected"), (3, 1, "active")]
    assert get_rule_version(store, "median").version == 3


def test_a_running_job_locks_out_a_second_one(drifted):
    with drifted.lock("recalibrate"), pytest.raises(JobLockedError, match="held by another process or job"):
        recalibrate(drifted)


def test_a_dead_jobs_row_is_marked_abandoned_and_its_work_redone(after_drift):
    store = after_drift
    dead = start_job(store, "recalibrate", trigger="killed")  # its process died: only the 'running' row is left
    run = recalibrate(store)
    assert run.promoted and rule_history(store, "median")[-1].version == 2
    jobs = {j["job_id"]: j for j in list_jobs(store)}
    assert (jobs[dead.job_id]["status"], jobs[run.job_id]["status"]) == ("failed", "succeeded")
    assert jobs[dead.job_id]["result"]["error"].startswith("abandoned")


def test_a_failing_job_writes_nothing_but_its_failure(after_drift, monkeypatch):
    store = after_drift
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
