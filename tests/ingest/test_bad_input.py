"""Every bad-input class: a typed error naming the row and field, and a store left exactly as it was."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policy_store import DirectionMismatchError, InvalidInputError, StudyConflictError
from policy_store.ingest import ingest_file, ingest_frame
from tests.conftest import make_frame


@pytest.fixture
def seeded(store):
    """A store that already holds one study, so 'unchanged' means more than 'empty'."""
    ingest_frame(store, make_frame(n_studies=1, task="seed-task"))
    return store


def _assert_refused(store, frame, row, field, error=InvalidInputError, **kwargs):
    before = store.row_counts()
    with pytest.raises(error) as info:
        ingest_frame(store, frame, **kwargs)
    assert info.value.row == row
    assert info.value.field == field
    assert f"row {row}" in str(info.value) if row is not None else True
    assert store.row_counts() == before
    return info.value


def test_missing_required_column(seeded, frame):
    err = _assert_refused(seeded, frame.drop(columns=["value"]), None, "value")
    assert "required column missing" in str(err)


def test_unknown_column_is_named(seeded, frame):
    _assert_refused(seeded, frame.rename(columns={"cost_seconds": "cost"}), None, "cost")


def test_non_numeric_value(seeded, frame):
    frame = frame.astype({"value": object})
    frame.loc[5, "value"] = "0.3x"
    err = _assert_refused(seeded, frame, 5, "value")
    assert "'0.3x'" in str(err)


def test_non_numeric_step(seeded, frame):
    frame = frame.astype({"step": object})
    frame.loc[2, "step"] = "two"
    _assert_refused(seeded, frame, 2, "step")


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_value(seeded, frame, bad):
    frame.loc[7, "value"] = bad
    _assert_refused(seeded, frame, 7, "value")


def test_infinite_cost(seeded, frame):
    frame.loc[3, "cost_seconds"] = np.inf
    _assert_refused(seeded, frame, 3, "cost_seconds")


def test_negative_cost(seeded, frame):
    frame.loc[4, "cost_seconds"] = -1.0
    _assert_refused(seeded, frame, 4, "cost_seconds")


def test_nan_value_in_complete_trial(seeded, frame):
    frame.loc[6, "value"] = np.nan
    err = _assert_refused(seeded, frame, 6, "value")
    assert "PRUNED or FAIL" in str(err)


def test_nan_value_allowed_in_failed_trial(store, frame):
    frame["state"] = "COMPLETE"
    trial = frame["study"].eq(frame.loc[6, "study"]) & frame["trial"].eq(frame.loc[6, "trial"])
    frame.loc[trial, "state"] = "FAIL"
    frame.loc[6, "value"] = np.nan
    report = ingest_frame(store, frame)
    assert report.points_written == len(frame)
    assert store.scalar("SELECT count(*) FROM curve_points WHERE isnan(value)") == 1


def test_fractional_step(seeded, frame):
    frame["step"] = frame["step"].astype(float)
    frame.loc[9, "step"] = 1.5
    _assert_refused(seeded, frame, 9, "step")


def test_negative_step(seeded, frame):
    frame.loc[8, "step"] = -1
    _assert_refused(seeded, frame, 8, "step")


def test_duplicate_trial_step(seeded, frame):
    dup = pd.concat([frame, frame.iloc[[3]]], ignore_index=True)
    err = _assert_refused(seeded, dup, len(frame), "step")
    assert "duplicate point" in str(err)


def test_unknown_direction_string(seeded, frame):
    frame["direction"] = "minimize"
    frame.loc[10, "direction"] = "max"
    _assert_refused(seeded, frame, 10, "direction")


def test_mixed_directions_within_task(seeded, frame):
    frame["direction"] = "minimize"
    frame.loc[12, "direction"] = "maximize"
    err = _assert_refused(seeded, frame, 12, "direction")
    assert "more than one direction" in str(err)


def test_direction_disagrees_with_store(seeded):
    other = make_frame(n_studies=1, task="seed-task", seed=5)
    other["study"] = "seed-task/another"
    other["direction"] = "maximize"
    _assert_refused(seeded, other, 0, "direction", error=DirectionMismatchError)


def test_unknown_state(seeded, frame):
    frame["state"] = "COMPLETE"
    frame.loc[1, "state"] = "DONE"
    _assert_refused(seeded, frame, 1, "state")


def test_two_states_in_one_trial(seeded, frame):
    frame["state"] = "COMPLETE"
    frame.loc[2, "state"] = "PRUNED"
    _assert_refused(seeded, frame, 2, "state")


def test_params_not_json(seeded, frame):
    frame["params"] = '{"lr": 0.1}'
    frame.loc[4, "params"] = "{lr: 0.1"
    _assert_refused(seeded, frame, 4, "params")


def test_missing_label(seeded, frame):
    frame = frame.astype({"study": object})
    frame.loc[11, "study"] = None
    _assert_refused(seeded, frame, 11, "study")


def test_empty_frame(seeded, frame):
    _assert_refused(seeded, frame.iloc[:0], None, None)


def test_changed_study_refused_unless_replace(store, frame):
    ingest_frame(store, frame)
    before = store.row_counts()
    changed = frame.copy()
    changed.loc[0, "value"] = 0.01
    with pytest.raises(StudyConflictError, match="different content"):
        ingest_frame(store, changed)
    assert store.row_counts() == before
    report = ingest_frame(store, changed, replace=True)
    assert report.replaced == [changed.loc[0, "study"]]
    assert store.scalar("SELECT min(value) FROM curve_points") == pytest.approx(0.01)
    assert store.row_counts() == before


def test_empty_file(seeded, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    before = seeded.row_counts()
    with pytest.raises(InvalidInputError, match="empty"):
        ingest_file(seeded, path)
    assert seeded.row_counts() == before


def test_header_only_file(seeded, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("task,study,trial,step,value\n")
    with pytest.raises(InvalidInputError, match="no rows"):
        ingest_file(seeded, path)


def test_non_utf8_file_names_the_line(seeded, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("task,study,trial,step,value\nt,s,0,0,0.5\ncaf\xe9,s,0,1,0.4\n".encode("latin-1"))
    before = seeded.row_counts()
    with pytest.raises(InvalidInputError, match="line 3") as info:
        ingest_file(seeded, path)
    assert "UTF-8" in str(info.value)
    assert seeded.row_counts() == before


def test_csv_error_names_file_line_row_and_field(seeded, tmp_path, frame):
    frame = frame.astype({"value": object})
    frame.loc[3, "value"] = "oops"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidInputError) as info:
        ingest_file(seeded, path)
    assert (info.value.row, info.value.field) == (3, "value")
    assert str(info.value).startswith(f"{path} line 5 (row 3, field 'value')")


def test_unreadable_parquet(seeded, tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidInputError, match="Parquet"):
        ingest_file(seeded, path)


@pytest.mark.parametrize("field", ["value", "step", "cost_seconds"])
def test_boolean_in_numeric_column(seeded, frame, field):
    frame = frame.astype({field: object})
    frame.loc[3, field] = True
    _assert_refused(seeded, frame, 3, field)


def test_partly_new_input_adds_only_the_new_studies(store):
    first = make_frame(n_studies=2)
    ingest_frame(store, first)
    both = pd.concat([first, make_frame(n_studies=3).query("study == 'task-a/study-2'")], ignore_index=True)
    report = ingest_frame(store, both)
    assert report.added == ["task-a/study-2"]
    assert sorted(report.unchanged) == ["task-a/study-0", "task-a/study-1"]
    assert store.scalar("SELECT count(*) FROM curve_points") == len(both)
    assert store.scalar("SELECT count(*) FROM studies") == 3
