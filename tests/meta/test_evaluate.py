"""Evaluation of the meta-learner: baselines pinned by hand, and the cross-validation on real bundled curves."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from policy_store.datasets import ingest_bundled
from policy_store.meta.evaluation.baselines import nearest_task, rush_outcomes, stop_outcome, top_k_outcomes
from policy_store.meta.evaluation.evaluate import META, META_PROBE, ORACLE, PROBE_BEST, SINGLE, cross_validate
from policy_store.meta.learner.sources import training_data_from_store

from policy_store import NotFoundError, PolicyStore
from policy_store.curves import StudyCurves

# Three trials, two steps; trial "b" ends best (0.9) but starts worst.
CURVES = StudyCurves.from_arrays("s", [[0.6, 0.7], [0.3, 0.9], [0.5, 0.55]], direction="maximize",
                                 trials=["a", "b", "c"], cost=[[1.0, 3.0]] * 3)


def test_stop_outcome_by_hand():
    out = stop_outcome(CURVES, np.array([False, True, False]), np.array([1, 0, 1]))
    assert out["compute_saved"] == pytest.approx(1 - 9 / 12)
    assert out["regret"] == pytest.approx(0.2) and out["killed_best"] and out["killed_step"] == 0.0


def test_top_k_keeps_the_best_first_steps():
    out = top_k_outcomes([CURVES], k=2, orders=(0, 1))
    assert len(out) == 2 and out["killed_best"].all()        # "b" is third after one step
    assert out["compute_saved"].iloc[0] == pytest.approx(3 / 12)


def test_rush_hurdles():
    out = rush_outcomes([CURVES], ["a"], orders=(0,)).iloc[0]
    assert out["killed_best"] and out["compute_saved"] == pytest.approx(6 / 12)   # b and c stop at step 0
    assert not rush_outcomes([CURVES], ["b"], orders=(0,)).iloc[0]["killed_best"]
    none = rush_outcomes([CURVES], ["not-a-trial"], orders=(0,)).iloc[0]
    assert none["compute_saved"] == 0.0 and none["regret"] == 0.0


def test_nearest_task_ignores_missing_features():
    train = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [np.nan, 5.0, 0.0]})
    assert nearest_task(train, pd.DataFrame({"a": [0.1], "b": [np.nan]})).tolist() == [0]
    assert nearest_task(train, pd.DataFrame({"a": [np.nan], "b": [4.0]})).tolist() == [1]


@pytest.fixture(scope="module")
def evaluation():
    with PolicyStore.memory() as store:
        ingest_bundled(store)
        data = training_data_from_store(store, orders=2, tasks=[t for t in store.fetch_df("SELECT task FROM tasks")
                                                                ["task"] if "/gb/" not in t])
    return cross_validate(data, folds=3, n_estimators=10, lams=(20.0, 5.0), max_regret=0.005)


def test_cross_validation_reports_every_method(evaluation):
    s = evaluation.summary
    assert set(s["mode"]) == {"lam=20", "lam=5", "max_regret=0.005"}
    lam20 = s[s["mode"] == "lam=20"].set_index("method")
    assert {"MedianPruner()", "SuccessiveHalvingPruner()", "HyperbandPruner()", SINGLE, PROBE_BEST,
            "nearest task (auto-sklearn)", "RUSH hurdles", "top-K after one step", META, META_PROBE,
            ORACLE} <= set(lam20.index)
    grid_methods = ["MedianPruner()", SINGLE, "nearest task (auto-sklearn)", PROBE_BEST]
    assert (lam20.loc[ORACLE, "utility"] >= lam20.loc[grid_methods, "utility"] - 1e-12).all()
    assert evaluation.settings["tasks"] == 8 and evaluation.settings["orders"] == 2
    assert evaluation.settings["tasks_scored_on_probe"] == 8       # one study per bundled task
    assert np.isfinite(evaluation.gap_closed(limit=ORACLE)) and isinstance(evaluation.dominates(), bool)


def test_every_method_scored_on_the_same_held_out_replays(evaluation):
    rows = evaluation.rows[evaluation.rows["mode"].isin(["lam=20", "fixed"])]
    keys = rows.groupby("method").apply(lambda g: frozenset(zip(g["study"], g["order_seed"], strict=True)),
                                        include_groups=False)
    assert keys.nunique() == 1


def test_per_step_killed_best_rates(evaluation):
    ps = evaluation.per_step
    assert ((ps["ci95_low"] <= ps["killed_best_rate"]) & (ps["killed_best_rate"] <= ps["ci95_high"])).all()
    rows = evaluation.rows
    median = rows[rows["method"] == "MedianPruner()"]
    total = ps[ps["method"] == "MedianPruner()"]["killed_best_rate"].sum()
    assert total <= median["killed_best"].mean() + 1e-12        # steps beyond max_step are not listed


def test_the_evaluation_is_recorded_on_the_newest_model_and_reported(evaluation, tmp_path):
    from policy_store.meta.evaluation.evaluate import record_evaluation
    from policy_store.meta.learner.artifacts import save_artifact
    from policy_store.reports import build_report

    with PolicyStore.memory() as store:
        assert record_evaluation(store, evaluation) is None          # no meta-model: nothing written
        assert store.scalar("SELECT count(*) FROM meta_models") == 0
        model_id = save_artifact(store, {"a model": 1}, directory=tmp_path)
        assert record_evaluation(store, evaluation) == model_id
        stored = json.loads(store.scalar("SELECT evaluation FROM meta_models WHERE model_id = ?", [model_id]))
        assert stored["gap_closed_lam20"] == pytest.approx(evaluation.gap_closed(), nan_ok=True)
        assert {r["method"] for r in stored["summary"]} == set(evaluation.summary["method"])
        with pytest.raises(NotFoundError, match="no meta-model 'meta-nope'"):
            record_evaluation(store, evaluation, model_id="meta-nope")
        html = build_report(store, tmp_path / "report").read_text()
    assert "meta-learner + probe" in html and "oracle (hindsight)" in html
