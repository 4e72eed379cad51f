"""Learning-curve meta-features pinned on hand-made curves."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from policy_store.meta.features.curve import CURVE_FEATURES, curve_meta_features, study_curve_features

from policy_store.errors import InvalidInputError
from policy_store.ingest import ingest_frame


def _frame(curves: dict[str, list[float]]) -> pd.DataFrame:
    rows = [(t, s, v) for t, values in curves.items() for s, v in enumerate(values)]
    return pd.DataFrame(rows, columns=["trial", "step", "value"])


def test_linear_curves_have_no_noise_and_exact_slopes():
    f = _frame({"a": [0.1, 0.2, 0.3, 0.4], "b": [0.3, 0.35, 0.4, 0.45], "c": [0.0, 0.2, 0.4, 0.6]})
    q = curve_meta_features(f, early_steps=2)
    assert q["curve_early_slope"] == pytest.approx(0.1)  # median of 0.1, 0.05, 0.2
    assert q["curve_noise"] == pytest.approx(0.0, abs=1e-12)
    # b stays ahead of a; c starts behind a and b and ends ahead of both: 2 of 3 pairs cross
    assert q["curve_crossing_rate"] == pytest.approx(2 / 3)
    assert q["curve_trials"] == 3.0
    assert list(q) == list(CURVE_FEATURES)


def test_minimize_is_oriented_and_ranks_are_compared():
    losses = {"a": [1.0, 0.8, 0.6, 0.5], "b": [0.9, 0.7, 0.5, 0.4], "c": [0.8, 0.6, 0.4, 0.3]}
    q = curve_meta_features(_frame(losses), direction="minimize", early_steps=2)
    assert q["curve_early_slope"] == pytest.approx(0.2)  # improving: positive
    assert q["curve_crossing_rate"] == 0.0
    assert q["curve_early_final_spearman"] == pytest.approx(1.0)


def test_noise_of_an_alternating_curve():
    # second differences of 0, 1, 0, 1 are 2, -2: std (ddof 1) 2*sqrt(2), / sqrt(6)
    q = curve_meta_features(_frame({"a": [0.0, 1.0, 0.0, 1.0]}))
    assert q["curve_noise"] == pytest.approx(2 * math.sqrt(2) / math.sqrt(6))
    assert math.isnan(q["curve_crossing_rate"]) and math.isnan(q["curve_early_final_spearman"])


def test_first_trials_only_in_recorded_order():
    f = _frame({"z": [0.0, 0.1], "a": [0.0, 0.5]})
    assert curve_meta_features(f, first_trials=1)["curve_early_slope"] == pytest.approx(0.1)
    f["trial_number"] = f["trial"].map({"z": 1, "a": 0})
    assert curve_meta_features(f, first_trials=1)["curve_early_slope"] == pytest.approx(0.5)


def test_bad_input():
    with pytest.raises(InvalidInputError) as e:
        curve_meta_features(pd.DataFrame({"trial": ["a"], "step": [0]}))
    assert e.value.field == "value"
    with pytest.raises(InvalidInputError) as e:
        curve_meta_features(_frame({"a": [1.0]}), direction="up")
    assert e.value.field == "direction"


def test_from_the_store(store):
    frame = _frame({"a": [0.5, 0.4, 0.3], "b": [0.6, 0.5, 0.45]}).assign(task="t", study="s", direction="minimize")
    ingest_frame(store, frame)
    # oriented (negated) losses rise by 0.1 per step over the first two points of both trials
    assert study_curve_features(store, "s", early_steps=2)["curve_early_slope"] == pytest.approx(0.1)
    with pytest.raises(InvalidInputError) as e:
        study_curve_features(store, "nope")
    assert e.value.field == "study"


def test_spearman_is_scipys_bit_for_bit_with_ties():
    import numpy as np
    from policy_store.meta.features.curve import _spearman
    from scipy import stats

    rng = np.random.default_rng(7)
    for n in (3, 4, 9, 50):
        for tied in (False, True):
            for _ in range(50):
                a, b = rng.normal(size=n), rng.normal(size=n)
                if tied:
                    a, b = np.round(a), np.round(2 * b)
                if np.ptp(a) > 0 and np.ptp(b) > 0:
                    assert _spearman(a, b) == float(stats.spearmanr(a, b).statistic)


def test_from_study_curves_as_from_their_rows():
    # recommend --curves reads the study's arrays (no pandas): the same features, NaNs and unreported points too
    import numpy as np
    from policy_store.meta.learner.training_data import curves_frame

    from policy_store.curves import StudyCurves

    rng = np.random.default_rng(1)
    values = rng.normal(size=(30, 8)).cumsum(axis=1)
    values[rng.random(values.shape) < 0.2] = np.nan
    values[3] = np.nan                                       # a trial without a known value is not counted
    c = StudyCurves.from_arrays("s", values, present=rng.random(values.shape) < 0.9)
    for direction in ("maximize", "minimize"):
        for first, early in ((20, 3), (5, 2), (40, 4)):
            a = curve_meta_features(curves_frame(c), direction=direction, first_trials=first, early_steps=early)
            b = curve_meta_features(c, direction=direction, first_trials=first, early_steps=early)
            assert a.keys() == b.keys()
            assert all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a.values(), b.values(), strict=True))
