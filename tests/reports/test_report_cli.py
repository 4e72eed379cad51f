"""``policy-store report``: writes the files, prints their paths (or JSON), maps bad input to ``Error:``."""

from __future__ import annotations

import argparse
import json

import pytest

from policy_store.cli import main as cli_main
from policy_store.cli import report_cmd
from policy_store.errors import PolicyStoreError


def _run(argv: list[str]) -> int:
    """Run through ``policy_store.cli.main`` when ``report`` is registered there, else through this module."""
    if "report_cmd" in cli_main.COMMAND_MODULES:
        return cli_main.main(argv)
    parser = argparse.ArgumentParser(prog="policy-store")
    parser.add_argument("--store")
    report_cmd.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except PolicyStoreError as e:
        print(f"Error: {e}")
        return 1


def test_report_command_writes_the_files(report_store, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(["--store", str(report_store), "report", "--out", str(out), "--rule", "median"]) == 0
    printed = capsys.readouterr().out
    assert f"report written: {out / 'report.html'}" in printed
    assert (out / "report.md").exists() and (out / "rules_summary.csv").exists()

    assert _run(["--store", str(report_store), "report", "--out", str(out), "--task", "tabular/a", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["html"] == str(out / "report.html")
    assert str(out / "decisions.csv") in payload["csv"]


def test_report_command_refuses_a_missing_store(tmp_path, capsys):
    code = _run(["--store", str(tmp_path / "none.duckdb"), "report", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert "Error: no store at" in captured.out + captured.err


@pytest.mark.skipif("report_cmd" not in cli_main.COMMAND_MODULES,
                    reason="policy_store.cli.main.COMMAND_MODULES does not list report_cmd yet")
def test_report_is_a_registered_command():
    assert "report" in cli_main.build_parser().format_help()
