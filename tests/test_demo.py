"""The README's main job, end to end on a real file store."""

from __future__ import annotations

import json

import pytest

from policy_store import PolicyStore
from policy_store.cli.main import main


@pytest.mark.slow  # the whole demo three times, minutes
def test_demo_runs_every_step_and_reruns_safely(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    first = capsys.readouterr().out
    assert "12 studies added" in first
    assert "optuna-median" in first and "optuna-successive-halving" in first
    assert "recommended " in first and "unseen dataset 'wine'" in first
    assert "== 4. run the scheduled recalibration job" in first and "job " in first
    # Each held-out wine study runs under within-study adaptation from the recommendation, beside it alone.
    adapt_lines = [line for line in first.splitlines() if line.startswith("sklearn-wine-") and "rule alone" in line]
    assert len(adapt_lines) == 3
    assert (tmp_path / "reports-out" / "report.html").is_file()
    # Plain words, not raw specs or broken plurals; each step says what happened, the end what to try next.
    assert '{"' not in first and "that is: " in first
    assert not any(f" 1 {noun}s" in first for noun in ("drift event", "version", "rule", "candidate"))
    lines = first.rstrip().splitlines()
    steps = [i for i, line in enumerate(lines) if line.startswith("== ")]
    assert all(lines[i + 1 :][:6] and any(line.endswith(".") for line in lines[i + 1 :][:8]) for i in steps)
    assert lines[-4] == "What to try next:" and "policy-store ingest" in lines[-3] and "report.html" in lines[-1]
    with PolicyStore(tmp_path / "policy-store.duckdb") as store:
        counts = store.row_counts()
        assert counts["studies"] == 12
        # One recommendation per held-out wine task, its rule's outcomes recorded there (3 tasks x 5 orders).
        assert counts["meta_models"] == 1 and counts["recommendations"] == 3
        assert store.scalar("SELECT count(*) FROM outcomes WHERE rule = 'recommended-wine'") == 3 * 5
        evaluation = json.loads(store.scalar("SELECT evaluation FROM meta_models"))
        assert {"MedianPruner()", "oracle (hindsight)"} <= {r["method"] for r in evaluation["summary"]}
        assert store.scalar("SELECT count(*) FROM jobs WHERE kind = 'recalibrate'") == 1
        starter = store.scalar("SELECT count(*) FROM outcomes WHERE rule LIKE 'optuna-%' AND version = 1")
        assert starter == 12 * 2 * 5
    assert main(["demo", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["ingest"]["unchanged"] and not again["ingest"]["added"]
    assert len(again["adapt"]) == 3
    for row in again["adapt"]:
        # Until it switches, the adaptive study is decided by the recommended rule alone, trial for trial.
        if not row["adaptive"]["switches"]:
            assert row["adaptive"]["compute_saved"] == row["rule_alone"]["compute_saved"]
    # The rerun replays what the first job promoted (new outcomes for the job to check, nothing to change);
    # a third run has nothing new at all.
    assert not again["recalibrate"]["promoted"] and not again["recalibrate"]["events"]
    assert main(["demo", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recalibrate"]["status"] == "noop"
    with PolicyStore(tmp_path / "policy-store.duckdb") as store:
        assert store.row_counts()["curve_points"] == counts["curve_points"]
        # A rerun never re-adds a starter rule over the version recalibration promoted.
        assert store.row_counts()["rule_versions"] == counts["rule_versions"]
        assert store.scalar("SELECT count(*) FROM outcomes WHERE rule LIKE 'optuna-%' AND version = 1") == starter


def test_demo_ends_with_the_shipped_knowledge_recommending_for_a_minimised_loss(tmp_path, monkeypatch):
    from policy_store.demo import _shipped_recommendation

    monkeypatch.delenv("POLICY_STORE_KNOWLEDGE", raising=False)      # the suite otherwise starts cold
    lines: list[str] = []
    with PolicyStore(tmp_path / "s.duckdb") as store:
        out = _shipped_recommendation(store, lines.append)
        inputs = json.loads(store.scalar("SELECT inputs FROM recommendations"))
    text = "\n".join(lines)
    assert out["candidate"] and "--direction minimize" in text and "that is: " in text and "no fit" in text
    assert ("fell back to" in text) == out["fallback"]
    assert inputs["descriptors"]["family"] == "lightgbm" and inputs["descriptors"]["direction"] == "minimize"
    assert inputs["meta_features"]["metric_loss"] == 1.0
