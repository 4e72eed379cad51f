"""Generated curves from real sklearn training: reproducible values, measured costs, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from policy_store.datasets import bundled, generate
from policy_store.datasets.generated import sample_params

from policy_store.errors import InvalidInputError


def test_values_are_bit_for_bit_reproducible_whatever_jobs():
    one = generate("iris", models=("sgd", "mlp", "gb"), trials=2, steps=4, seed=3, jobs=1)
    two = generate("iris", models=("sgd", "mlp", "gb"), trials=2, steps=4, seed=3, jobs=2)
    assert one.drop(columns="cost_seconds").equals(two.drop(columns="cost_seconds"))
    assert (one["cost_seconds"] > 0).all()
    other = generate("iris", models=("sgd",), trials=2, steps=4, seed=4)
    assert not np.array_equal(other["value"], one.loc[one["task"].str.contains("sgd"), "value"])


def test_bundled_data_is_what_its_documented_command_produces():
    shipped = bundled()
    part = shipped[shipped["study"] == "sklearn-iris-mlp/seed0-trials30-steps30"]
    # A trial's values depend on (seed, model, trial number) only, so the first trials suffice.
    part = part[part["trial"].isin(["0", "1", "2"])].reset_index(drop=True)
    again = generate("iris", models=("mlp",), trials=3, steps=30, seed=0)
    assert again["value"].to_numpy().tobytes() == part["value"].to_numpy().tobytes()
    assert again["params"].tolist() == part["params"].tolist()


def test_frame_shape_and_ids():
    frame = generate("iris", models=("gb",), trials=3, steps=5, seed=1)
    assert set(frame["task"]) == {"sklearn/iris/gb/accuracy"}
    assert set(frame["study"]) == {"sklearn-iris-gb/seed1-trials3-steps5"}
    assert frame.groupby("trial")["step"].apply(list).tolist() == [[0, 1, 2, 3, 4]] * 3
    assert frame["value"].between(0, 1).all()
    params = json.loads(frame["params"].iloc[0])
    assert params["model"] == "gb" and isinstance(params["random_state"], int)


def test_csv_dataset_with_symbolic_and_missing_values(tmp_path):
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"a": rng.normal(size=60), "b": rng.choice(["u", "v"], 60), "label": ["x", "y"] * 30})
    data.loc[3, "a"] = np.nan
    path = tmp_path / "mine.csv"
    data.to_csv(path, index=False)
    frame = generate(str(path), target="label", models=("sgd",), trials=2, steps=3, seed=0)
    assert set(frame["task"]) == {"sklearn/mine/sgd/accuracy"}
    with pytest.raises(InvalidInputError) as e:
        generate(str(path), models=("sgd",), trials=1, steps=1)
    assert e.value.field == "target"
    with pytest.raises(InvalidInputError) as e:
        generate(str(path), target="nope", models=("sgd",), trials=1, steps=1)
    assert e.value.field == "nope"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"dataset": "mnist"}, "dataset"),
    ({"models": ("svm",)}, "models"),
    ({"trials": 0}, "trials"),
])
def test_bad_arguments(kwargs, field):
    with pytest.raises(InvalidInputError) as e:
        generate(**{"dataset": "iris", "trials": 1, "steps": 1, **kwargs})
    assert e.value.field == field


def test_sampled_hyperparameters_are_seeded():
    first = sample_params("mlp", np.random.default_rng([0, 1, 2]))
    assert first == sample_params("mlp", np.random.default_rng([0, 1, 2]))
    assert 8 <= first["hidden_layer_sizes"][0] <= 128


def test_single_instance_class_is_refused(tmp_path):
    path = tmp_path / "tiny.csv"
    pd.DataFrame({"a": range(5), "label": ["x", "x", "y", "y", "z"]}).to_csv(path, index=False)
    with pytest.raises(InvalidInputError, match="'z'") as e:
        generate(str(path), target="label", models=("sgd",), trials=1, steps=1)
    assert e.value.field == "label"
