"""Meta-features in the store: idempotent saves per (task, source), wide loads, bad rows."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_store.meta.features.store import load_meta_features, save_meta_features, save_meta_features_frame

from policy_store import PolicyStore
from policy_store.errors import InvalidInputError


def test_save_replaces_only_that_source_of_that_task(store):
    save_meta_features(store, "a", {"f1": 1.0, "f2": 2.0}, "dataset")
    save_meta_features(store, "a", {"c1": 0.5}, "curves")
    save_meta_features(store, "b", {"f1": 3.0}, "dataset")
    save_meta_features(store, "a", {"f1": 10.0}, "dataset")
    wide = load_meta_features(store)
    assert wide.loc["a", "f1"] == 10.0 and "f2" not in wide.columns
    assert wide.loc["a", "c1"] == 0.5 and wide.loc["b", "f1"] == 3.0
    assert store.row_counts()["meta_features"] == 3
    assert list(load_meta_features(store, tasks=["b"]).index) == ["b"]
    assert list(load_meta_features(store, source="curves").columns) == ["c1"]


def test_nan_is_stored_as_null_and_read_as_nan(store):
    save_meta_features(store, "a", {"f": float("nan"), "g": None, "h": 1}, "dataset")
    assert store.scalar("SELECT count(*) FROM meta_features WHERE value IS NULL") == 2
    row = load_meta_features(store).loc["a"]
    assert math.isnan(row["f"]) and math.isnan(row["g"]) and row["h"] == 1.0


def test_empty_features_clear_the_source(store):
    save_meta_features(store, "a", {"f": 1.0}, "dataset")
    assert save_meta_features(store, "a", {}, "dataset") == 0
    assert load_meta_features(store).empty


def test_bad_rows_are_refused_by_field(store):
    with pytest.raises(InvalidInputError) as e:
        save_meta_features(store, "a", {"f": "high"}, "dataset")
    assert (e.value.field, e.value.row) == ("value", 0)
    with pytest.raises(InvalidInputError) as e:
        save_meta_features_frame(store, pd.DataFrame({"task": ["a", "a"], "feature": ["f", "f"],
                                                      "value": [1, 2]}), "dataset")
    assert (e.value.field, e.value.row) == ("feature", 1)
    with pytest.raises(InvalidInputError) as e:
        save_meta_features_frame(store, pd.DataFrame({"task": ["a"], "value": [1]}), "dataset")
    assert e.value.field == "feature"
    with pytest.raises(InvalidInputError):
        save_meta_features(store, "", {"f": 1.0}, "dataset")
    assert store.row_counts()["meta_features"] == 0


_NAMES = st.text(min_size=1, max_size=8).filter(lambda s: s.strip() and s.isprintable())  # others are refused


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(_NAMES, st.floats(allow_nan=False, allow_infinity=False),
                       min_size=1, max_size=6))
def test_round_trip(features):
    with PolicyStore.memory() as store:
        save_meta_features(store, "t", features, "dataset")
        save_meta_features(store, "t", features, "dataset")
        assert load_meta_features(store).loc["t"].to_dict() == pytest.approx(features)
