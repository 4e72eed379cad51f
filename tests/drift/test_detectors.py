"""Each detector on deterministic streams: pinned detection indices and the shared contract."""

from __future__ import annotations

import numpy as np
import pytest
from policy_store.drift import ADWIN, CUSUM, DriftDetector, PageHinkley, TwoWindow


def detections(detector: DriftDetector, stream) -> list[int]:
    return [i for i, x in enumerate(stream) if detector.update(x).drift_detected]


def mean_shift() -> np.ndarray:
    """N(0, 1) for 1,000 observations, then N(1, 1)."""
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(0, 1, 1000), rng.normal(1.0, 1, 1000)])


def bernoulli_shift() -> np.ndarray:
    """A killed-best indicator at rate 0.05 for 1,500 studies, then 0.15."""
    rng = np.random.default_rng(1)
    return np.concatenate([rng.random(1500) < 0.05, rng.random(1500) < 0.15]).astype(float)


def flat() -> np.ndarray:
    return np.random.default_rng(2).normal(0, 1, 3000)


# Detection indices pinned on the streams above (change at 1000 and at 1500).
PINNED = [
    (lambda: PageHinkley(threshold=50, mode="up"), mean_shift, [1048]),
    (lambda: PageHinkley(threshold=25, mode="up"), bernoulli_shift, [1721]),
    (lambda: PageHinkley(threshold=80), flat, []),
    (lambda: CUSUM(k=0.5, threshold=8, mode="up"), mean_shift, [1017, 1110]),
    (lambda: CUSUM(k=0.05, threshold=4, mode="up"), bernoulli_shift, [1510, 2155]),
    (lambda: CUSUM(k=0.5, threshold=8), flat, []),
    (ADWIN, mean_shift, [1055]),
    (ADWIN, bernoulli_shift, [1631, 1727, 2015, 2911]),
    (ADWIN, flat, []),
    (lambda: TwoWindow(window_size=100, alpha=1e-4), mean_shift, [1094]),
    (lambda: TwoWindow(window_size=100, alpha=1e-4, test="mannwhitney"), bernoulli_shift, [2189]),
    (lambda: TwoWindow(window_size=100, alpha=1e-4), flat, []),
]


@pytest.mark.parametrize(("make", "stream", "expected"), PINNED)
def test_pinned_detections(make, stream, expected):
    assert detections(make(), stream()) == expected


@pytest.mark.parametrize("make", [PageHinkley, CUSUM, ADWIN, TwoWindow])
def test_contract(make):
    detector = make()
    assert detector.update(0.1) is detector
    assert detector.drift_detected is False
    with pytest.raises(AttributeError):
        detector.drift_detected = True
    stream = mean_shift()
    first = detections(make(), stream)
    assert detections(make(), stream) == first, "detectors must be deterministic"
    clone = detector.clone()
    assert repr(clone) == repr(detector) and clone.n_seen == 0
    assert detector.reset().n_seen == 0


@pytest.mark.parametrize("make", [PageHinkley, CUSUM, ADWIN, TwoWindow])
def test_statistic_exceeds_threshold_at_detection(make):
    detector = make()
    for x in mean_shift() * 5:
        if detector.update(x).drift_detected:
            assert detector.statistic > detector.threshold
            return
    pytest.fail("no detection on a 5-sigma shift")


def test_one_sided_modes_ignore_the_other_direction():
    falling = -mean_shift()
    assert detections(PageHinkley(threshold=50, mode="up"), falling) == []
    assert detections(PageHinkley(threshold=50, mode="down"), falling) == [1048]
    assert detections(CUSUM(k=0.5, threshold=8, mode="up"), falling) == []
    assert detections(CUSUM(k=0.5, threshold=8, mode="down"), falling) == [1017, 1110]


def test_cusum_reference_is_warmup_mean_until_target_given():
    detector = CUSUM(min_instances=4)
    for x in (1.0, 2.0, 3.0):
        detector.update(x)
    assert detector.reference is None
    assert detector.update(6.0).reference == 3.0
    assert CUSUM(target=0.2).reference == 0.2


def test_cusum_with_known_target_keeps_alarming_after_the_change():
    # With a fixed target the post-change regime stays out of control: alarms repeat.
    alarms = detections(CUSUM(k=0.05, threshold=4, mode="up", target=0.05), bernoulli_shift())
    assert alarms[:5] == [1510, 1553, 1604, 1713, 1827]


def test_adwin_window_statistics_are_exact():
    rng = np.random.default_rng(4)
    stream = np.concatenate([rng.normal(0, 1, 700), rng.normal(3, 1, 700)])
    detector = ADWIN(delta=0.01)
    for x in stream:
        detector.update(x)
    window = stream[-detector.width :]
    assert detector.width < 750, "the pre-change part was dropped (up to bucket granularity)"
    assert detector.estimation == pytest.approx(window.mean())
    assert detector._variance / detector.width == pytest.approx(window.var())


def test_adwin_memory_is_logarithmic():
    detector = ADWIN(max_buckets=5)
    for x in np.random.default_rng(5).random(20_000):
        detector.update(x)
    n_buckets = sum(len(row) for row in detector._rows)
    assert detector.width == 20_000
    assert n_buckets <= 5 * (int(np.log2(20_000)) + 1)


def test_two_window_constant_stream_never_fires():
    assert detections(TwoWindow(window_size=20, alpha=0.5), [1.0] * 200) == []
    assert detections(TwoWindow(window_size=20, alpha=0.5, test="mannwhitney"), [0.0] * 200) == []


def test_two_window_p_values_match_scipy():
    from policy_store.drift.two_window import ks_p_value, mann_whitney_p_value
    from scipy import stats

    rng = np.random.default_rng(6)
    for n1, n2 in ((5, 7), (60, 200), (200, 200)):
        for a, b in (
            (rng.normal(size=n1).round(1), rng.normal(0.3, size=n2).round(1)),  # ties
            ((rng.random(n1) < 0.05).astype(float), (rng.random(n2) < 0.2).astype(float)),
            (rng.exponential(size=n1), rng.exponential(1.5, size=n2)),
        ):
            d = stats.ks_2samp(a, b).statistic
            assert ks_p_value(a, b) == pytest.approx(stats.kstwobign.sf(np.sqrt(n1 * n2 / (n1 + n2)) * d))
            expected = stats.mannwhitneyu(a, b, method="asymptotic").pvalue
            assert mann_whitney_p_value(a, b) == pytest.approx(expected)
