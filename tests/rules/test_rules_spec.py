"""Spec validation, canonical form, hashing and exports."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_store.errors import DirectionMismatchError, InvalidSpecError
from policy_store.rules import STRATEGIES, RuleSpec


def test_defaults_are_filled_and_canonical_json_is_stable():
    a = RuleSpec.parse({"strategy": "median"})
    b = RuleSpec.parse('{"params": {"n_startup_trials": 5}, "strategy": "median", "safeguards": {}}')
    assert a.canonical_json() == b.canonical_json()
    assert a.spec_hash == b.spec_hash and len(a.spec_hash) == 64
    assert json.loads(a.canonical_json()) == {
        "direction": None, "params": {"interval_steps": 1, "n_min_trials": 1, "n_startup_trials": 5,
                                      "n_warmup_steps": 0},
        "safeguards": {"audit_fraction": 0.0, "audit_seed": 0}, "strategy": "median"}
    assert RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 4}}).spec_hash != a.spec_hash


@pytest.mark.parametrize(("spec", "field", "words"), [
    ({"strategy": "nope"}, "strategy", "allowed"),
    ({"strategy": "median", "params": {"n_startup_trials": -1}}, "params.n_startup_trials", ">= 0"),
    ({"strategy": "median", "params": {"warmup": 1}}, "params.warmup", "allowed"),
    ({"strategy": "percentile"}, "params.percentile", "<= 100"),
    ({"strategy": "percentile", "params": {"percentile": 101}}, "params.percentile", "<= 100"),
    ({"strategy": "median", "params": {"interval_steps": 0}}, "params.interval_steps", ">= 1"),
    ({"strategy": "median", "params": {"n_startup_trials": 1.5}}, "params.n_startup_trials", "integer"),
    ({"strategy": "median", "params": {"n_startup_trials": True}}, "params.n_startup_trials", "integer"),
    ({"strategy": "threshold"}, "params.lower", "at least one"),
    ({"strategy": "threshold", "params": {"lower": 2, "upper": 1}}, "params.lower", "<="),
    ({"strategy": "successive_halving", "params": {"bootstrap_count": 1}}, "params.bootstrap_count", "auto"),
    ({"strategy": "successive_halving", "params": {"reduction_factor": 1}}, "params.reduction_factor", ">= 2"),
    ({"strategy": "hyperband", "params": {"min_resource": 5, "max_resource": 2}}, "params.max_resource", ">="),
    ({"strategy": "wilcoxon", "params": {"p_threshold": 1.5}}, "params.p_threshold", "<= 1"),
    ({"strategy": "posterior", "params": {"alpha": 0}}, "params.alpha", "> 0"),
    ({"strategy": "posterior", "params": {"prior_beta": -1}}, "params.prior_beta", "> 0"),
    ({"strategy": "patient"}, "params.patience", ">= 0"),
    ({"strategy": "patient", "params": {"patience": 1, "wrapped": {"strategy": "patient"}}},
     "params.wrapped.strategy", "one of"),
    ({"strategy": "patient", "params": {"patience": 1, "wrapped": {"strategy": "median",
                                                                   "params": {"n_warmup_steps": -2}}}},
     "params.wrapped.params.n_warmup_steps", ">= 0"),
    ({"strategy": "median", "safeguards": {"audit_fraction": 2}}, "safeguards.audit_fraction", "<= 1"),
    ({"strategy": "median", "safeguards": {"shadow": 1}}, "safeguards.shadow", "allowed"),
    ({"strategy": "median", "direction": "up"}, "direction", "minimize"),
    ({"strategy": "median", "extra": 1}, "extra", "allowed"),
])
def test_bad_specs_name_the_field_and_the_range(spec, field, words):
    with pytest.raises(InvalidSpecError) as e:
        RuleSpec.parse(spec)
    assert e.value.field == field
    assert words in str(e.value)


def test_not_json_and_not_an_object():
    with pytest.raises(InvalidSpecError, match="JSON"):
        RuleSpec.parse("{nope")
    with pytest.raises(InvalidSpecError, match="object"):
        RuleSpec.parse("[1]")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(STRATEGIES)), st.dictionaries(st.sampled_from(
    ["n_startup_trials", "n_warmup_steps", "interval_steps", "percentile", "reduction_factor", "alpha",
     "patience", "p_threshold", "min_resource", "lower"]),
    st.one_of(st.integers(-5, 200), st.floats(allow_nan=True), st.text(max_size=3), st.none()), max_size=3))
def test_random_params_either_validate_and_round_trip_or_raise_typed(strategy, params):
    try:
        spec = RuleSpec.parse({"strategy": strategy, "params": params})
    except InvalidSpecError as e:
        assert e.field is not None
        return
    again = RuleSpec.parse(spec.canonical_json())
    assert again.spec_hash == spec.spec_hash and again == spec


def test_direction_check():
    spec = RuleSpec.parse({"strategy": "threshold", "params": {"lower": 0.5}, "direction": "maximize"})
    spec.check_direction("maximize")
    with pytest.raises(DirectionMismatchError, match="made for maximize"):
        spec.check_direction("minimize")
    RuleSpec.parse({"strategy": "median"}).check_direction("minimize")


def test_to_optuna_returns_real_pruners():
    import optuna

    expected = {"median": optuna.pruners.MedianPruner, "percentile": optuna.pruners.PercentilePruner,
                "threshold": optuna.pruners.ThresholdPruner, "patient": optuna.pruners.PatientPruner,
                "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
                "hyperband": optuna.pruners.HyperbandPruner, "wilcoxon": optuna.pruners.WilcoxonPruner}
    params = {"percentile": {"percentile": 30}, "threshold": {"upper": 1}, "patient": {"patience": 2}}
    for name, cls in expected.items():
        assert type(RuleSpec.parse({"strategy": name, "params": params.get(name, {})}).to_optuna()) is cls
    post = RuleSpec.parse({"strategy": "posterior"}).to_optuna()
    assert isinstance(post, optuna.pruners.BasePruner)
    audited = RuleSpec.parse({"strategy": "median", "safeguards": {"audit_fraction": 0.1}}).to_optuna()
    assert isinstance(audited, optuna.pruners.BasePruner) and type(audited).__name__ == "AuditPruner"


def test_to_ray_tune_names_a_scheduler_and_its_differences():
    for name in STRATEGIES:
        params = {"percentile": {"percentile": 30}, "threshold": {"upper": 1}, "patient": {"patience": 2}}
        out = RuleSpec.parse({"strategy": name, "params": params.get(name, {}), "direction": "minimize"}).to_ray_tune()
        assert out["scheduler"].endswith(("Scheduler", "Rule"))
        assert out["differences"] and out["kwargs"]["mode"] == "min"
