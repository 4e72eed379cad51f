"""Hostile rule specs and meta-feature JSON (the checks live in fuzzing.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_store.meta import recommend
from policy_store.meta.features.store import save_meta_features

from policy_store.errors import InvalidInputError, InvalidSpecError
from policy_store.rules import RuleSpec, add_rule_version
from tests.reliability import fuzzing as fz

_FUZZ = settings(max_examples=fz.EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(spec=fz.rule_specs())
def test_rule_specs_round_trip_or_are_refused_by_field(spec):
    fz.check_rule_spec(spec)


@_FUZZ
@given(task=st.one_of(fz.names, st.sampled_from(["base-task", "new-task"]), st.none(), st.integers()),
       features=st.one_of(fz.meta_feature_maps, fz.json_values))
def test_meta_features_are_stored_exactly_or_refused(task, features):
    fz.check_save_meta_features(task, features)


@_FUZZ
@given(features=st.one_of(fz.meta_feature_maps, fz.json_values))
def test_recommend_takes_meta_features_or_refuses_them(features):
    fz.check_recommend_meta_features(features)


# -- regressions: each of these was a traceback (or silently accepted) before ---------------------------
@pytest.mark.parametrize(("text", "match"), [
    ('{"strategy": "median", "params": {"n_warmup_steps": ' + "9" * 5000 + "}}", "not valid JSON"),
    ("[" * 100_000, "not valid JSON"),
    ('{"strategy": "median", "params": {"n_warmup_steps": NaN}}', "NaN is not a JSON value"),
    ('{"strategy": "median", "strategy": "threshold"}', "more than once"),
])
def test_json_that_python_cannot_or_should_not_read_is_refused(text, match):
    with pytest.raises(InvalidSpecError, match=match):
        RuleSpec.parse(text)


@pytest.mark.parametrize(("spec", "field"), [
    ({"strategy": "percentile", "params": {"percentile": 10**400}}, "params.percentile"),
    ({"strategy": "median", "params": {"n_warmup_steps": 2**63}}, "params.n_warmup_steps"),
    ({"strategy": "successive_halving", "params": {"min_resource": 10**21}}, "params.min_resource"),
    ({"strategy": "patient", "params": {"patience": 1, "wrapped": {"strategy": "median", "params": 5}}},
     "params.wrapped.params"),
    ({"strategy": "median", "params": []}, "params"),
    ({"strategy": "median", "params": 0}, "params"),
    ({"strategy": "median", "safeguards": ""}, "safeguards"),
])
def test_out_of_range_and_mistyped_params_are_refused_by_field(store, spec, field):
    with pytest.raises(InvalidSpecError) as e:
        add_rule_version(store, "r", spec, created_by="t")
    assert e.value.field == field
    assert store.row_counts()["rule_versions"] == 0


def test_the_largest_int64_param_is_accepted():
    assert RuleSpec.parse({"strategy": "median", "params": {"n_warmup_steps": 2**63 - 1}}).params[
        "n_warmup_steps"] == 2**63 - 1


@pytest.mark.parametrize(("features", "field"), [
    ({"a": True}, "value"), ({"a": float("inf")}, "value"), ({"a": 10**400}, "value"), ({"a": "1.5"}, "value"),
    ({"a": 1j}, "value"), ({"": 1.0}, "feature"), ({"a\x00": 1.0}, "feature"), ({"a\ud800": 1.0}, "feature"),
    ({1: 1.0}, "feature"), ([], "features"), (None, "features"),
])
def test_bad_meta_features_are_refused_by_field(store, features, field):
    with pytest.raises(InvalidInputError) as e:
        save_meta_features(store, "t", features, "user")
    assert e.value.field == field
    assert store.row_counts()["meta_features"] == 0


@pytest.mark.parametrize("value", [10**400, True, "12"])
def test_recommend_refuses_meta_features_that_are_no_numbers(store, value):
    with pytest.raises(InvalidInputError) as e:
        recommend(store, meta_features={"NumberOfInstances": value})
    assert e.value.field == "NumberOfInstances"
    assert store.row_counts()["recommendations"] == 0


@pytest.mark.parametrize("task", [1, "t\x1b[2J", " "])
def test_a_task_id_that_is_no_printable_text_is_refused_even_without_features(store, task):
    with pytest.raises(InvalidInputError) as e:
        save_meta_features(store, task, {}, "user")
    assert e.value.field == "task"
