"""Property-based tests: malformed frames never move the store; valid frames round-trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_store import InvalidInputError, PolicyStore
from policy_store.ingest import ingest_frame
from tests.conftest import make_frame

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_BAD_CELLS = {
    "value": st.sampled_from([np.inf, -np.inf, "abc", "1,5", True, False]),
    "step": st.sampled_from([-1, 1.5, np.nan, "x", np.inf]),
    "cost_seconds": st.sampled_from([-0.5, np.inf, "slow"]),
    "direction": st.sampled_from(["max", "MIN", "up", "minimise"]),
    "state": st.sampled_from(["DONE", "ok", "complete!"]),
    "params": st.sampled_from(["{", "[1, 2]", "3", "{'a': 1}"]),
    "study": st.sampled_from([None, "", "   "]),
}


@st.composite
def malformed(draw):
    shape = {"n_studies": draw(st.integers(1, 3)), "n_trials": draw(st.integers(1, 4))}
    frame = make_frame(**shape, seed=draw(st.integers(0, 9)))
    frame["direction"] = "minimize"
    frame["state"] = "COMPLETE"
    frame["params"] = '{"lr": 0.1}'
    field = draw(st.sampled_from(sorted(_BAD_CELLS)))
    row = draw(st.integers(0, len(frame) - 1))
    bad = draw(_BAD_CELLS[field])
    frame = frame.astype({field: object})
    frame.loc[row, field] = bad
    return frame, row, field


@_SETTINGS
@given(case=malformed())
def test_malformed_frames_leave_the_store_unchanged(case):
    frame, row, field = case
    with PolicyStore.memory() as store:
        ingest_frame(store, make_frame(n_studies=1, task="existing"))
        before = store.row_counts()
        try:
            ingest_frame(store, frame)
        except InvalidInputError as e:
            assert e.field == field
            assert e.row == row
        else:  # pragma: no cover - every drawn cell is invalid
            raise AssertionError(f"accepted a bad {field!r} at row {row}")
        assert store.row_counts() == before


@_SETTINGS
@given(
    n_studies=st.integers(1, 3),
    n_trials=st.integers(1, 5),
    n_steps=st.integers(1, 6),
    seed=st.integers(0, 100),
    shuffle=st.integers(0, 100),
)
def test_valid_frames_round_trip_and_reingest_is_a_noop(n_studies, n_trials, n_steps, seed, shuffle):
    frame = make_frame(n_studies, n_trials, n_steps, seed=seed)
    with PolicyStore.memory() as store:
        report = ingest_frame(store, frame)
        assert report.points_written == len(frame)
        stored = store.fetch_df("SELECT study, trial, step, value, cost_seconds FROM curve_points")
        expected = frame.assign(trial=frame["trial"].astype(str))[stored.columns]
        pd.testing.assert_frame_equal(
            stored.sort_values(["study", "trial", "step"]).reset_index(drop=True),
            expected.sort_values(["study", "trial", "step"]).reset_index(drop=True),
            check_dtype=False,
        )
        before = store.row_counts()
        again = ingest_frame(store, frame.sample(frac=1, random_state=shuffle))
        assert again.added == [] and sorted(again.unchanged) == sorted(frame["study"].unique())
        assert store.row_counts() == before
