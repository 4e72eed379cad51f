"""The numpy Student-t CDF against SciPy's ``stdtr``, and the posterior rule's decisions staying SciPy's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from policy_store import distributions
from policy_store.distributions import SERIES_MAX_DF, student_t_cdf
from policy_store.rules.strategies import posterior


def _sample(rng: np.random.Generator, lo: int, hi: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    df = rng.integers(lo, hi + 1, n).astype(float)
    t = rng.standard_normal(n) * rng.choice([0.03, 0.3, 1.0, 3.0, 10.0, 100.0], n)
    return df, t


@pytest.mark.parametrize(("lo", "hi", "tol"), [(2, 10, 1e-15), (11, 40, 1e-15), (41, SERIES_MAX_DF, 2e-15)])
def test_series_agrees_with_scipy(lo, hi, tol):
    df, t = _sample(np.random.default_rng(lo), lo, hi, 200_000)
    assert np.abs(student_t_cdf(df, t) - special.stdtr(df, t)).max() <= tol


def test_one_degree_of_freedom_is_left_to_scipy():
    # SciPy is off there by up to 2e-9 near the centre (the series is the Cauchy CDF to an ulp): the decisions
    # must stay SciPy's, so its value is taken
    t = np.random.default_rng(1).standard_normal(20_000) * np.array([1e-6, 0.03, 1.0, 100.0]).repeat(5_000)
    assert np.array_equal(student_t_cdf(np.ones_like(t), t), special.stdtr(1.0, t))


def test_edges_and_other_degrees_of_freedom_are_scipys():
    df = np.array([4.0, 5.0, 4.0, 4.0, 6.0, 3.0, SERIES_MAX_DF + 1.0, 2.5, 1e6, 0.5])
    t = np.array([np.inf, -np.inf, 0.0, np.nan, 1e200, -1e300, -1.7, -1.0, 2.0, 0.3])
    got, want = student_t_cdf(df, t), special.stdtr(df, t)
    assert np.array_equal(got[:6], [1.0, 0.0, 0.5, np.nan, 1.0, 0.0], equal_nan=True)
    assert np.array_equal(got[6:], want[6:])    # not whole, or above the series: SciPy's own value


def test_an_element_gets_the_same_bits_alone_as_in_a_batch(monkeypatch):
    # the live decider asks one report, the replay kernel a batch: the two must agree bit for bit
    df, t = _sample(np.random.default_rng(7), 2, SERIES_MAX_DF, 3_000)
    batch = student_t_cdf(df.reshape(50, 60), t.reshape(50, 60)).ravel()
    alone = np.array([student_t_cdf(np.array([d]), np.array([x]))[0] for d, x in zip(df, t, strict=True)])
    assert np.array_equal(batch, alone)
    assert student_t_cdf(np.float64(df[0]), np.float64(t[0])) == batch[0]
    # and in chunks: a large batch is summed CHUNK elements at a time
    monkeypatch.setattr(distributions, "CHUNK", 7)
    assert np.array_equal(student_t_cdf(df, t), batch)


def test_a_probability_this_close_to_alpha_is_decided_by_scipy():
    n, s, q, x = np.array([3, 5]), np.array([0.02, -0.01]), np.array([0.001, 0.002]), np.array([0.8, 0.7])
    prior = dict(prior_mean=0.0, prior_kappa=1.0, prior_alpha=2.0, prior_beta=0.01)
    df, t = posterior.predictive_t(n, s, q, x, 0.85, prior, "maximize")
    ours, scipys = student_t_cdf(df, t), special.stdtr(df, t)
    assert np.abs(ours - scipys).max() < 1e-15
    # alpha exactly at our value for the first report: within the band, so P (and the decision) is SciPy's
    params = {**prior, "alpha": ours[0], "min_observations": 0}
    prune, prob = posterior.decide(n, s, q, x, 0.85, params, True)
    assert prob[0] == scipys[0] and prune[0] == (scipys[0] < ours[0])
    assert prob[1] == ours[1]            # far from alpha: the numpy value
