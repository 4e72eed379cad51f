"""`policy-store recalibrate` and `policy-store drift ...`: output, exit codes, concurrency, SIGKILL."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from policy_store.drift import list_jobs

from policy_store import PolicyStore
from policy_store.cli import main as cli
from policy_store.rules import rule_history
from tests.drift.conftest import store_from

# Until main.COMMAND_MODULES lists drift_cmds, tests (and subprocesses) add it themselves.
ENTRY = textwrap.dedent(
    """
    import sys
    from policy_store.cli import main
    if "drift_cmds" not in main.COMMAND_MODULES:
        main.COMMAND_MODULES = (*main.COMMAND_MODULES, "drift_cmds")
    {before}
    sys.exit(main.main(sys.argv[1:]))
    """
)


@pytest.fixture
def run(monkeypatch, capsys):
    if "drift_cmds" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "drift_cmds"))

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return invoke


@pytest.fixture
def drifted_path(templates, tmp_path):
    return store_from(templates, "ab", tmp_path)


def spawn(path: str, *argv: str, before: str = "") -> subprocess.Popen:
    code = ENTRY.format(before=textwrap.indent(before, "").strip())
    return subprocess.Popen(
        [sys.executable, "-c", code, "--store", path, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_recalibrate_then_events_and_jobs(run, drifted_path):
    code, out, _ = run("--store", drifted_path, "recalibrate", "--dry-run")
    assert code == 0 and "(dry run: nothing written)" in out and "would promote a new version of median" in out
    code, out, _ = run("--store", drifted_path, "recalibrate", "--trigger", "cron")
    assert code == 0
    assert "drift: killed_best:glr on median@1: changed from study b-000" in out and "did promote median@2" in out
    code, out, _ = run("--store", drifted_path, "recalibrate", "--json")
    assert code == 0 and json.loads(out)["status"] == "noop"
    code, out, _ = run("--store", drifted_path, "recalibrate")
    assert code == 0 and out.startswith("nothing new since the last run")
    code, out, _ = run("--store", drifted_path, "drift", "events", "--json")
    assert [(e["rule"], e["origin"], e["status"]) for e in json.loads(out)] == [("median", "scheduled", "promoted")]
    code, out, _ = run("--store", drifted_path, "drift", "jobs")
    assert code == 0 and "succeeded" in out and "noop" in out
    # The scheduled run's result as `rules history` shows it: the chain with its provenance.
    code, out, _ = run("--store", drifted_path, "rules", "history", "median", "--json")
    v1, v2 = json.loads(out)
    assert (v2["parent_version"], v2["source"]) == (1, "recalibration")
    assert v2["drift_event_id"] and v2["job_id"] and v2["reason"].startswith("drift in killed_best of median@1")


def test_no_drift_is_said_plainly(run, templates, tmp_path):
    path = store_from(templates, "a", tmp_path)
    code, out, _ = run("--store", path, "recalibrate", "--trigger", "cron")
    assert code == 0 and out.startswith("no drift in median@1 (job ") and "succeeded" not in out
    code, out, _ = run("--store", path, "drift", "check", "--rule", "median")
    assert code == 0 and out.startswith("no drift in killed_best:cusum of median@1 (all): 60 studies watched")


@pytest.mark.parametrize("detector", ["page-hinkley", "cusum"])
def test_the_readme_check_fires_on_relative_regret(run, drifted_path, detector):
    code, out, _ = run("--store", drifted_path, "drift", "check", "--rule", "median", "--metric", "regret",
                       "--detector", detector)  # fmt: skip
    assert code == 0 and out.startswith(f"drift in regret:{detector} of median@1 (all): changed from study b-0")
    assert "calibrated to 1000 studies per false alarm on 20 reference studies" in out


def test_drift_check(run, drifted_path):
    code, out, _ = run("--store", drifted_path, "drift", "check", "--rule", "median", "--dry-run", "--json")
    payload = json.loads(out)
    assert code == 0 and payload["status"] == "drift" and payload["monitor"] == "killed_best:cusum"
    assert payload["change_study"] == "b-000" and payload["event_id"]
    code, out, _ = run("--store", drifted_path, "drift", "check", "--rule", "median", "--task", "task-a", "--json")
    assert json.loads(out)["status"] == "no drift" and json.loads(out)["scope"] == "task:task-a"


def test_bad_usage_exits_2(run, drifted_path):
    with pytest.raises(SystemExit) as info:
        run("--store", drifted_path, "drift", "check", "--rule", "median", "--metric", "accuracy")
    assert info.value.code == 2


@pytest.mark.slow
def test_two_processes_started_together_exactly_one_does_the_work(drifted_path):
    procs = [spawn(drifted_path, "recalibrate", "--json") for _ in range(2)]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes in ([0, 0], [0, 75]), results
    done = [json.loads(out) for code, out, _ in results if code == 0]
    assert sum(bool(r["promoted"]) for r in done) == 1
    if codes == [0, 75]:
        assert "Error: another" in next(err for code, _, err in results if code == 75)
    with PolicyStore(drifted_path) as store:
        assert [v.version for v in rule_history(store, "median")] == [1, 2]


@pytest.mark.slow
def test_sigkill_mid_job_leaves_no_partial_version_and_the_next_run_finishes(drifted_path):
    # Die by SIGKILL right after the new version's row is written, before the transaction commits.
    before = """
    import os, signal
    import policy_store.drift.recalibration as r
    original = r.add_rule_version
    def add_then_die(*a, **k):
        original(*a, **k)
        os.kill(os.getpid(), signal.SIGKILL)
    r.add_rule_version = add_then_die
    """
    proc = spawn(drifted_path, "recalibrate", before=textwrap.dedent(before))
    assert proc.wait(timeout=300) == -9
    with PolicyStore(drifted_path) as store:
        assert [v.version for v in rule_history(store, "median")] == [1]
        assert store.scalar("SELECT count(*) FROM drift_events") == 0
        assert [j["status"] for j in list_jobs(store)] == ["running"]
    finish = spawn(drifted_path, "recalibrate", "--json")
    assert finish.wait(timeout=300) == 0, finish.stderr.read()
    assert json.loads(finish.stdout.read())["promoted"][0]["to_version"] == 2
    with PolicyStore(drifted_path) as store:
        assert [v.version for v in rule_history(store, "median")] == [1, 2]
        assert sorted(j["status"] for j in list_jobs(store)) == ["failed", "succeeded"]
