"""Two-window test: a reference window against the most recent one, by KS or Mann-Whitney."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from policy_store.drift._base import DriftDetector, check_choice, check_fraction, check_int
from scipy import special

TESTS = ("ks", "mannwhitney")


class TwoWindow(DriftDetector):
    """Distributional change between a fixed reference window and a sliding recent window.

    The first ``window_size`` observations after a (re)start form the reference;
    the latest ``window_size`` observations form the recent window. Once the two
    no longer overlap, every ``clock`` updates they are compared with the
    two-sample Kolmogorov-Smirnov test (any change of distribution) or the
    Mann-Whitney U test (a shift in location), both asymptotic (see
    :func:`ks_p_value` and :func:`mann_whitney_p_value`).
    The statistic is ``-log10(p)`` and the threshold ``-log10(alpha)``, so drift
    means ``p < alpha``; after signalling, the detector starts over. Each check
    costs O(``window_size`` log ``window_size``); memory is O(``window_size``).
    ``alpha`` is per check: repeated checks raise the false-alarm rate, so
    calibrate it for the stream length you care about. On discrete streams
    (0/1 outcomes such as killed-best) KS is nearly blind, because ``D`` is just
    the difference of two small rates; use Mann-Whitney there.

    Parameters
    ----------
    window_size:
        Observations in each of the two windows.
    alpha:
        Significance level of a single check, in (0, 1).
    test:
        ``"ks"`` or ``"mannwhitney"``.
    clock:
        Compare the windows every ``clock`` updates.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(5)
    >>> regret = np.concatenate([rng.exponential(0.01, 300), rng.exponential(0.03, 300)])
    >>> detector = TwoWindow(window_size=60, alpha=1e-4)
    >>> [i for i, x in enumerate(regret) if detector.update(x).drift_detected]
    [349]
    """

    def __init__(self, window_size: int = 100, alpha: float = 1e-3, test: str = "ks", clock: int = 5) -> None:
        super().__init__()
        self.window_size = check_int("window_size", window_size, minimum=5)
        self.alpha = check_fraction("alpha", alpha)
        self.test = check_choice("test", test, TESTS)
        self.clock = check_int("clock", clock, minimum=1)
        self._reset_state()

    @property
    def threshold(self) -> float:
        return -math.log10(self.alpha)

    def _reset_state(self) -> None:
        self._reference: list[float] = []
        self._recent: deque[float] = deque(maxlen=self.window_size)

    def _update(self, x: float) -> None:
        if len(self._reference) < self.window_size:
            self._reference.append(x)
            return
        self._recent.append(x)
        if len(self._recent) < self.window_size or self._n % self.clock:
            return
        p = self._p_value(np.asarray(self._reference), np.asarray(self._recent))
        self._statistic = -math.log10(max(p, 1e-300))
        self._drift = p < self.alpha

    def _p_value(self, reference: np.ndarray, recent: np.ndarray) -> float:
        if np.all(reference == reference[0]) and np.all(recent == reference[0]):
            return 1.0  # both windows constant and equal: nothing to test
        test = ks_p_value if self.test == "ks" else mann_whitney_p_value
        return test(reference, recent)

    def _params(self) -> dict[str, object]:
        return {"window_size": self.window_size, "alpha": self.alpha, "test": self.test, "clock": self.clock}


def ks_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided two-sample Kolmogorov-Smirnov p-value from Kolmogorov's limiting distribution.

    ``D`` is ``scipy.stats.ks_2samp(a, b).statistic``; the p-value is
    ``scipy.stats.kstwobign.sf(sqrt(n m / (n + m)) D)``, computed without the
    per-call overhead of ``scipy.stats`` (a check runs every few updates).
    It is slightly conservative for small windows.
    """
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    en = len(a) * len(b) / (len(a) + len(b))
    return float(np.clip(special.kolmogorov(math.sqrt(en) * d), 0.0, 1.0))


def mann_whitney_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value, normal approximation with tie and continuity corrections.

    Equals ``scipy.stats.mannwhitneyu(a, b, method="asymptotic").pvalue``.
    """
    n1, n2 = len(a), len(b)
    n = n1 + n2
    values, inverse, counts = np.unique(np.concatenate([a, b]), return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2
    u = float(average_rank[inverse[:n1]].sum()) - n1 * (n1 + 1) / 2
    ties = float(np.sum(counts**3 - counts))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2) - 0.5) / sigma
    return float(min(1.0, 2 * special.ndtr(-z)))
