"""CLI: rules add/list/show/history and evaluate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from policy_store.cli.main import main

sys.path.insert(0, str(Path(__file__).parent.parent / "replay"))


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_rules_commands(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    spec = tmp_path / "spec.json"
    spec.write_text('{"strategy": "successive_halving", "params": {"reduction_factor": 3}}')
    code, out, _ = run(capsys, "--store", db, "rules", "add", "sha", "--spec", str(spec), "--reason", "first")
    assert code == 0 and out.startswith("sha@1 (successive_halving")
    code, out, _ = run(capsys, "--store", db, "rules", "add", "sha", "--spec",
                       '{"strategy": "successive_halving"}', "--source", "recalibration", "--job", "j1",
                       "--created-by", "job:j1", "--json")
    info = json.loads(out)
    assert (info["version"], info["parent_version"], info["job_id"]) == (2, 1, "j1")
    code, out, _ = run(capsys, "--store", db, "rules", "list", "--json")
    assert json.loads(out)[0]["latest_version"] == 2
    code, out, _ = run(capsys, "--store", db, "rules", "show", "sha@1")
    assert '"reduction_factor":3' in out and "first" in out
    code, out, _ = run(capsys, "--store", db, "rules", "history", "sha")
    assert "recalibration" in out and "job=j1" in out
    code, out, _ = run(capsys, "--store", db, "rules", "add", "sha", "--spec", '{"strategy": "median"}',
                       "--status", "rejected", "--reason", "lost")
    assert code == 0 and out.startswith("sha@3 (median") and "rejected" in out
    code, out, _ = run(capsys, "--store", db, "rules", "show", "sha", "--json")
    assert (json.loads(out)["version"], json.loads(out)["status"]) == (2, "active")
    code, out, _ = run(capsys, "--store", db, "rules", "list", "--json")
    assert (json.loads(out)[0]["latest_version"], json.loads(out)[0]["n_rejected"]) == (2, 1)
    code, out, _ = run(capsys, "--store", db, "rules", "history", "sha")
    assert [line.split()[1] for line in out.splitlines() if line.split()[:1] in (["2"], ["3"])] == \
        ["active", "rejected"]
    code, _, err = run(capsys, "--store", db, "rules", "add", "bad", "--spec", '{"strategy": "median", '
                       '"params": {"n_min_trials": 0}}')
    assert code == 1 and err.startswith("Error: field 'params.n_min_trials'") and ">= 1" in err
    code, _, err = run(capsys, "--store", db, "rules", "show", "sha@7")
    assert code == 1 and "no version 7" in err


def test_evaluate_command(tmp_path, capsys):
    import conftest_data

    from policy_store import PolicyStore
    from policy_store.ingest import ingest_frame

    db = str(tmp_path / "s.duckdb")
    with PolicyStore(db) as store:
        ingest_frame(store, conftest_data.lcdb_long())
    run(capsys, "--store", db, "rules", "add", "med", "--spec", '{"strategy": "median"}')
    code, out, _ = run(capsys, "--store", db, "evaluate", "med", "--orders", "2", "--task", "lcdb/293/accuracy")
    assert code == 0 and "lcdb/293/accuracy" in out and "(all)" in out and "4 new" in out
    code, out, _ = run(capsys, "--store", db, "evaluate", "med@1", "--orders", "2", "--json")
    payload = json.loads(out)
    assert payload["inserted"] == 12 and payload["summary"][-1]["task"] == "(all)"
    run(capsys, "--store", db, "rules", "add", "lowlim", "--spec",
        '{"strategy": "threshold", "params": {"upper": 0.5}, "direction": "minimize"}')
    code, _, err = run(capsys, "--store", db, "evaluate", "lowlim")
    assert code == 1 and "made for minimize" in err
