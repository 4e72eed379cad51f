"""The crash matrix, quick subset: every writing command SIGKILLed once on the file store, and on a lake.

Each case: prepare the command's store and inputs, run it uninterrupted for the reference, run it again on a
fresh copy with ``POLICY_STORE_FAULT`` killing it at its last commit (everything done but the commit), run
``check_store`` (must be ok), rerun to completion and compare the canonical projection with the reference.
The long campaign (every boundary, random delays, both store kinds): ``benchmarks/reliability.py``.
"""

from __future__ import annotations

import json
import os

import pytest

from policy_store import PolicyStore
from tests.lake.conftest import postgres  # noqa: F401 - the fixture of the lake cases
from tests.reliability.harness import ForkServer, HungError, Matrix, run_command, warm_imports
from tests.reliability.scenarios import BY_NAME, SCENARIOS

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the crash matrix forks its children")


@pytest.fixture(scope="module", autouse=True)
def warm():
    warm_imports()


def _rule_versions(path) -> int:
    with PolicyStore(path, read_only=True) as store:
        return store.row_counts()["rule_versions"]


def test_the_fault_hook_kills_at_the_named_commit_only(tmp_path):
    path = tmp_path / "store.duckdb"
    PolicyStore(path).close()
    argv = ["--store", str(path), "rules", "add", "r", "--spec", json.dumps({"strategy": "median"}),
            "--created-by", "t"]
    killed = run_command(argv, tmp_path / "a", fault="before-commit:1")
    assert killed.killed and _rule_versions(path) == 0
    killed = run_command(argv, tmp_path / "b", fault="after-commit:1")
    assert killed.killed and _rule_versions(path) == 1
    # A boundary the command never reaches: it runs to the end (an identical spec adds no version).
    done = run_command(argv, tmp_path / "c", fault="after-commit:2")
    assert (done.code, done.commits, _rule_versions(path)) == (0, 1, 1)
    other = {"strategy": "percentile", "params": {"percentile": 25.0}}
    bad = run_command([*argv[:6], json.dumps(other), *argv[7:]], tmp_path / "d",
                      fault="commit:1")
    assert bad.code == 1 and bad.stderr.startswith("Error: field 'POLICY_STORE_FAULT'") and not bad.unhandled
    assert _rule_versions(path) == 1


# 0 s: the timeout expires before the child can have set up its stack dump (as a loaded machine makes 50 ms).
@pytest.mark.parametrize("timeout", [0.05, 0.0])
def test_children_fork_from_the_fork_server_and_a_hung_one_reports_its_stacks(tmp_path, timeout):
    server = ForkServer.current
    assert server is not None and os.waitpid(server.pid, os.WNOHANG) == (0, 0)  # started, alive
    path = tmp_path / "store.duckdb"
    PolicyStore(path).close()
    # Ingesting the bundled curves takes far longer than 50 ms: with that timeout the run counts as hung.
    with pytest.raises(HungError) as caught:
        run_command(["--store", str(path), "datasets", "ingest", "bundled"], tmp_path / "out", timeout=timeout)
    message = str(caught.value)
    assert f"still ran after {timeout} s" in message
    assert "most recent call first" in message  # faulthandler's dump of the child's Python stacks
    assert ForkServer.current is server and os.waitpid(server.pid, os.WNOHANG) == (0, 0)  # it serves on


def _kill_at_the_last_commit(matrix: Matrix) -> None:
    try:
        matrix.reference(verify=False)
        tally = matrix.crash(fault=f"before-commit:{matrix.reference_commits}")
        assert tally.failures == []
        assert (tally.kills, tally.reruns_equal, tally.violations, tally.unhandled) == (1, 1, 0, 0)
    finally:
        matrix.close()


@pytest.mark.campaign  # every writing command, reference + kill + rerun
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.slug)
def test_file_store_killed_at_its_last_commit_checks_ok_and_the_rerun_equals_an_uninterrupted_run(
    scenario, tmp_path
):
    _kill_at_the_last_commit(Matrix(scenario, "file", tmp_path / "matrix"))


@pytest.mark.campaign  # every writing command, reference + kill + rerun
@pytest.mark.lake
@pytest.mark.parametrize("name", ["rules add", "absorb"])
def test_lake_killed_at_its_last_commit_checks_ok_and_the_rerun_equals_an_uninterrupted_run(
    name, postgres, tmp_path  # noqa: F811
):
    _kill_at_the_last_commit(Matrix(BY_NAME[name], "lake", tmp_path / "matrix", postgres))


def test_a_kill_after_a_random_delay_then_the_rerun_equals_an_uninterrupted_run(tmp_path):
    matrix = Matrix(BY_NAME["ingest --replace"], "file", tmp_path / "matrix")
    try:
        matrix.reference(verify=False)
        tally = matrix.crash(delay=matrix.reference_seconds / 2)
        assert tally.failures == [] and tally.kills + tally.finished_before_kill == 1 and tally.reruns_equal == 1
    finally:
        matrix.close()
