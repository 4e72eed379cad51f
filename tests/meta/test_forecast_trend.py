"""The forecaster's per-curve extrapolation features: exact on the families they fit, the same in the compiled
loop and in numpy, absent below three points, and finite on hostile curves."""

from __future__ import annotations

import numpy as np
import pytest
from policy_store.meta.forecast._base import ABSOLUTE_FLOOR, LARGEST, RELATIVE_FLOOR, last_and_scale
from policy_store.meta.forecast.features import (
    FEATURES,
    LOOKBACK,
    PREFIX_FEATURES,
    TREND_FEATURES,
    TREND_POINTS,
    _features_loop,
    features_numpy,
    prefix_features,
)

TREND = [FEATURES.index(name) for name in TREND_FEATURES]


def _trend(values: np.ndarray, seen: int, n_steps: int, maximize: bool) -> np.ndarray:
    row = np.where(np.arange(len(values)) < seen, values, np.nan)[None, :]
    return prefix_features(row, np.array([seen]), n_steps, maximize)[0, TREND]


@pytest.mark.parametrize("maximize", [True, False])
def test_the_extrapolation_is_exact_on_the_family_it_fits(maximize):
    x = np.arange(1, 41, dtype=float)
    sign = 1.0 if maximize else -1.0
    for seen in (4, 10, 25):
        pow3 = sign * (0.9 - 0.4 * x ** -0.5)          # better = larger, either direction
        last, scale = last_and_scale(pow3[None, :], np.array([seen]))
        gain = (0.4 * seen ** -0.5 - 0.4 * 40 ** -0.5) / scale[0]
        t = _trend(pow3, seen, 40, maximize)
        assert t[0] == pytest.approx(gain, rel=1e-9) and t[2] == pytest.approx(0.0, abs=1e-9)
        logline = sign * (0.3 + 0.05 * np.log(x))
        last, scale = last_and_scale(logline[None, :], np.array([seen]))
        t = _trend(logline, seen, 40, maximize)
        assert t[1] == pytest.approx(0.05 * np.log(40 / seen) / scale[0], rel=1e-9)
        assert t[2] > 0.0                                  # a log line is not pow3: the residual says so


def test_a_rising_curve_extrapolates_up_and_a_flat_one_not_at_all():
    x = np.arange(1, 31, dtype=float)
    assert np.all(_trend(0.9 - 0.5 * np.exp(-x / 20), 10, 30, True)[:2] > 0)
    flat = _trend(np.full(30, 0.7), 10, 30, True)
    assert np.array_equal(flat, np.zeros(3))


def test_below_three_points_there_is_no_extrapolation():
    for seen in range(1, TREND_POINTS):
        assert np.isnan(_trend(np.linspace(0.1, 0.9, 10), seen, 10, True)).all()
    assert np.isfinite(_trend(np.linspace(0.1, 0.9, 10), TREND_POINTS, 10, True)).all()


@pytest.mark.parametrize("maximize", [True, False])
def test_the_compiled_loop_equals_numpy_and_python(maximize):
    rng = np.random.default_rng(3)
    values = np.cumsum(rng.normal(0.01, 0.05, (300, 30)), axis=1) * rng.choice([1e-6, 1.0, 1e6], (300, 1))
    values[:5] = [np.full(30, 0.7), np.zeros(30), np.where(np.arange(30) < 9, 1.0, 0.2),
                  1e250 * (1 + np.exp(-np.arange(30))), np.where(np.arange(30) % 2, 1.0, -1.0)]
    seen = rng.integers(1, 31, 300)
    seen[:5] = 20
    values = np.where(np.arange(30)[None, :] < seen[:, None], values, np.nan)
    compiled = prefix_features(values, seen, 45, maximize)[:, :len(PREFIX_FEATURES)]
    reference = features_numpy(values, seen, 45, maximize)[:, :len(PREFIX_FEATURES)]
    python = np.empty((300, len(FEATURES)))
    _features_loop(values, seen, 45, maximize, RELATIVE_FLOOR, ABSOLUTE_FLOOR, LARGEST, LOOKBACK, python)
    python = python[:, :len(PREFIX_FEATURES)]
    for other in (reference, python):
        assert np.array_equal(np.isnan(compiled), np.isnan(other))
        assert np.allclose(compiled, other, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert np.isfinite(compiled[seen >= TREND_POINTS][:, TREND]).all()
