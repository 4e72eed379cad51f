"""``recommend --budget-seconds``: the best rule expected to fit, a different one as the budget tightens, or none."""

from __future__ import annotations

import json

import numpy as np
import pytest
from policy_store.datasets import ingest_bundled
from policy_store.meta.budget import NoRuleFitsError, full_study_seconds
from policy_store.meta.recommend import recommend

from policy_store import PolicyStore
from policy_store.cli.main import main
from policy_store.curves import load_curves
from policy_store.rules import RuleSpec

STUDY = "sklearn-breast_cancer-gb/seed0-trials30-steps30"


@pytest.fixture(autouse=True)
def _shipped_knowledge(monkeypatch):
    monkeypatch.delenv("POLICY_STORE_KNOWLEDGE", raising=False)  # the suite starts cold; a budget needs a model


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundled") / "store.duckdb"
    with PolicyStore(path) as store:
        ingest_bundled(store)
    return path


def test_the_choice_changes_as_the_budget_tightens_then_nothing_fits(bundled):
    with PolicyStore(bundled) as store:
        (curves,) = load_curves(store, studies=[STUDY])
        full = full_study_seconds([curves])
        assert full == pytest.approx(float(np.nansum(curves.cost)))
        free = recommend(store, curves=[curves], record=False)
        chosen = {}
        for share in (0.9, 0.7, 0.5):
            rec = recommend(store, curves=[curves], budget_seconds=share * full, record=False)
            assert rec.expected["compute_seconds"] <= share * full
            assert rec.spec.budget.study_seconds == share * full  # the budget goes live with the rule
            assert any(n.startswith("budget: ") for n in rec.notes)
            chosen[share] = rec.candidate
        with pytest.raises(NoRuleFitsError, match="no rule is expected to fit in") as e:
            recommend(store, curves=[curves], budget_seconds=0.3 * full, record=False)
        assert e.value.field == "budget_seconds"
    assert chosen[0.9] == free.candidate  # a loose budget changes nothing
    assert chosen[0.5] != chosen[0.9], chosen


def test_a_budget_needs_the_study_cost_and_a_positive_number(bundled):
    with PolicyStore(bundled) as store:
        with pytest.raises(Exception, match="full_seconds") as e:
            recommend(store, meta_features={"NumberOfInstances": 500}, budget_seconds=10.0, record=False)
        assert e.value.field == "full_seconds"
        with pytest.raises(Exception, match="positive") as e:
            recommend(store, meta_features={"NumberOfInstances": 500}, budget_seconds=-1.0, record=False)
        assert e.value.field == "budget_seconds"


def test_the_cold_start_cannot_judge_a_budget(bundled, monkeypatch):
    monkeypatch.setenv("POLICY_STORE_KNOWLEDGE", "off")
    with PolicyStore(bundled) as store, pytest.raises(Exception, match="cold start") as e:
        recommend(store, meta_features={"NumberOfInstances": 500}, budget_seconds=10.0, full_seconds=20.0,
                  record=False)
    assert e.value.field == "budget_seconds"


def test_the_cli_recommends_within_a_budget_and_says_when_nothing_fits(bundled, tmp_path, capsys):
    with PolicyStore(bundled, read_only=True) as store:
        frame = store.fetch_df("SELECT trial, step, value, cost_seconds FROM curve_points WHERE study = ?", [STUDY])
    csv = tmp_path / "first.csv"
    frame.to_csv(csv, index=False)
    full = float(frame["cost_seconds"].sum())
    base = ["--store", str(bundled), "recommend", "--curves", str(csv), "--direction", "maximize"]
    assert main([*base, "--budget-seconds", str(0.5 * full), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["expected"]["compute_seconds"] <= 0.5 * full
    assert RuleSpec.parse(out["spec"]).budget.study_seconds == 0.5 * full
    assert main([*base, "--budget-seconds", str(0.01 * full)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: field 'budget_seconds': no rule is expected to fit")
