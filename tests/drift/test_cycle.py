"""`policy-store cycle STUDY_FILE`: ingest, outcomes and monitors in one call, per finished study."""

from __future__ import annotations

import json

import pytest
from policy_store.drift import list_events, recalibrate, run_cycle

from policy_store import PolicyStore
from policy_store.cli import main as cli
from policy_store.rules import add_rule_version
from tests.drift.conftest import store_from, studies


@pytest.fixture
def run(capsys):
    def invoke(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return invoke


def study_file(tmp_path, prefix: str, i: int, *, late_bloomer: bool) -> str:
    frame = studies(prefix, i + 1, late_bloomer=late_bloomer, seed=7).query(f"study == '{prefix}-{i:03d}'")
    path = tmp_path / f"{prefix}-{i:03d}.csv"
    frame.assign(direction="minimize").to_csv(path, index=False)
    return str(path)


def test_each_finished_study_is_ingested_evaluated_and_watched(run, templates, tmp_path):
    path = store_from(templates, "a", tmp_path)
    code, out, _ = run("--store", path, "cycle", study_file(tmp_path, "b", 0, late_bloomer=False))
    assert code == 0 and "1 study added" in out and "outcomes: 5 new for median@1" in out
    assert "no drift in killed_best:glr of median@1 (61 studies watched" in out
    # A changed task: in one trial order of five the rule now kills the best trial. Each cycle sees one more
    # study; the killed-best monitor adds about 2 to its statistic per study until it crosses 5 (capped at 3
    # standard units, the reference's half pseudo-study at 1 no longer sets the threshold: it was 12.2, alarm 7th).
    lines = [run("--store", path, "cycle", study_file(tmp_path, "b", i, late_bloomer=True))[1] for i in range(1, 9)]
    first = next(i for i, text in enumerate(lines) if "\ndrift in " in text)
    assert first == 2 and "changed from study b-001" in lines[first] and "recalibrate` will act on it" in lines[first]
    assert "waiting: killed_best:glr of median@1" in lines[-1] and "\ndrift in" not in lines[-1]
    with PolicyStore(path) as store:
        [event] = list_events(store, rule="median")
        assert (event.origin, event.status) == ("scheduled", "open")
        result = recalibrate(store, trigger="cron")
        assert [e["event_id"] for e in result.events] == [event.event_id] and result.pending
    # The same file again: nothing new.
    code, out, _ = run("--store", path, "cycle", study_file(tmp_path, "b", 5, late_bloomer=True), "--json")
    payload = json.loads(out)
    assert code == 0 and payload["outcomes_written"] == 0 and "unchanged" in payload["ingest"]


def test_a_rule_not_in_use_yet_is_named(run, store, tmp_path):
    add_rule_version(store, "median", {"strategy": "median"}, created_by="test")
    result = run_cycle(store, study_file(tmp_path, "n", 0, late_bloomer=False))
    assert result.rules == [] and result.checks == [] and result.studies == ["n-000"]
    result = run_cycle(store, study_file(tmp_path, "n", 1, late_bloomer=False), rules=["median"])
    assert result.rules == ["median@1"] and [c.status for c in result.checks] == ["warming up"] * 3


def test_bad_input_leaves_the_store_as_it_was(run, templates, tmp_path):
    path = store_from(templates, "a", tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("task,study,trial,step,value\nt,s,0,0,not-a-number\n")
    with PolicyStore(path) as store:
        before = store.row_counts()
    code, _, err = run("--store", path, "cycle", str(bad))
    assert code == 1 and err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    code, _, err = run("--store", path, "cycle", str(tmp_path / "missing.csv"))
    assert code == 1 and err.startswith("Error: ")
    code, _, err = run("--store", path, "cycle", study_file(tmp_path, "b", 0, late_bloomer=False), "--rule", "nope")
    assert code == 1 and "nope" in err
    with PolicyStore(path) as store:
        assert store.row_counts() == before
