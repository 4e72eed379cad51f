"""The CLI: thin commands, JSON output, exit codes 1 for bad input and 2 for usage."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from policy_store.cli.main import main
from tests.conftest import make_frame


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "curves.csv"
    make_frame(n_studies=2).to_csv(path, index=False)
    return path


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_then_list_and_show(tmp_path, csv_file, capsys):
    store = str(tmp_path / "s.duckdb")
    code, out, _ = run(capsys, "--store", store, "ingest", str(csv_file))
    assert code == 0 and "2 studies added (24 points, 1 new task)" in out
    code, out, _ = run(capsys, "--store", store, "ingest", str(csv_file), "--json")
    assert code == 0 and json.loads(out)["unchanged"] == ["task-a/study-0", "task-a/study-1"]
    code, out, _ = run(capsys, "--store", store, "tasks", "--json")
    assert json.loads(out)[0] | {"task": "task-a", "studies": 2, "trials": 6, "points": 24} == json.loads(out)[0]
    code, out, _ = run(capsys, "--store", store, "studies", "--task", "task-a")
    assert "task-a/study-1" in out
    code, out, _ = run(capsys, "--store", store, "show", "study", "task-a/study-0", "--json")
    shown = json.loads(out)
    assert shown["trials"] == 3 and len(shown["trial_rows"]) == 3 and shown["best_trial"] is not None


def test_bad_input_is_one_error_line_and_exit_1(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("task,study,trial,step,value\nt,s,0,0,zero\n")
    code, out, err = run(capsys, "--store", str(tmp_path / "s.duckdb"), "ingest", str(path))
    assert code == 1
    assert err.strip().splitlines() == [f"Error: {path} line 2 (row 0, field 'value'): must be numeric, got 'zero'"]


def test_missing_store_and_unknown_study_are_exit_1(tmp_path, capsys):
    store = str(tmp_path / "s.duckdb")
    code, _, err = run(capsys, "--store", store, "tasks")
    assert code == 1 and "no store at" in err and "policy-store init" in err
    assert run(capsys, "--store", store, "init")[0] == 0
    code, _, err = run(capsys, "--store", store, "show", "study", "nope")
    assert code == 1 and err.startswith("Error: no study 'nope'")


def test_usage_error_is_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "policy_store", "--store", str(tmp_path / "s.duckdb"), "ingest"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "usage:" in result.stderr


def test_environment_variable_picks_the_store(tmp_path, csv_file, monkeypatch, capsys):
    monkeypatch.setenv("POLICY_STORE", str(tmp_path / "env.duckdb"))
    assert run(capsys, "ingest", str(csv_file))[0] == 0
    assert (tmp_path / "env.duckdb").exists()
    code, out, _ = run(capsys, "status", "--json")
    assert json.loads(out)["rows"]["studies"] == 2
