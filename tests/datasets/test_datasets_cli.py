"""The dataset and meta-feature commands: thin, JSON output, `Error:` lines for bad input."""

from __future__ import annotations

import json

import pandas as pd
from policy_store.datasets import bundled
from policy_store.meta.features.store import load_meta_features

from policy_store import PolicyStore
from policy_store.cli.main import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_lcdb_excerpt(tmp_path, cache, excerpt, capsys):
    store = str(tmp_path / "s.duckdb")
    code, out, _ = run(capsys, "--store", store, "datasets", "ingest", "lcdb", "--source", str(excerpt),
                       "--tasks", "2", "--seeds", "1", "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["tasks"], result["studies"], result["points"]) == (2, 2, result["source_points"])
    code, out, _ = run(capsys, "--store", store, "datasets", "ingest", "lcdb", "--source", str(excerpt))
    assert code == 0 and "LCDB accuracy: 3 tasks, 6 studies, 924 points" in out


def test_ingest_lcdb_bad_source(tmp_path, cache, capsys):
    code, _, err = run(capsys, "--store", str(tmp_path / "s.duckdb"), "datasets", "ingest", "lcdb",
                       "--source", str(tmp_path / "nope"))
    assert code == 1 and err.startswith("Error: field 'source'")


def test_ingest_bundled_is_quick_and_idempotent(tmp_path, capsys):
    store = str(tmp_path / "s.duckdb")
    assert run(capsys, "--store", store, "datasets", "ingest", "bundled", "--json")[0] == 0
    code, out, _ = run(capsys, "--store", store, "datasets", "ingest", "bundled")
    assert code == 0 and "12 studies unchanged" in out
    with PolicyStore(store) as s:
        assert s.row_counts()["curve_points"] == len(bundled()) == 10_800


def test_generate_to_file_and_into_store(tmp_path, capsys):
    out_file = tmp_path / "curves.parquet"
    code, out, _ = run(capsys, "datasets", "generate", "--dataset", "iris", "--models", "sgd", "--trials", "2",
                       "--steps", "3", "--out", str(out_file), "--json")
    assert code == 0 and json.loads(out)["points"] == 6
    assert len(pd.read_parquet(out_file)) == 6
    store = str(tmp_path / "s.duckdb")
    code, out, _ = run(capsys, "--store", store, "datasets", "generate", "--models", "gb", "--trials", "2",
                       "--steps", "3")
    assert code == 0 and "1 study added" in out
    code, _, err = run(capsys, "datasets", "generate", "--models", "svm", "--out", str(out_file))
    assert code == 1 and "unknown model 'svm'" in err


def test_ingest_raytune(tmp_path, capsys):
    trial = tmp_path / "exp" / "t_00000"
    trial.mkdir(parents=True)
    (trial / "progress.csv").write_text("training_iteration,acc\n1,0.5\n2,0.7\n")
    code, out, _ = run(capsys, "--store", str(tmp_path / "s.duckdb"), "datasets", "ingest", "raytune",
                       str(tmp_path / "exp"), "--metric", "acc", "--direction", "maximize", "--json")
    assert code == 0 and json.loads(out)["added"] == ["raytune/exp"]


def test_meta_features_of_a_csv(tmp_path, capsys):
    path = tmp_path / "d.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "y": ["a", "b"] * 3}).to_csv(path, index=False)
    code, out, _ = run(capsys, "meta-features", str(path), "--target", "y", "--json")
    features = json.loads(out)["features"]
    assert code == 0 and features["NumberOfInstances"] == 6 and features["MeanAttributeEntropy"] is None
    store = str(tmp_path / "s.duckdb")
    code, out, _ = run(capsys, "--store", store, "meta-features", str(path), "--target", "y", "--task", "mine",
                       "--no-landmarkers")
    assert code == 0 and "saved" in out and "NumberOfClasses" in out
    with PolicyStore(store) as s:
        assert load_meta_features(s).loc["mine", "NumberOfClasses"] == 2
    code, _, err = run(capsys, "meta-features", str(path), "--target", "label")
    assert code == 1 and "field 'label'" in err
