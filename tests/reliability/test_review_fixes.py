"""Defects a review found: special files as artifacts, symlink loops, repeated columns, tampered trial rows."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest
from policy_store.meta.learner.artifacts import save_artifact

from policy_store import PolicyStore
from policy_store.check import check_store
from policy_store.errors import InvalidInputError
from policy_store.ingest import ingest_frame
from policy_store.ingest.files import ingest_file
from policy_store.ingest.stream import ingest_csv_stream
from policy_store.outputs import output_dir


@pytest.fixture
def no_hang():
    """Fail, instead of hanging the run, when the test takes more than a few seconds."""
    def expire(signum, frame):
        raise TimeoutError("the check hung")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("special", ["fifo", "dev-zero", "folder"])
def test_an_artifact_that_is_not_a_regular_file_is_a_violation_not_a_hang(tmp_path, no_hang, special):
    with PolicyStore.memory() as store:
        model = save_artifact(store, {"weights": [1, 2, 3]}, directory=tmp_path / "artifacts")
        (path,) = [Path(p) for (p,) in store.execute("SELECT path FROM meta_models").fetchall()]
        path.unlink()
        if special == "fifo":
            os.mkfifo(path)
        elif special == "folder":
            path.mkdir()
        else:
            store.execute("UPDATE meta_models SET path = '/dev/zero'")
        (violation,) = check_store(store).violations
    assert (violation.invariant, violation.table, violation.key) == ("artifact", "meta_models", model)
    assert "not a regular file" in violation.detail


def test_an_artifact_behind_a_symlink_is_a_violation(tmp_path):
    with PolicyStore.memory() as store:
        save_artifact(store, {"weights": [1]}, directory=tmp_path / "artifacts")
        (path,) = [Path(p) for (p,) in store.execute("SELECT path FROM meta_models").fetchall()]
        real = path.rename(tmp_path / "real.pkl")
        path.symlink_to(real)
        (violation,) = check_store(store).violations
    assert "a symlink, not a regular file" in violation.detail


def test_a_symlink_loop_on_the_way_to_an_output_folder_is_a_typed_error(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(InvalidInputError, match="cannot resolve") as caught:
        output_dir(tmp_path / "loop" / "report", field="out")
    assert caught.value.field == "out" and "loop" in str(caught.value)


def test_a_repeated_column_is_refused_by_the_stream_as_by_the_whole_file_path(tmp_path):
    path = tmp_path / "curves.csv"
    path.write_text("task,study,trial,step,value,value\nt,s,0,0,0.5,9\nt,s,0,1,0.4,9\n")
    errors = []
    for read in (lambda s: ingest_csv_stream(s, path, block_size=1 << 10), lambda s: ingest_file(s, path)):
        with PolicyStore.memory() as store, pytest.raises(InvalidInputError) as caught:
            read(store)
        errors.append((caught.value.field, str(caught.value)))
    assert errors[0] == errors[1] and errors[0][0] == "value"


@pytest.fixture
def two_trials():
    with PolicyStore.memory() as store:
        ingest_frame(store, pd.DataFrame({"task": "t", "study": "s", "trial": [0, 0, 1, 1, 2], "step": [0, 1, 0, 1, 0],
                                          "value": [0.5, 0.4, 0.7, 0.6, 0.9],
                                          "cost_seconds": [0.1, 0.2, 1.0, None, 0.3]}))
        assert check_store(store).ok
        yield store


TAMPERED = {
    "final-value": ("final_value = 99", "records final value 99.0, its last point has 0.4"),
    "final-value-null": ("final_value = NULL", "records final value NULL, its last point has 0.4"),
    "cost": ("cost_seconds = 1e9", "records cost 1000000000.0 s, its points sum to 0.3"),
    "cost-null": ("cost_seconds = NULL", "records cost NULL s"),
    "n-steps": ("n_steps = 3", "records 3 steps up to 1, has 2 points up to 1"),
}


@pytest.mark.parametrize("name", list(TAMPERED))
def test_a_tampered_trial_row_is_found(two_trials, name):
    change, detail = TAMPERED[name]
    two_trials.execute(f"UPDATE trials SET {change} WHERE trial = '0'")  # noqa: S608 - constants
    (violation,) = check_store(two_trials).violations
    assert (violation.invariant, violation.table, violation.key) == ("content-hash", "trials", "s/0")
    assert detail in violation.detail


def test_a_cost_is_known_only_when_every_point_has_one(two_trials):
    two_trials.execute("UPDATE trials SET cost_seconds = 1.0 WHERE trial = '1'")
    (violation,) = check_store(two_trials).violations
    assert violation.key == "s/1" and "its points sum to NULL s" in violation.detail


def test_a_cost_summed_in_another_order_is_not_a_violation(two_trials):
    two_trials.execute("UPDATE trials SET cost_seconds = 0.2 + 0.1 WHERE trial = '0'")
    assert check_store(two_trials).ok


def test_a_trial_number_shared_by_two_trials_is_found(two_trials):
    two_trials.execute("UPDATE trials SET trial_number = 2 WHERE trial = '0'")
    (violation,) = check_store(two_trials).violations
    assert (violation.table, violation.key) == ("trials", "s/0,2")
    assert violation.detail == "2 trials share trial number 2"


def test_the_reviewers_tampering_is_found(two_trials):
    two_trials.execute("UPDATE trials SET final_value = 99, trial_number = 7, cost_seconds = 1e9 WHERE trial = '0'")
    (violation,) = check_store(two_trials).violations
    assert "final value 99.0" in violation.detail and "records cost 1000000000.0 s" in violation.detail


def test_integer_labels_written_differently_get_distinct_trial_numbers():
    """'0', '00' and '+0' all cast to 0: such a study is numbered by label order, so no two trials share one."""
    frame = pd.DataFrame({"task": "t", "study": "s", "trial": ["0", "00", "+0", "0", "00", "+0"],
                          "step": [0, 0, 0, 1, 1, 1], "value": [0.5, 0.4, 0.7, 0.6, 0.9, 0.3]})
    with PolicyStore.memory() as store:
        ingest_frame(store, frame)
        numbers = dict(store.execute("SELECT trial, trial_number FROM trials").fetchall())
        assert sorted(numbers.values()) == [0, 1, 2] and check_store(store).ok
        ingest_frame(store, frame.assign(study="plain", trial=["3", "7", "12", "3", "7", "12"]))
        assert dict(store.execute("SELECT trial, trial_number FROM trials WHERE study = 'plain'").fetchall()) == {
            "3": 3, "7": 7, "12": 12}  # canonical integer labels keep their own numbers
