"""The main job (``policy-store demo``: ingest, rules, evaluate, recommend, recalibrate, report) on a DuckLake."""

from __future__ import annotations

import json

import pytest

from policy_store import PolicyStore
from policy_store.cli.main import main


@pytest.mark.slow  # the whole demo, on a lake
def test_the_demo_runs_on_a_lake(new_lake, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the report (and any file the demo writes) lands here
    lake = new_lake()
    assert main(["--store", lake, "demo"]) == 0
    capsys.readouterr()
    with PolicyStore(lake, read_only=True) as store:
        counts = store.row_counts()
    assert counts["studies"] == 12 and counts["outcomes"] > 0 and counts["rule_versions"] >= 2 and counts["jobs"] == 1
    assert main(["--store", lake, "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == counts
