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
        "rule": "sha", "latest_version": 3, "n_versions": 3, "n_rejected": 0, "created_at": None,
        "source": "recalibration", "strategy": "successive_halving"}


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
    ({"status": "draft"}, InvalidInputError, "status"),
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


def test_a_rejected_version_is_history_but_never_current(store):
    add_rule_version(store, "m", {"strategy": "median"}, created_by="ann")
    candidate = {"strategy": "median", "params": {"n_warmup_steps": 4}}
    rejected = add_rule_version(store, "m", candidate, created_by="job:1", source="recalibration",
                                status="rejected", drift_event_id="e1", job_id="1", reason="lost on the window")
    assert (rejected.version, rejected.parent_version, rejected.status) == (2, 1, "rejected")
    # Recording the same rejection again (same spec, event, job) is a no-op; another job's is a new record.
    before = store.row_counts()
    again = add_rule_version(store, "m", candidate, created_by="job:1", source="recalibration",
                             status="rejected", drift_event_id="e1", job_id="1")
    assert again == rejected and store.row_counts() == before
    assert [(v.version, v.status) for v in rule_history(store, "m")] == [(1, "active"), (2, "rejected")]
    assert get_rule_version(store, "m").version == 1
    assert get_rule_version(store, "m@2").status == "rejected"
    assert list_rules(store)[0] | {"created_at": None} == {
        "rule": "m", "latest_version": 1, "n_versions": 2, "n_rejected": 1, "created_at": None,
        "source": "manual", "strategy": "median"}
    # The current version (not the rejected one) is the default parent and the no-op reference.
    assert add_rule_version(store, "m", {"strategy": "median"}, created_by="bob").version == 1
    v3 = add_rule_version(store, "m", candidate, created_by="bob", reason="promote it after all")
    assert (v3.version, v3.parent_version, v3.status) == (3, 1, "active")
    assert get_rule_version(store, "m").version == 3


def test_a_rule_with_only_rejected_versions_has_no_current_one(store):
    add_rule_version(store, "r", {"strategy": "median"}, created_by="x", status="rejected")
    with pytest.raises(NotFoundError, match="no active version"):
        get_rule_version(store, "r")
    assert get_rule_version(store, "r@1").status == "rejected"
    assert list_rules(store)[0]["latest_version"] is None and list_rules(store)[0]["strategy"] is None
