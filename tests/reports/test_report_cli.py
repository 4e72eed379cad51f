"""``policy-store report``: writes the files, prints their paths (or JSON), maps bad input to ``Error:``."""

from __future__ import annotations

import json

from policy_store.cli.main import build_parser, main


def test_report_command_writes_the_files(report_store, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--store", str(report_store), "report", "--out", str(out), "--rule", "median"]) == 0
    printed = capsys.readouterr().out
    assert f"report written: {out / 'report.html'}" in printed
    assert (out / "report.md").exists() and (out / "rules_summary.csv").exists()

    assert main(["--store", str(report_store), "report", "--out", str(out), "--task", "tabular/a", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["html"] == str(out / "report.html")
    assert str(out / "decisions.csv") in payload["csv"]


def test_report_command_refuses_a_missing_store_and_a_bad_rule(report_store, tmp_path, capsys):
    assert main(["--store", str(tmp_path / "none.duckdb"), "report", "--out", str(tmp_path)]) == 1
    assert "Error: no store at" in capsys.readouterr().err
    assert main(["--store", str(report_store), "report", "--out", str(tmp_path), "--rule", "median@x"]) == 1
    assert "Error: " in capsys.readouterr().err


def test_report_is_a_registered_command():
    assert "report" in build_parser().format_help()
