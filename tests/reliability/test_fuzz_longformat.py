"""Hostile long-format input: frames, CSV and Parquet files (the checks live in fuzzing.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_store import PolicyStore
from policy_store.errors import InvalidInputError
from policy_store.ingest import ingest_frame, validate_long_frame
from tests.reliability import fuzzing as fz

_FUZZ = settings(max_examples=fz.EXAMPLES, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@_FUZZ
@given(frame=fz.long_frames())
def test_frames_are_stored_exactly_or_refused_by_field(frame):
    fz.check_ingest_frame(frame)


@_FUZZ
@given(frame=fz.long_frames(), fmt=st.sampled_from(["csv", "parquet"]))
def test_files_are_stored_exactly_or_refused_by_field(tmp_path, frame, fmt):
    fz.check_ingest_file(tmp_path, frame, fmt)


@_FUZZ
@given(data=fz.csv_texts())
def test_raw_csv_bytes_are_stored_exactly_or_refused(tmp_path, data):
    fz.check_ingest_file(tmp_path, data, "csv")


# -- regressions: each of these was a traceback or silently stored wrong before --------------------------
def _frame(**columns):
    base = {"task": "t", "study": "s", "trial": [0, 0, 1], "step": [0, 1, 0], "value": [0.5, 0.4, 0.6]}
    return pd.DataFrame({**base, **columns})


@pytest.mark.parametrize("step", [1e20, 2**62, np.int64(2**63 - 1), np.uint64(2**64 - 1)])
def test_steps_beyond_2_53_are_refused_not_wrapped_to_negative(store, step):
    steps = pd.Series([0, step, 0], dtype=np.asarray(step).dtype if isinstance(step, np.generic) else object)
    with pytest.raises(InvalidInputError) as e:
        ingest_frame(store, _frame(step=steps))
    assert (e.value.row, e.value.field) == (1, "step")
    assert store.row_counts()["curve_points"] == 0


def test_the_largest_step_round_trips(store):
    ingest_frame(store, _frame(step=[0, 2**53 - 1, 0]))
    assert store.scalar("SELECT max(step) FROM curve_points") == 2**53 - 1


@pytest.mark.parametrize("values", [[1j, 2j, 3j], pd.to_datetime(["2020-01-01"] * 3), [0.5, 1j, 0.1]])
def test_complex_and_datetime_values_are_refused(store, values):
    with pytest.raises(InvalidInputError) as e:
        ingest_frame(store, _frame(value=pd.Series(values)))
    assert e.value.field == "value"


@pytest.mark.parametrize("name", fz.CONTROL_NAMES)
@pytest.mark.parametrize("field", ["task", "study", "trial", "metric"])
def test_control_characters_in_names_are_refused(store, name, field):
    with pytest.raises(InvalidInputError, match="control character") as e:
        ingest_frame(store, _frame(**{field: name}))
    assert (e.value.row, e.value.field) == (0, field)


def test_a_lone_surrogate_is_refused(store):
    with pytest.raises(InvalidInputError, match="surrogate") as e:
        ingest_frame(store, _frame(task=pd.Series(["a\ud800"] * 3, dtype=object)))
    assert e.value.field == "task"


@pytest.mark.parametrize("params", ['{"a": NaN}', "[" * 100_000 + "]" * 100_000, '{"a": ' + "9" * 5000 + "}"])
def test_params_that_json_cannot_hold_are_refused(store, params):
    with pytest.raises(InvalidInputError, match="not valid JSON") as e:
        ingest_frame(store, _frame(params=params))
    assert (e.value.row, e.value.field) == (0, "params")


def test_mixed_numbers_and_labels_in_a_trial_column_are_labels():
    canonical = validate_long_frame(_frame(trial=pd.Series([0, 0, "warm"], dtype=object)))
    assert canonical["trial"].to_pylist() == ["0", "0", "warm"]


@pytest.mark.parametrize("trial", [np.inf, 1e300, 1.5])
def test_float_trial_ids_that_are_no_integers_are_refused(store, trial):
    with pytest.raises(InvalidInputError) as e:
        ingest_frame(store, _frame(trial=[0.0, 0.0, trial]))
    assert (e.value.row, e.value.field) == (2, "trial")


def test_hostile_names_round_trip_exactly(store):
    frame = pd.concat([_frame(task=name, study=f"study {i} {name}") for i, name in enumerate(fz.HOSTILE_NAMES)])
    ingest_frame(store, frame)
    expected = sorted({name.strip() for name in fz.HOSTILE_NAMES})  # labels are trimmed, by design
    assert sorted(r["task"] for r in store.fetch_dicts("SELECT task FROM tasks")) == expected
    assert store.scalar("SELECT count(*) FROM rules") == 0 and store.scalar("SELECT count(*) FROM studies") == len(
        fz.HOSTILE_NAMES)


def test_a_million_point_study_is_ingested_and_a_bad_last_row_is_named(tmp_path):
    n_trials, n_steps = 1000, 1000
    trial = np.repeat(np.arange(n_trials), n_steps)
    step = np.tile(np.arange(n_steps), n_trials)
    frame = pd.DataFrame({"task": "big", "study": "big/1", "trial": trial, "step": step,
                          "value": 1.0 / (step + 1 + trial % 7), "cost_seconds": 0.01})
    with PolicyStore(tmp_path / "big.duckdb") as store:
        bad = frame.copy()
        bad.loc[len(bad) - 1, "step"] = -1
        with pytest.raises(InvalidInputError) as e:
            ingest_frame(store, bad)
        assert (e.value.row, e.value.field) == (len(frame) - 1, "step")
        assert store.row_counts()["curve_points"] == 0
        report = ingest_frame(store, frame)
        assert report.points_written == 1_000_000
        assert store.scalar("SELECT n_trials FROM studies WHERE study = 'big/1'") == n_trials


def test_a_repeated_column_is_refused_by_name(store, tmp_path):
    from policy_store.ingest import ingest_file

    path = tmp_path / "twice.csv"
    path.write_text("task,study,trial,step,value,task\nt,s,0,0,0.5,u\n")  # found by the campaign: AttributeError
    with pytest.raises(InvalidInputError, match="more than once") as e:
        ingest_file(store, path)
    assert e.value.field == "task"
    assert store.row_counts()["curve_points"] == 0
