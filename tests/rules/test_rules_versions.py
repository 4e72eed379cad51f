"""Rule versions in the store: immutability, provenance chain, no-op on identical specs, typed errors."""

from __future__ import annotations

import pytest

from policy_store.errors import InvalidInputError, InvalidSpecError, NotFoundError
from policy_store.rules import add_rule_version, get_rule_version, list_rules, rule_history


def test_chain_and_provenance(store):
    v1 = add_rule_version(store, "sha", {"strategy": "successive_halving"}, created_by="ann", reason="start")
    v2 = add_rule_version(store, "sha", {"strategy": "successive_halving", "params": {"reduction_factor": 3}},
                          created_by="meta-learner:m1", source="meta-learner", reason="recommended",
                          meta_model_id="m1")
    v3 = add_rule_version(store, "sha", {"strategy": "successive_halving", "params": {"reduction_factor": 2}},
                          created_by="job:7", source="recalibration", reason="drift", drift_event_id="e9",
                          job_id="7", parent=1)
    hist = rule_history(store, "sha")
    assert [(v.version, v.parent_version, v.source) for v in hist] == [
        (1, None, "manual"), (2, 1, "meta-learner"), (3, 1, "recalibration")]
    assert hist[1].meta_model_id == "m1" and hist[2].drift_event_id == "e9" and hist[2].job_id == "7"
    assert get_rule_version(store, "sha").version == 3 == v3.version
    assert get_rule_version(store, "sha@2").spec.params["reduction_factor"] == 3
    assert v1.spec_hash != v2.spec_hash
    assert list_rules(store)[0] | {"created_at": None} == {
        "rule": "sha", "latest_version": 3, "n_versions": 3, "created_at": None, "source": "recalibration",
        "strategy": "successive_halving"}


def test_identical_spec_is_a_noop(store):
    a = add_rule_version(store, "m", {"strategy": "median"}, created_by="x")
    before = store.row_counts()
    b = add_rule_version(store, "m", '{"strategy": "median", "params": {"n_startup_trials": 5}}', created_by="y")
    assert (b.version, b.created_by, b.spec_hash) == (1, "x", a.spec_hash)
    assert store.row_counts() == before


@pytest.mark.parametrize(("kwargs", "error", "field"), [
    ({"spec": {"strategy": "median", "params": {"n_min_trials": 0}}}, InvalidSpecError, "params.n_min_trials"),
    ({"spec": {"strategy": "nope"}}, InvalidSpecError, "strategy"),
    ({"name": "bad name"}, InvalidInputError, "name"),
    ({"name": "r@2"}, InvalidInputError, "name"),
    ({"source": "someone"}, InvalidInputError, "source"),
    ({"created_by": " "}, InvalidInputError, "created_by"),
])
def test_bad_input_writes_nothing(store, kwargs, error, field):
    add_rule_version(store, "keep", {"strategy": "median"}, created_by="x")
    before = store.row_counts()
    args = {"name": "r", "spec": {"strategy": "median"}, "created_by": "x"} | kwargs
    with pytest.raises(error) as e:
        add_rule_version(store, args.pop("name"), args.pop("spec"), **args)
    assert e.value.field == field
    assert store.row_counts() == before


def test_missing_parent_and_versions(store):
    add_rule_version(store, "r", {"strategy": "median"}, created_by="x")
    before = store.row_counts()
    with pytest.raises(NotFoundError, match="parent version 9"):
        add_rule_version(store, "r", {"strategy": "wilcoxon"}, created_by="x", parent=9)
    assert store.row_counts() == before
    with pytest.raises(NotFoundError, match="no version 4"):
        get_rule_version(store, "r@4")
    with pytest.raises(NotFoundError, match="no rule called"):
        rule_history(store, "other")
    with pytest.raises(InvalidInputError):
        get_rule_version(store, "r@x")
