"""`policy-store check`: a healthy store passes; each kind of damage is found, named and exits 1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from policy_store.drift.events import DriftEvent, record_event
from policy_store.drift.jobs import finish_job, list_jobs, start_job
from policy_store.meta.features.store import save_meta_features
from policy_store.meta.learner.artifacts import save_artifact
from policy_store.meta.learner.store_records import fit_from_store
from policy_store.meta.recommend import recommend

from policy_store import PolicyStore
from policy_store.check import LIMIT, check_store
from policy_store.cli.main import main
from policy_store.ingest import ingest_frame
from policy_store.integrations import SpoolWriter, absorb_spool
from policy_store.replay.evaluate import evaluate
from policy_store.rules import add_rule_version
from tests.conftest import make_frame


def build_store(path: Path) -> dict:
    """A small store with a row in every table, written through the library as users write it."""
    with PolicyStore(path) as store:
        ingest_frame(store, make_frame(n_studies=2, n_trials=6, n_steps=5, task="task-a"))
        task_b = make_frame(n_studies=1, n_trials=6, n_steps=5, task="task-b", seed=1)
        ingest_frame(store, task_b.assign(peak_memory_mb=100.0 + task_b["step"]))  # curve_memory, outcome_resources
        for task, rows in (("task-a", 100.0), ("task-b", 50.0)):
            save_meta_features(store, task, {"n_rows": rows}, "dataset")
        model = fit_from_store(store, orders=1, n_estimators=5, directory=path.parent / "artifacts").model_id
        recommend(store, meta_features={"n_rows": 70.0}, task="task-c")
        v1 = add_rule_version(store, "median", {"strategy": "median"}, created_by="ann", reason="baseline")
        evaluate(store, "median", orders=2, record_decisions=True)
        with store.lock("recalibrate"):
            job = start_job(store, "recalibrate", trigger="test")
            event = DriftEvent.create(monitor="regret/cusum", rule="median", version=1, scope="all", statistic=2.0,
                                   threshold=1.0, window_start=datetime(2026, 1, 1), window_end=datetime(2026, 1, 2),
                                   at_outcome="o", detected_at=datetime(2026, 1, 2), job_id=job.job_id)

            def unit(s):
                record_event(s, event)
                add_rule_version(s, "median", {"strategy": "median", "params": {"n_warmup_steps": 2}},
                                 created_by=f"job:{job.job_id}", source="recalibration", reason="drift",
                                 meta_model_id=model, drift_event_id=event.event_id, job_id=job.job_id)
                finish_job(s, job, "succeeded", watermark=None, result={})

            store.run_atomic(unit)
        spool = path.parent / "spool"
        writer = SpoolWriter(spool)
        writer.append({"decision_id": "live-1", "study": "optuna-live", "trial": "0", "trial_number": 0, "step": 1,
                       "value": 0.5, "threshold": None, "ref_size": 0, "verdict": "continue", "reason": "warm-up",
                       "rule": "median", "version": 1, "spec_hash": v1.spec_hash,
                       "decided_at": "2026-01-01T00:00:00"})
        writer.close()
        absorb_spool(store, spool)
    return {"model": model, "job": job.job_id}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "store.duckdb"
    build_store(path)
    return path


@pytest.fixture
def damaged(pristine, tmp_path) -> Path:
    """A private copy of the pristine store (its artifact copied too, and re-pointed)."""
    path = tmp_path / "store.duckdb"
    shutil.copy(pristine, path)
    shutil.copytree(pristine.parent / "artifacts", tmp_path / "artifacts")
    with PolicyStore(path) as store:
        store.execute("UPDATE meta_models SET path = replace(path, ?, ?)", [str(pristine.parent), str(tmp_path)])
    return path


def found(path: Path) -> set[tuple[str, str]]:
    with PolicyStore(path, read_only=True) as store:
        return {(v.invariant, v.table) for v in check_store(store).violations}


def test_a_store_written_by_the_library_passes(pristine, capsys):
    with PolicyStore(pristine, read_only=True) as store:
        before = store.row_counts()
        report = check_store(store)
        assert report.ok, [v.line() for v in report.violations]
        assert report.checked == {"studies": 3, "points": 90, "rule_versions": 2, "artifacts": 1, "jobs": 1}
        assert min(before.values()) > 0  # every table holds a row, so every invariant had something to check
        assert store.row_counts() == before
    assert main(["--store", str(pristine), "check"]) == 0
    assert capsys.readouterr().out.startswith("ok: 3 studies (90 points)")


DAMAGE = {
    "point-changed": ("UPDATE curve_points SET value = value + 1e-9 WHERE step = 2 AND trial = '1'",
                      {("content-hash", "studies")}),
    "point-lost": ("DELETE FROM curve_points WHERE step = 4 AND trial = '0' AND study = 'task-b/study-0'",
                   {("content-hash", "studies"), ("content-hash", "trials"), ("orphan", "curve_memory")}),
    "memory-changed": ("UPDATE curve_memory SET peak_memory_mb = peak_memory_mb + 1 WHERE step = 3",
                       {("content-hash", "studies")}),
    "outcome-lost": ("DELETE FROM outcomes WHERE study = 'task-b/study-0'", {("orphan", "outcome_resources")}),
    "trial-state": ("UPDATE trials SET state = 'FAIL' WHERE trial = '2' AND study = 'task-a/study-0'",
                    {("content-hash", "studies")}),
    "task-direction": ("UPDATE tasks SET direction = 'maximize' WHERE task = 'task-b'", {("content-hash", "studies")}),
    "point-duplicated": ("INSERT INTO curve_points SELECT * FROM curve_points WHERE step = 0 AND trial = '0'",
                         {("duplicate-key", "curve_points"), ("content-hash", "studies"),
                          ("content-hash", "trials")}),
    "version-duplicated": ("INSERT INTO rule_versions SELECT * FROM rule_versions WHERE version = 1",
                           {("duplicate-key", "rule_versions")}),
    "version-gap": ("UPDATE rule_versions SET version = 3, parent_version = NULL WHERE version = 2",
                    {("provenance", "rule_versions")}),
    "version-lost": ("DELETE FROM rule_versions WHERE version = 1",
                     {("rule-version", "outcomes"), ("rule-version", "decisions"), ("rule-version", "drift_events"),
                      ("provenance", "rule_versions")}),
    "outcome-spec": ("UPDATE outcomes SET spec_hash = 'f00d' WHERE order_seed = 0", {("rule-version", "outcomes")}),
    "no-author": ("UPDATE rule_versions SET created_by = ' ' WHERE version = 2", {("provenance", "rule_versions")}),
    "bad-source": ("UPDATE rule_versions SET source = 'oracle' WHERE version = 2", {("provenance", "rule_versions")}),
    "spec-edited": ("UPDATE rule_versions SET spec = replace(spec, '2', '3') WHERE version = 2",
                    {("provenance", "rule_versions")}),
    "parent-missing": ("UPDATE rule_versions SET parent_version = 7 WHERE version = 2",
                       {("provenance", "rule_versions")}),
    "rule-lost": ("DELETE FROM rules", {("provenance", "rule_versions")}),
    "job-lost": ("DELETE FROM jobs", {("provenance", "rule_versions"), ("orphan", "drift_events")}),
    "event-lost": ("DELETE FROM drift_events", {("provenance", "rule_versions")}),
    "model-lost": ("DELETE FROM meta_models", {("provenance", "rule_versions"), ("orphan", "recommendations")}),
    "study-lost": ("DELETE FROM studies WHERE study = 'task-a/study-1'",
                   {("orphan", "curve_points"), ("orphan", "trials"), ("orphan", "outcomes"),
                    ("orphan", "decisions")}),
    "task-lost": ("DELETE FROM tasks WHERE task = 'task-a'", {("orphan", "studies"), ("content-hash", "studies")}),
    "recommendation-orphan": ("INSERT INTO recommendations VALUES ('r1', 'task-a', 'meta-0000', '{}', '{}', NULL, "
                              "NULL, now())", {("orphan", "recommendations")}),
    "migration-twice": ("INSERT INTO schema_version SELECT * FROM schema_version",
                        {("duplicate-key", "schema_version")}),
    "job-status": ("UPDATE jobs SET status = 'paused'", {("job", "jobs")}),
    "job-not-ended": ("UPDATE jobs SET ended_at = NULL", {("job", "jobs")}),
    # A job left 'running' whose lock nobody holds, yet its rule version and drift event are committed.
    "job-left-running": ("UPDATE jobs SET status = 'running', ended_at = NULL", {("job", "jobs")}),
    "two-running": ("INSERT INTO jobs VALUES ('job-a', 'copy', 'running', NULL, now(), NULL, NULL, NULL), "
                    "('job-b', 'copy', 'running', NULL, now(), NULL, NULL, NULL)", {("job", "jobs")}),
    # Names that reached the store past ingest's rule (an older version, a hand edit): an escape, a newline.
    "task-name-escape": ("INSERT INTO tasks SELECT 'evil' || chr(27) || '[2J', * EXCLUDE (task) FROM tasks "
                         "WHERE task = 'task-b'", {("name", "tasks")}),
    "decision-trial-newline": ("UPDATE decisions SET trial = trial || chr(10) WHERE mode = 'live'",
                               {("name", "decisions")}),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_each_kind_of_damage_is_found(damaged, name):
    sql, expected = DAMAGE[name]
    with PolicyStore(damaged) as store:
        store.execute(sql)
    assert found(damaged) == expected


def test_a_tampered_lost_or_swapped_artifact_is_found(damaged, tmp_path):
    with PolicyStore(damaged) as store:
        (path,) = [Path(p) for (p,) in store.execute("SELECT path FROM meta_models").fetchall()]
        other = save_artifact(store, {"weights": [3, 2, 1]}, directory=tmp_path / "other")
        store.execute("DELETE FROM meta_models WHERE model_id = ?", [other])
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    assert found(damaged) == {("artifact", "meta_models")}
    shutil.copy(tmp_path / "other" / f"{other}.pkl", path)  # a valid artifact of another model in its place
    assert found(damaged) == {("artifact", "meta_models")}
    path.unlink()
    with PolicyStore(damaged, read_only=True) as store:
        (violation,) = check_store(store).violations
    assert "cannot be read" in violation.detail and violation.key.startswith("meta-")
    path.write_bytes(original)
    assert found(damaged) == set()


def test_a_store_without_its_schema_rows_is_refused_cleanly(damaged, capsys):
    with PolicyStore(damaged) as store:
        store.execute("DELETE FROM schema_version")
    assert main(["--store", str(damaged), "check"]) == 1
    assert capsys.readouterr().err.startswith(f"Error: store {str(damaged)!r} is at schema version 0")


def test_cli_lists_every_violation_and_exits_1(damaged, capsys):
    with PolicyStore(damaged) as store:
        store.execute("UPDATE rule_versions SET created_by = '' ")
        store.execute("UPDATE curve_points SET value = 0.5 WHERE step = 3")
    assert main(["--store", str(damaged), "check"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("FAILED: ") and lines[-1].endswith("5 violations")
    assert sorted(lines[:-1]) == [
        "content-hash studies[task-a/study-0]: " + lines[0].split(": ", 1)[1],
        *sorted(lines[1:3]),
        "provenance rule_versions[median@1]: created_by is empty: who or what made this version is not recorded",
        "provenance rule_versions[median@2]: created_by is empty: who or what made this version is not recorded",
    ]
    assert main(["--store", str(damaged), "check", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False and len(payload["violations"]) == 5
    assert set(payload["violations"][0]) == {"invariant", "table", "key", "detail"}


def test_many_violations_are_listed_up_to_the_limit_then_counted(damaged):
    with PolicyStore(damaged) as store:
        store.execute("INSERT INTO tasks SELECT 'x' || i, NULL, 'minimize', now() FROM range(?) t(i)", [LIMIT + 7])
        store.execute("INSERT INTO tasks SELECT * FROM tasks WHERE task LIKE 'x%'")
        report = check_store(store)
    assert len(report.violations) == LIMIT + 1
    assert report.violations[-1].key == "*" and report.violations[-1].detail.startswith("7 more rows")


def test_a_running_job_holding_its_lock_is_fine(damaged):
    with PolicyStore(damaged) as store, store.lock("recalibrate"):
        start_job(store, "recalibrate", trigger="live")
        report = check_store(store)
        assert report.ok and report.abandoned_jobs == []


def test_a_sigkilled_job_leaves_an_abandoned_row_not_a_violation(damaged):
    # The job commits its 'running' row, then dies by SIGKILL before its unit of work commits.
    code = textwrap.dedent(f"""
        import os, signal
        from policy_store import PolicyStore
        from policy_store.drift.jobs import start_job
        from policy_store.rules import add_rule_version
        store = PolicyStore({str(damaged)!r})
        with store.lock("recalibrate"):
            job = start_job(store, "recalibrate", trigger="doomed")
            with store.atomic():
                add_rule_version(store, "median", {{"strategy": "median", "params": {{"n_warmup_steps": 4}}}},
                                 created_by="job", source="recalibration", job_id=job.job_id)
                os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, cwd=damaged.parent,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with PolicyStore(damaged) as store:
        report = check_store(store)
        (dead,) = [j["job_id"] for j in list_jobs(store) if j["status"] == "running"]
        assert report.ok and report.abandoned_jobs == [dead]
        with store.lock("recalibrate"):  # the next job of its kind marks it failed
            finish_job(store, start_job(store, "recalibrate"), "noop", watermark=None, result={})
        report = check_store(store)
    assert report.ok and report.abandoned_jobs == []


def test_check_flags_a_running_job_that_ended_and_a_job_ending_before_it_started(damaged):
    with PolicyStore(damaged) as store:
        store.execute("INSERT INTO jobs VALUES ('job-x', 'copy', 'running', NULL, now(), now(), NULL, NULL), "
                      "('job-y', 'copy', 'succeeded', NULL, now(), now() - INTERVAL 1 HOUR, NULL, NULL)")
        lines = [v.line() for v in check_store(store).violations]
    assert any(line.startswith("job jobs[job-x]: running, yet it ended at ") for line in lines), lines
    assert any(line.startswith("job jobs[job-y]: ended at ") and "before it started" in line for line in lines)


def test_check_creates_no_lock_file(damaged, capsys):
    with PolicyStore(damaged) as store:
        store.execute("INSERT INTO jobs VALUES ('job-a', 'copy', 'running', NULL, now(), NULL, NULL, NULL)")
    before = sorted(p.name for p in damaged.parent.iterdir())
    assert main(["--store", str(damaged), "check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["abandoned_jobs"] == ["job-a"]
    assert sorted(p.name for p in damaged.parent.iterdir()) == before
    assert not list(damaged.parent.glob("*.lock-*"))
