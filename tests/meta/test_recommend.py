"""Recommendations: cold start, provenance, tampered artifacts, a round trip through a real Optuna study, CLI."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from policy_store.datasets import bundled, ingest_bundled
from policy_store.meta.learner import artifacts
from policy_store.meta.learner.store_records import fit_from_store, recommend_for_holdout
from policy_store.meta.recommend import COLD_START_SPEC, recommend, save_recommendation

from policy_store import PolicyStore
from policy_store.cli.main import main
from policy_store.curves import load_curves
from policy_store.errors import ArtifactIntegrityError, InvalidInputError
from policy_store.replay import replay_study
from policy_store.rules import get_rule_version

optuna = pytest.importorskip("optuna")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A file store with the bundled curves and a meta-model fitted on them (2 orders, 20 trees)."""
    folder = tmp_path_factory.mktemp("meta")
    store = PolicyStore(folder / "store.duckdb")
    ingest_bundled(store)
    result = fit_from_store(store, orders=2, n_estimators=20, directory=folder / "artifacts")
    yield store, result
    store.close()


def test_cold_start_returns_the_documented_default(store):
    rec = recommend(store, meta_features={"NumberOfInstances": 500.0})
    assert rec.cold_start and rec.model_id is None and rec.spec.to_dict()["params"]["min_resource"] == 4
    assert rec.spec.strategy == COLD_START_SPEC["strategy"] and "cold start" in rec.notes[-1]
    row = store.fetch_dicts("SELECT * FROM recommendations")[0]
    assert row["model_id"] is None and json.loads(row["inputs"])["cold_start"] is True


def test_recommendation_is_recorded_with_provenance(fitted):
    store, fit = fitted
    rec = recommend(store, meta_features={"curve_noise": 0.01, "curve_early_slope": 0.02}, max_regret=0.005,
                    task="my-task", k=3)
    assert not rec.cold_start and rec.model_id == fit.model_id and len(rec.neighbours) == 3
    e = rec.expected
    assert e["compute_saved"]["low"] <= e["compute_saved"]["mean"] <= e["compute_saved"]["high"]
    assert all(n["task"].startswith("sklearn/") and n["best_rule"] for n in rec.neighbours)
    row = store.fetch_dicts("SELECT * FROM recommendations WHERE recommendation_id = ?", [rec.recommendation_id])[0]
    inputs = json.loads(row["inputs"])
    assert row["task"] == "my-task" and row["model_id"] == fit.model_id
    assert inputs["meta_features"] == {"curve_noise": 0.01, "curve_early_slope": 0.02}
    assert inputs["training_snapshot"]["tasks"] == 12 and inputs["trade_off"] == {"max_regret": 0.005}
    assert json.loads(row["spec"]) == rec.spec.to_dict()
    version = save_recommendation(store, rec, "my-task-rule")
    stored = get_rule_version(store, "my-task-rule@1")
    assert stored.source == "meta-learner" and stored.meta_model_id == fit.model_id
    assert rec.recommendation_id in stored.reason and version.spec_hash == rec.spec.spec_hash


def test_recommend_from_first_curves_only(fitted):
    store, _ = fitted
    curves = load_curves(store, tasks=["sklearn/wine/sgd/accuracy"])
    rec = recommend(store, curves=curves, record=False)
    assert "blended with the grid replayed on 1 study(ies) of this task" in rec.notes
    if rec.spec.strategy == "posterior":
        assert rec.spec.direction == "maximize" and rec.expected["prior"]["prior_mean"] > 0


def test_bad_inputs(fitted):
    store, _ = fitted
    with pytest.raises(InvalidInputError, match="give a dataset"):
        recommend(store)
    with pytest.raises(InvalidInputError, match="target"):
        recommend(store, dataset=pd.DataFrame({"x": [1.0], "y": [0]}))
    with pytest.raises(InvalidInputError, match="must be a number"):
        recommend(store, meta_features={"curve_noise": "loud"})


def test_tampered_artifact_is_refused_before_unpickling(store, tmp_path, monkeypatch):
    mid = artifacts.save_artifact(store, {"weights": [1, 2, 3]}, directory=tmp_path)
    path = Path(artifacts.model_record(store, mid)["path"])
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.write_bytes(bytes(data))

    def never(*args, **kwargs):
        raise AssertionError("an unverified file was unpickled")

    monkeypatch.setattr(pickle, "loads", never)
    with pytest.raises(ArtifactIntegrityError, match="was modified"):
        artifacts.load_artifact(store, mid)
    with pytest.raises(ArtifactIntegrityError):
        recommend(store, meta_features={"curve_noise": 0.01}, model_id=mid)


def test_recommended_pruner_in_a_real_optuna_study(fitted):
    """The returned pruner, used live, prunes exactly the trials the replay says it would."""
    store, fit = fitted
    rec = recommend(store, meta_features={"curve_noise": 0.02}, lam=5.0, model_id=fit.model_id, record=False)
    curves = load_curves(store, tasks=["sklearn/digits/sgd/accuracy"])[0]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=curves.study, direction="maximize", pruner=rec.to_optuna())
    for i in range(curves.n_trials):
        trial = study.ask()
        for j in np.flatnonzero(curves.present[i]):
            trial.report(float(curves.values[i, j]), int(curves.steps[j]))
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, float(curves.final_values[i]))
    live = np.array([t.state == optuna.trial.TrialState.PRUNED for t in study.trials])
    replayed = replay_study(curves, [rec.spec], order_seeds=[0])[0].pruned
    assert live.any() and (live == replayed).all()


def test_cli_recommend_and_fit(tmp_path, capsys):
    location = str(tmp_path / "cli.duckdb")
    assert main(["--store", location, "recommend", "--meta-features", '{"NumberOfInstances": 100}', "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cold_start"] is True
    with PolicyStore(location) as store:
        ingest_bundled(store)
    assert main(["--store", location, "meta", "fit", "--orders", "1", "--trees", "5", "--json",
                 "--artifacts", str(tmp_path / "a")]) == 0
    model_id = json.loads(capsys.readouterr().out)["model_id"]
    data = tmp_path / "data.csv"
    pd.DataFrame({"x": np.arange(40.0), "y": [0, 1] * 20}).to_csv(data, index=False)
    assert main(["--store", location, "recommend", "--dataset", str(data), "--target", "y", "--max-regret",
                 "0.01", "--save", "new-rule"]) == 0
    out = capsys.readouterr().out
    assert f"(model {model_id})" in out and "saved as rule version new-rule@1 (source meta-learner)" in out
    first = bundled()
    first = first[first["study"] == first["study"].iloc[0]][["trial", "step", "value"]]
    first.to_csv(tmp_path / "curves.csv", index=False)
    assert main(["--store", location, "recommend", "--curves", str(tmp_path / "curves.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model_id"] == model_id
    first.drop(columns="step").to_csv(tmp_path / "bad.csv", index=False)
    assert main(["--store", location, "recommend", "--curves", str(tmp_path / "bad.csv")]) == 1
    assert "need columns trial, step, value" in capsys.readouterr().err
    assert main(["--store", location, "recommend", "--meta-features", "{not json"]) == 1
    assert "--meta-features is neither a JSON object nor a JSON file" in capsys.readouterr().err


def test_holdout_main_job(tmp_path):
    lines = []
    with PolicyStore.memory() as store:
        out = recommend_for_holdout(store, holdout="iris", orders=1, echo=lines.append, directory=tmp_path)
    assert out["model_id"].startswith("meta-") and "unseen dataset 'iris'" in lines[0]
    assert set(out["realised"]) == {"recommended", "MedianPruner()"}
    assert out["recommendation"]["neighbours"][0]["task"].split("/")[1] != "iris"
