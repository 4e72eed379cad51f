"""Spool files: which ones an absorb may delete, and when."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_store import InvalidInputError, PolicyStore
from policy_store.integrations import SpoolWriter, absorb_spool
from policy_store.rules import RuleSpec, add_rule_version

SPEC = {"strategy": "median"}
RECORD = {"decision_id": "d", "study": "s", "trial": "0", "trial_number": 0, "step": 0, "value": 0.5,
          "threshold": None, "ref_size": 0, "verdict": "continue", "reason": "r", "rule": "r", "version": 1,
          "spec_hash": RuleSpec.parse(SPEC).spec_hash, "decided_at": "2026-01-01T00:00:00"}


@pytest.fixture
def store(store):
    """A store holding the rule version the records name (absorb refuses decisions of unknown versions)."""
    add_rule_version(store, "r", SPEC, created_by="test")
    return store


def test_files_that_may_still_grow_are_kept(store, tmp_path):
    live = SpoolWriter(tmp_path)
    live.append(RECORD)  # open, and its writer (this process) is alive
    other = tmp_path / "another-host-1-abcdef012345.jsonl.part"  # a writer elsewhere: cannot tell, keep it
    other.write_text(live.path.read_text().replace('"d"', '"e"'))
    report = absorb_spool(store, tmp_path)
    assert (report.inserted, report.removed) == (2, [])
    assert live.path.exists() and other.exists()
    live.close()
    report = absorb_spool(store, tmp_path)
    assert (report.inserted, report.duplicates, report.removed) == (0, 2, [live.path.name])


def test_remove_is_refused_inside_a_transaction(store, tmp_path):
    with store.atomic(), pytest.raises(InvalidInputError, match="remove_absorbed"):
        absorb_spool(store, tmp_path)


def test_bad_fsync_policy(tmp_path):
    with pytest.raises(InvalidInputError, match="fsync must be one of"):
        SpoolWriter(tmp_path, fsync="sometimes")


records = st.lists(st.fixed_dictionaries({
    "step": st.one_of(st.none(), st.integers(0, 10**9)),
    "value": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    "threshold": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    "reason": st.text(max_size=60),
}), max_size=12)


@settings(max_examples=60, deadline=None)
@given(records)
def test_records_round_trip_through_the_spool(tmp_path_factory, recs):
    d = tmp_path_factory.mktemp("spool")
    writer = SpoolWriter(d)
    for i, r in enumerate(recs):
        writer.append({**RECORD, **r, "decision_id": str(i), "trial_number": i, "trial": str(i)})
    writer.close()
    with PolicyStore.memory() as store:
        add_rule_version(store, "r", SPEC, created_by="test")
        assert absorb_spool(store, d).inserted == len(recs)
        rows = store.fetch_dicts("SELECT step, value, threshold, reason FROM decisions ORDER BY trial_number")
    assert rows == recs
