"""The HPO corpus's model families and metrics: LightGBM and XGBoost round by round, a loss for every family,
MSE and MAE for regression, and resuming a corpus that holds them."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from policy_store.datasets import generate_hpo
from policy_store.datasets import hpo as hpo_module
from policy_store.datasets.hpo_boosters import BOOSTER_ROUNDS, Booster
from policy_store.datasets.hpo_families import FAMILIES, METRICS, search_space, train
from policy_store.datasets.hpo_features import hpo_meta_features
from policy_store.datasets.hpo_sources import prepare

BOOSTERS = ["lightgbm", "xgboost"]
MODERATE = {
    "lightgbm": {"learning_rate": 0.1, "num_leaves": 8, "min_child_samples": 20, "reg_lambda": 1.0,
                 "feature_fraction": 0.8, "bagging_fraction": 0.8},
    "xgboost": {"learning_rate": 0.1, "max_depth": 3, "min_child_weight": 1.0, "reg_lambda": 1.0,
                "subsample": 0.8, "colsample_bytree": 0.8},
}


def _point(family: str, kind: str, seed: int = 0) -> dict:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return study.ask(search_space(family, kind)).params


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["cost_seconds", "peak_memory_mb"], errors="ignore").reset_index(drop=True)  # measured


@pytest.mark.parametrize("family", BOOSTERS)
@pytest.mark.parametrize("dataset", ["iris", "breast_cancer", "diabetes"])
def test_boosters_train_step_by_step_deterministically_with_measured_costs(family, dataset):
    data = prepare(dataset)
    params = MODERATE[family]
    assert set(params) == set(search_space(family, data.kind))
    curve = train(family, params, 7, data, steps=4)
    assert not curve.failed and set(curve.values) == set(METRICS[data.kind])
    assert all(len(v) == 4 and np.isfinite(v).all() for v in curve.values.values())
    assert len(curve.seconds) == 4 and all(s > 0 for s in curve.seconds)
    loss = curve.values["logloss" if data.kind == "classification" else "mse"]
    assert loss[-1] < loss[0]  # at a moderate learning rate, 16 rounds fit the validation split better than 4
    assert train(family, params, 7, data, steps=4).values == curve.values
    assert train(family, params, 8, data, steps=4).values != curve.values  # the seed drives the subsampling


@pytest.mark.parametrize("family", BOOSTERS)
def test_booster_probabilities_have_one_column_per_class_and_sum_to_one(family):
    for dataset, classes in (("iris", 3), ("breast_cancer", 2)):
        data = prepare(dataset)
        model = Booster(family, _point(family, data.kind), 0, data, np.unique(data.y_train))
        model.step()
        proba = model.predict(data.X_valid)
        assert proba.shape == (len(data.X_valid), classes)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
        assert model._rounds == BOOSTER_ROUNDS


def test_every_family_records_a_loss_and_regression_records_mse_and_mae():
    frame = generate_hpo(["iris", "diabetes"], families=list(FAMILIES), studies=1, trials=2, steps=2)
    expected = {f"hpo/{d}/{f}/{m}" for f in FAMILIES for d, ms in (("iris", ("accuracy", "logloss")),
                                                                   ("diabetes", ("mse", "mae"))) for m in ms}
    assert set(frame["task"]) == expected
    directions = frame.groupby("metric")["direction"].unique().map(list).to_dict()
    assert directions == {"accuracy": ["maximize"], "logloss": ["minimize"], "mse": ["minimize"],
                          "mae": ["minimize"]}
    # MSE and MAE come from the same predictions of the same trials: MAE <= RMSE point by point.
    # (A diverged trial fails with both values NaN at the same step.)
    reg = frame[frame["task"].str.startswith("hpo/diabetes/")].copy()
    reg["family"] = reg["task"].str.split("/").str[2]
    wide = reg.pivot_table(index=["family", "trial", "step"], columns="metric", values="value", dropna=False)
    assert wide["mae"].isna().equals(wide["mse"].isna()) and wide["mae"].notna().sum() >= len(FAMILIES) * 2
    wide = wide.dropna()
    assert (wide["mae"] <= np.sqrt(wide["mse"]) + 1e-12).all() and not np.allclose(wide["mae"], wide["mse"])
    # The new tasks get the task attributes the meta-learner reads.
    features = hpo_meta_features(["hpo/diabetes/xgboost/mae", "hpo/iris/lightgbm/logloss"])
    task = features[features["source"] == "hpo-task"].pivot(index="task", columns="feature", values="value")
    assert task.loc["hpo/diabetes/xgboost/mae", ["family_xgboost", "family_lightgbm", "direction_maximize",
                                                 "is_regression"]].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert task.loc["hpo/iris/lightgbm/logloss", ["family_lightgbm", "is_regression"]].tolist() == [1.0, 0.0]


SMALL = {"families": BOOSTERS, "studies": 2, "trials": 3, "steps": 2}


def test_an_interrupted_run_resumes_to_the_uninterrupted_corpus(tmp_path, monkeypatch):
    whole = generate_hpo(["wine", "diabetes"], cache=tmp_path / "whole", **SMALL)
    real = hpo_module.run_study
    ran = []

    def interrupted(key, **kwargs):
        if len(ran) == 3:
            raise KeyboardInterrupt
        ran.append(key)
        return real(key, **kwargs)

    monkeypatch.setattr(hpo_module, "run_study", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate_hpo(["wine", "diabetes"], cache=tmp_path / "resumed", **SMALL)
    assert len(list((tmp_path / "resumed").rglob("*.parquet"))) == 3
    ran.clear()
    monkeypatch.setattr(hpo_module, "run_study", lambda key, **kw: ran.append(key) or real(key, **kw))
    resumed = generate_hpo(["wine", "diabetes"], cache=tmp_path / "resumed", **SMALL)
    assert len(ran) == 8 - 3
    pd.testing.assert_frame_equal(_values(resumed), _values(whole))


def test_a_cached_study_without_a_metric_now_recorded_is_run_again(tmp_path, monkeypatch):
    kw = {"families": ["sgd"], "studies": 1, "trials": 2, "steps": 2, "cache": tmp_path}
    first = generate_hpo(["diabetes", "iris"], **kw)
    (regression,) = tmp_path.rglob("diabetes__*.parquet")
    stored = pd.read_parquet(regression)
    stored[stored["metric"] == "mse"].to_parquet(regression)  # as the corpus stored it before MAE
    ran = []
    real = hpo_module.run_study
    monkeypatch.setattr(hpo_module, "run_study", lambda key, **k: ran.append(key.dataset) or real(key, **k))
    again = generate_hpo(["diabetes", "iris"], **kw)
    assert ran == ["diabetes"]
    pd.testing.assert_frame_equal(_values(again), _values(first))
    assert set(pd.read_parquet(regression)["metric"]) == {"mse", "mae"}
