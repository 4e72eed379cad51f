"""Parameter and input validation: typed errors that name the field."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_store.drift import ADWIN, CUSUM, CountWindow, Monitor, PageHinkley, Scope, TimeWindow, TwoWindow

from policy_store.errors import InvalidInputError

BAD_PARAMS = [
    (PageHinkley, {"min_instances": 0}, "min_instances"),
    (PageHinkley, {"delta": -1.0}, "delta"),
    (PageHinkley, {"threshold": 0}, "threshold"),
    (PageHinkley, {"alpha": 1.5}, "alpha"),
    (PageHinkley, {"mode": "sideways"}, "mode"),
    (CUSUM, {"k": float("nan")}, "k"),
    (CUSUM, {"threshold": -2.0}, "threshold"),
    (CUSUM, {"target": float("inf")}, "target"),
    (CUSUM, {"min_instances": 2.5}, "min_instances"),
    (ADWIN, {"delta": 0.0}, "delta"),
    (ADWIN, {"delta": 1.0}, "delta"),
    (ADWIN, {"clock": 0}, "clock"),
    (ADWIN, {"max_buckets": 1}, "max_buckets"),
    (ADWIN, {"grace_period": True}, "grace_period"),
    (TwoWindow, {"window_size": 4}, "window_size"),
    (TwoWindow, {"alpha": 0}, "alpha"),
    (TwoWindow, {"test": "t-test"}, "test"),
]


@pytest.mark.parametrize(("cls", "params", "field"), BAD_PARAMS)
def test_bad_parameters_raise_typed_errors(cls, params, field):
    with pytest.raises(InvalidInputError) as info:
        cls(**params)
    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize("cls", [PageHinkley, CUSUM, ADWIN, TwoWindow])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.3", None])
def test_bad_observations_raise(cls, bad):
    detector = cls()
    with pytest.raises(InvalidInputError) as info:
        detector.update(bad)
    assert info.value.field == "x"
    assert detector.n_seen == 0, "a rejected observation must not be counted"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), max_size=200))
def test_any_finite_stream_is_accepted(stream):
    for detector in (PageHinkley(min_instances=5), CUSUM(min_instances=5), ADWIN(clock=4), TwoWindow(window_size=5)):
        for x in stream:
            detector.update(x)
            assert isinstance(detector.drift_detected, bool)
            assert math.isfinite(detector.statistic)
        assert detector.n_seen <= len(stream)


def test_window_and_scope_validation():
    from datetime import timedelta

    with pytest.raises(InvalidInputError, match="size"):
        CountWindow(0)
    with pytest.raises(InvalidInputError, match="span"):
        TimeWindow(timedelta(0))
    with pytest.raises(InvalidInputError, match="tasks"):
        Scope("r", tasks="task-a")
    with pytest.raises(InvalidInputError, match="origin"):
        Monitor(Scope("r"), "regret", origin="cron")
    with pytest.raises(InvalidInputError, match="arl"):
        Monitor(Scope("r"), "regret", arl=0)
    with pytest.raises(InvalidInputError, match="detector"):
        Monitor(Scope("r"), "regret", "ewma")
    with pytest.raises(InvalidInputError, match="metric"):
        Monitor(Scope("r"), "accuracy", ADWIN())
    with pytest.raises(InvalidInputError, match="detector"):
        Monitor(Scope("r"), "regret", object())
