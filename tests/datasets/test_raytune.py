"""Ray Tune experiment directories: both result files, params, failures, bad directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from policy_store.datasets import ingest_raytune, read_raytune

from policy_store import PolicyStore
from policy_store.errors import InvalidInputError


def _experiment(root: Path) -> Path:
    exp = root / "my_exp"
    first = exp / "train_fn_a_00000_0_lr=0.1"
    first.mkdir(parents=True)
    (first / "progress.csv").write_text(
        "loss,time_this_iter_s,done,training_iteration,trial_id,config/lr\n"
        "0.9,1.5,False,1,t0,0.1\n0.6,1.0,False,2,t0,0.1\n0.5,1.0,True,3,t0,0.1\n"
    )
    (first / "params.json").write_text(json.dumps({"lr": 0.1, "layers": 2}))
    second = exp / "train_fn_a_00001_1_lr=0.01"
    second.mkdir()
    lines = [{"loss": 1.2, "training_iteration": 1, "trial_id": "t1", "time_this_iter_s": 2.0,
              "config": {"lr": 0.01}},
             {"loss": 1.1, "training_iteration": 2, "trial_id": "t1", "time_this_iter_s": 2.0,
              "config": {"lr": 0.01}}]
    (second / "result.json").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (second / "error.txt").write_text("Traceback: out of memory")
    (exp / "basic-variant-state.json").write_text("{}")
    return exp


def test_reads_progress_csv_and_result_json(tmp_path):
    frame = read_raytune(_experiment(tmp_path), metric="loss", direction="minimize")
    assert frame["trial"].tolist() == ["t0", "t0", "t0", "t1", "t1"]
    assert frame["step"].tolist() == [1, 2, 3, 1, 2]
    assert frame["value"].tolist() == [0.9, 0.6, 0.5, 1.2, 1.1]
    assert frame["cost_seconds"].tolist() == [1.5, 1.0, 1.0, 2.0, 2.0]
    assert set(frame["study"]) == {"raytune/my_exp"} and set(frame["task"]) == {"raytune/my_exp/loss"}
    assert json.loads(frame["params"].iloc[0]) == {"layers": 2, "lr": 0.1}
    assert json.loads(frame["params"].iloc[-1]) == {"lr": 0.01}
    assert frame.groupby("trial")["state"].first().to_dict() == {"t0": "COMPLETE", "t1": "FAIL"}


def test_config_columns_when_no_params_file(tmp_path):
    exp = _experiment(tmp_path)
    (exp / "train_fn_a_00000_0_lr=0.1" / "params.json").unlink()
    frame = read_raytune(exp, metric="loss", direction="minimize", task="t", study="s")
    assert json.loads(frame["params"].iloc[0]) == {"lr": 0.1}
    assert set(frame["study"]) == {"s"}


def test_ingest_round_trip(tmp_path):
    with PolicyStore.memory() as store:
        report = ingest_raytune(store, _experiment(tmp_path), metric="loss", direction="minimize")
        assert report.added == ["raytune/my_exp"] and report.points_written == 5
        again = ingest_raytune(store, _experiment(tmp_path / "again"), metric="loss", direction="minimize")
        assert again.unchanged == ["raytune/my_exp"]


def test_bad_directories(tmp_path):
    exp = _experiment(tmp_path)
    with pytest.raises(InvalidInputError) as e:
        read_raytune(exp, metric="accuracy", direction="maximize")
    assert e.value.field == "accuracy"
    empty = tmp_path / "empty"
    (empty / "trial").mkdir(parents=True)
    with pytest.raises(InvalidInputError, match="no trial folder"):
        read_raytune(empty, metric="loss", direction="minimize")
    with pytest.raises(InvalidInputError) as e:
        read_raytune(tmp_path / "missing", metric="loss", direction="minimize")
    assert e.value.field == "path"
    with pytest.raises(InvalidInputError) as e:
        read_raytune(exp, metric="loss", direction="max")
    assert e.value.field == "direction"
    (exp / "train_fn_a_00001_1_lr=0.01" / "result.json").write_text("{not json\n")
    with pytest.raises(InvalidInputError) as e:
        read_raytune(exp, metric="loss", direction="minimize")
    assert e.value.field == "result.json" and e.value.row == 0


def test_rows_without_the_metric_are_skipped_and_text_refused(tmp_path):
    trial = tmp_path / "exp" / "t_00000"
    trial.mkdir(parents=True)
    (trial / "progress.csv").write_text("training_iteration,acc\n1,0.5\n2,\n3,0.7\n")
    frame = read_raytune(tmp_path / "exp", metric="acc", direction="maximize")
    assert frame["step"].tolist() == [1, 3]
    (trial / "progress.csv").write_text("training_iteration,acc\n1,0.5\n2,high\n")
    with pytest.raises(InvalidInputError) as e:
        read_raytune(tmp_path / "exp", metric="acc", direction="maximize")
    assert e.value.field == "acc"
