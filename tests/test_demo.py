"""The README's main job, end to end on a real file store."""

from __future__ import annotations

import json

from policy_store import PolicyStore
from policy_store.cli.main import main


def test_demo_runs_and_is_idempotent(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    first = capsys.readouterr().out
    assert "12 studies added" in first
    assert "optuna-median" in first and "optuna-successive-halving" in first
    with PolicyStore(tmp_path / "policy-store.duckdb") as store:
        counts = store.row_counts()
        assert counts["studies"] == 12 and counts["rule_versions"] == 2
        assert counts["outcomes"] == 12 * 2 * 5
    assert main(["demo", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["ingest"]["unchanged"] and not again["ingest"]["added"]
    with PolicyStore(tmp_path / "policy-store.duckdb") as store:
        assert store.row_counts() == counts
