"""Spool files: forged rule switches, switch-only files, late unnumbered decisions, short writes, hostile values."""

from __future__ import annotations

import errno
import os

import pytest

from policy_store import InvalidInputError
from policy_store.integrations import SpoolWriter, absorb_spool
from policy_store.rules import RuleSpec, add_rule_version

SPEC = RuleSpec.parse({"strategy": "median"})
TO = RuleSpec.parse({"strategy": "percentile", "params": {"percentile": 90}})
RECORD = {"decision_id": "d", "study": "s", "trial": "0", "trial_number": 0, "step": 0, "value": 0.5,
          "threshold": None, "ref_size": 0, "verdict": "continue", "reason": "r", "rule": "r", "version": 1,
          "spec_hash": SPEC.spec_hash, "decided_at": "2026-01-01T00:00:00"}
SWITCH = {"kind": "switch", "switch_id": "sw1", "study": "s", "rule": "r", "from_spec_hash": SPEC.spec_hash,
          "spec_hash": TO.spec_hash, "spec": TO.canonical_json(), "first_trial": 1, "n_completed": 1,
          "reason": "adaptive switch", "evidence": None, "decided_at": "2026-01-01T00:00:01"}
AFTER = {**RECORD, "decision_id": "after", "trial": "1", "trial_number": 1, "version": None,
         "spec_hash": TO.spec_hash, "decided_at": "2026-01-01T00:00:02"}


@pytest.fixture
def store(store):
    add_rule_version(store, "r", SPEC, created_by="test")
    return store


def spool(directory, *records) -> str:
    """A closed spool file written by the library's writer; returns its name."""
    writer = SpoolWriter(directory)
    for r in records:
        writer.append(r)
    writer.close()
    return writer.path.name


def counts(store) -> tuple:
    tables = ("rules", "rule_versions", "decisions")
    return tuple(store.scalar(f"SELECT count(*) FROM {t}") for t in tables)  # noqa: S608 - constant names


FORGED = {
    "switch-spec-hash-not-of-its-spec": ([{**SWITCH, "spec_hash": "f" * 64}, {**AFTER, "spec_hash": "f" * 64}],
                                         1, "spec_hash", "but its spec hashes to"),
    "switch-from-a-spec-the-rule-never-had": ([{**SWITCH, "from_spec_hash": "0" * 64}, AFTER], 1,
                                              "from_spec_hash", "is the spec of no version of rule r"),
    "switch-of-an-unknown-rule": ([{**SWITCH, "rule": "new"}, {**AFTER, "rule": "new"}], 1, "rule",
                                  "names rule new, which the store does not have"),
    "switch-with-an-invalid-spec": ([{**SWITCH, "spec": "{not json"}], 1, "spec", "is not a valid rule spec"),
    "week-date": ([RECORD, {**RECORD, "decision_id": "e", "decided_at": "2026-W01-1"}], 2, "decided_at",
                  "naive UTC ISO timestamp"),
    "int-beyond-a-double": ([{**RECORD, "value": 10**400}], 1, "value", "out of range"),
    "lone-surrogate": ([{**RECORD, "study": "s\ud800"}], 1, "study", "lone surrogate"),
}


@pytest.mark.parametrize("name", list(FORGED))
def test_a_forged_line_is_refused_naming_file_line_and_field(store, tmp_path, name):
    records, line, field, message = FORGED[name]
    file = spool(tmp_path, *records)
    before, files = counts(store), sorted(tmp_path.iterdir())
    with pytest.raises(InvalidInputError, match=message) as e:
        absorb_spool(store, tmp_path)
    assert type(e.value) is InvalidInputError and e.value.field == field
    assert str(e.value).startswith(f"spool file {file} line {line} ")
    assert counts(store) == before and sorted(tmp_path.iterdir()) == files


def test_a_closed_file_holding_only_a_switch_records_it(store, tmp_path):
    spool(tmp_path, SWITCH)
    report = absorb_spool(store, tmp_path)
    assert (report.switches, report.removed != [], list(tmp_path.iterdir())) == (1, True, [])
    assert store.fetch_dicts("SELECT version, spec_hash, parent_version FROM rule_versions ORDER BY version")[-1] == {
        "version": 2, "spec_hash": TO.spec_hash, "parent_version": 1}


def test_unnumbered_decisions_after_a_switch_absorbed_earlier_take_its_version(store, tmp_path):
    spool(tmp_path, SWITCH, AFTER)
    assert absorb_spool(store, tmp_path).inserted == 1
    spool(tmp_path, {**AFTER, "decision_id": "later", "trial": "2", "trial_number": 2})  # the pruner's next file
    assert absorb_spool(store, tmp_path).inserted == 1
    assert store.fetch_dicts("SELECT decision_id, version FROM decisions ORDER BY 1") == [
        {"decision_id": "after", "version": 2}, {"decision_id": "later", "version": 2}]


def test_unnumbered_decisions_of_a_spec_no_switch_leads_to_are_refused(store, tmp_path):
    spool(tmp_path, AFTER)
    with pytest.raises(InvalidInputError, match="no rule switch leads to its spec") as e:
        absorb_spool(store, tmp_path)
    assert e.value.field == "version" and counts(store) == (1, 1, 0)


def test_files_a_spool_writer_does_not_name_are_neither_read_nor_removed(store, tmp_path):
    spool(tmp_path, RECORD)
    stray = [tmp_path / "notes.jsonl.part", tmp_path / "notes.jsonl"]
    for path in stray:
        path.write_text("not a record\n")
    report = absorb_spool(store, tmp_path)
    assert (report.files, report.inserted, report.bad) == (1, 1, 0)
    assert sorted(tmp_path.iterdir()) == stray[::-1]


@pytest.fixture
def short_writes(monkeypatch):
    """os.write takes only half of the first buffer; ``fail`` makes the write after it fail (disk full)."""
    real, state = os.write, {"calls": 0, "fail": False}

    def write(fd: int, data: bytes) -> int:
        state["calls"] += 1
        if state["calls"] == 1:
            return real(fd, data[: len(data) // 2])
        if state["fail"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)
    return state


def test_a_short_write_is_completed(store, tmp_path, short_writes):
    name = spool(tmp_path, RECORD, {**RECORD, "decision_id": "e"})
    assert (tmp_path / name).read_bytes().count(b"\n") == 2
    assert absorb_spool(store, tmp_path).inserted == 2


def test_a_failed_write_leaves_its_torn_line_last_in_a_finished_file(store, tmp_path, short_writes):
    short_writes["fail"] = True
    writer = SpoolWriter(tmp_path)
    with pytest.raises(OSError, match="No space left"):
        writer.append(RECORD)
    torn = writer.path
    assert torn.name.endswith(".jsonl") and not torn.read_bytes().endswith(b"\n")
    short_writes["fail"] = False
    writer.append({**RECORD, "decision_id": "e"})  # a new file, not glued onto the torn line
    writer.close()
    assert writer.path != torn
    report = absorb_spool(store, tmp_path)
    assert (report.files, report.inserted, report.torn, report.bad) == (2, 1, 1, 0)
