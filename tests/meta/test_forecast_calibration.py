"""The within-study calibration: the conformal rank covers a new exchangeable miss at its level, and the
study's own curves widen the intervals when the model misses them and narrow them when they are too wide."""

from __future__ import annotations

import numpy as np
import pytest
from policy_store.meta.forecast import load_forecaster
from policy_store.meta.forecast.calibration import HIGHEST, conformal_quantile, width_factors

LEVEL = 0.8


@pytest.mark.parametrize(("m", "low", "high"), [(2, 2 / 3, 2 / 3), (3, 3 / 4, 3 / 4), (5, 4 / 6, 5 / 6),
                                               (8, 7 / 9, 8 / 9)])
def test_the_conformal_rank_covers_a_new_miss_at_its_level(m, low, high):
    """Seeded draws of m + 1 exchangeable misses: the new one is at most the value of rank LEVEL * (m + 1)
    (interpolated; the largest when that exceeds m) with a probability between the neighbouring ranks'
    j / (m + 1), whatever the misses' distribution."""
    rng = np.random.default_rng(0)
    for draw in (rng.exponential, rng.lognormal, rng.uniform):
        scores = draw(size=(20_000, m + 1))
        covered = np.mean([s[-1] <= conformal_quantile(s[:-1], LEVEL) for s in scores])
        assert low - 0.012 < covered < high + 0.012, (draw.__name__, covered)
        assert abs(covered - LEVEL) < 0.05 or m < 4, (draw.__name__, covered)


def _study(final_jump: float, n: int = 8, steps: int = 30) -> np.ndarray:
    """Saturating curves with distinct levels; the last step adds ``final_jump`` times a seeded +-1."""
    k = np.arange(steps, dtype=float)
    jumps = np.random.default_rng(1).choice([-1.0, 1.0], n) * final_jump
    curves = np.vstack([0.5 + d + 0.2 * (1 - np.exp(-k / 5)) for d in np.linspace(0, 0.2, n)])
    curves[:, -1] += jumps
    return curves


def test_the_study_curves_widen_or_narrow_the_interval():
    fc = load_forecaster()
    calm, wild = _study(0.0), _study(0.5)
    assert np.all(width_factors(fc._reference_raw, calm, 10, 30, True) < 1.0)  # the model is too wide here
    wide = width_factors(fc._reference_raw, wild, 10, 30, True)  # finals jump far outside every interval
    assert np.all(wide > 1.0) and wide[1] > 2.0, wide
    assert width_factors(fc._reference_raw, wild[:3], 10, 30, True) is None     # 3 curves: the model stands
    prefix, seen = wild[:1, :10], np.array([10])
    q = fc.quantiles(prefix, seen, 30, True, (0.1, 0.9), context=wild[1:])
    raw = fc._raw(prefix, seen, 30, True, (0.1, 0.9), context=wild[1:])
    assert q[0, 1] - q[0, 0] > 2.0 * (raw[0, 1] - raw[0, 0])


def test_an_infinite_miss_gives_the_widest_finite_factor():
    """A zero-width backtest that missed (constant curves whose finals differ) is an infinite miss: the factor is
    the cap, never NaN."""
    assert conformal_quantile(np.array([0.5, 1.0, np.inf, np.inf]), LEVEL) == np.inf
    curves = np.full((6, 12), 0.7)
    curves[:, -1] = [0.1, 0.9, 0.2, 0.8, 0.3, 0.7]
    fc = load_forecaster()
    factors = width_factors(fc._reference_raw, curves, 6, 12, True)
    assert np.all(np.isfinite(factors)) and np.all((factors > 0) & (factors <= HIGHEST))
    q = fc.quantiles(curves[:1, :6], np.array([6]), 12, True, (0.05, 0.1, 0.5, 0.9, 0.95), context=curves[1:])
    assert np.all(np.isfinite(q)) and np.all(np.diff(q) >= 0)


def test_the_calibration_cache_keeps_a_digest_of_the_context_not_its_values():
    """A study passes a new context at each completion: each leaves a key of fixed size (not the context's
    112 kB here), and the cached answer is the one a fresh forecaster computes."""
    import sys

    from policy_store.meta.forecast.learned import QuantileForecaster

    trees = load_forecaster().trees
    fc = QuantileForecaster(trees)
    curves = _study(0.5, steps=2000)
    prefix, seen = curves[:1, :10], np.array([10])
    first = fc.quantiles(prefix, seen, 2000, True, context=curves[1:])
    assert len(fc._factors) == 1 and sum(sys.getsizeof(part) for part in next(iter(fc._factors))) < 1000
    assert np.array_equal(fc.quantiles(prefix, seen, 2000, True, context=curves[1:]), first)
    assert np.array_equal(QuantileForecaster(trees).quantiles(prefix, seen, 2000, True, context=curves[1:]), first)
    other = curves[1:].copy()
    other[0, -1] += 1.0                     # one value differs: another key, not the cached answer
    fc.quantiles(prefix, seen, 2000, True, context=other)
    assert len(fc._factors) == 2
