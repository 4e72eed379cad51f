"""ADWIN: adaptive windowing over an exponential histogram (ADWIN2)."""

from __future__ import annotations

import math
from collections import deque

from policy_store.drift._base import DriftDetector, check_fraction, check_int


class ADWIN(DriftDetector):
    """ADWIN2 of Bifet & Gavaldà (2007), "Learning from time-changing data with adaptive windowing".

    The window is kept as an exponential histogram: row ``i`` holds at most
    ``max_buckets`` buckets of ``2**i`` observations each (their sum and their
    sum of squared deviations), so a window of ``W`` observations needs
    O(``max_buckets`` log W) memory. Every ``clock`` updates the detector tries
    every bucket boundary as a cut into an older part ``W0`` and a newer part
    ``W1`` and drops the oldest bucket while some cut has

    ``|mean(W0) - mean(W1)| > sqrt(2 m var(W) ln(2/delta')) + 2/3 m ln(2/delta')``

    with ``m = 1/(n0 - L + 1) + 1/(n1 - L + 1)`` (``L = min_window_length``)
    and ``delta' = delta / ln W``, the bound used by MOA. A check costs
    O(``max_buckets`` log W) per dropped bucket. Unlike the other detectors,
    ADWIN does not start over after a drift: the window it keeps is the part
    that follows the change.

    Parameters
    ----------
    delta:
        Confidence in (0, 1); smaller means fewer false alarms and later detections.
    clock:
        Check for a cut every ``clock`` updates.
    max_buckets:
        Buckets per histogram row (``M`` in the paper); more means finer cuts.
    min_window_length:
        Minimum observations on either side of a cut.
    grace_period:
        Observations to see before the first check.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> stream = np.concatenate([rng.normal(0.2, 0.05, 500), rng.normal(0.35, 0.05, 500)])
    >>> detector = ADWIN()
    >>> [i for i, x in enumerate(stream) if detector.update(x).drift_detected]
    [575, 607, 639, 671]
    >>> detector.width  # the window now starts after the change, at index 416
    584
    """

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        super().__init__()
        self.delta = check_fraction("delta", delta)
        self.clock = check_int("clock", clock, minimum=1)
        self.max_buckets = check_int("max_buckets", max_buckets, minimum=2)
        self.min_window_length = check_int("min_window_length", min_window_length, minimum=1)
        self.grace_period = check_int("grace_period", grace_period, minimum=1)
        self._threshold = 0.0
        self._reset_state()

    @property
    def threshold(self) -> float:
        """The cut bound ``epsilon`` of the latest check (0 before the first)."""
        return self._threshold

    @property
    def width(self) -> int:
        """Observations in the current window."""
        return self._width

    @property
    def estimation(self) -> float:
        """Mean of the current window (0 when empty)."""
        return self._total / self._width if self._width else 0.0

    def _reset_state(self) -> None:
        # rows[i] holds (sum, sum of squared deviations) of buckets of 2**i items, oldest first.
        self._rows: list[deque[tuple[float, float]]] = [deque()]
        self._width = 0
        self._total = 0.0
        self._variance = 0.0  # sum of squared deviations over the whole window
        self._threshold = 0.0

    def _after_drift(self) -> None:
        # The window already holds only post-change data; keep it.
        pass

    def _update(self, x: float) -> None:
        self._insert(x)
        self._compress()
        if self._n % self.clock == 0 and self._width > self.grace_period:
            self._drift = self._shrink()

    def _insert(self, x: float) -> None:
        if self._width:
            mean = self._total / self._width
            self._variance += self._width * (x - mean) ** 2 / (self._width + 1)
        self._width += 1
        self._total += x
        self._rows[0].append((x, 0.0))

    def _compress(self) -> None:
        i = 0
        while i < len(self._rows) and len(self._rows[i]) > self.max_buckets:
            (s1, v1), (s2, v2) = self._rows[i].popleft(), self._rows[i].popleft()
            n = 2**i
            merged = (s1 + s2, v1 + v2 + n * (s1 / n - s2 / n) ** 2 / 2)
            if i + 1 == len(self._rows):
                self._rows.append(deque())
            self._rows[i + 1].append(merged)
            i += 1

    def _drop_oldest(self) -> None:
        row = len(self._rows) - 1
        s, v = self._rows[row].popleft()
        n = 2**row
        self._width -= n
        self._total -= s
        if self._width:
            rest_mean = self._total / self._width
            self._variance -= v + n * self._width * (s / n - rest_mean) ** 2 / (n + self._width)
            self._variance = max(self._variance, 0.0)
        else:
            self._variance = 0.0
        while len(self._rows) > 1 and not self._rows[-1]:
            self._rows.pop()

    def _shrink(self) -> bool:
        dropped = False
        while self._width > self.grace_period and self._find_cut():
            self._drop_oldest()
            dropped = True
        return dropped

    def _find_cut(self) -> bool:
        """Whether some bucket boundary splits the window into parts with different means."""
        lmin = self.min_window_length
        window_var = self._variance / self._width
        log_term = math.log(2 * math.log(self._width) / self.delta)
        n0, s0 = 0, 0.0
        for i in range(len(self._rows) - 1, -1, -1):
            size = 2**i
            for s, _ in self._rows[i]:
                n0 += size
                s0 += s
                n1 = self._width - n0
                if n1 < lmin:
                    return False
                if n0 < lmin:
                    continue
                m = 1 / (n0 - lmin + 1) + 1 / (n1 - lmin + 1)
                eps = math.sqrt(2 * m * window_var * log_term) + 2 / 3 * m * log_term
                gap = abs(s0 / n0 - (self._total - s0) / n1)
                if gap > eps:
                    self._statistic, self._threshold = gap, eps
                    return True
        return False

    def _params(self) -> dict[str, object]:
        return {
            "delta": self.delta,
            "clock": self.clock,
            "max_buckets": self.max_buckets,
            "min_window_length": self.min_window_length,
            "grace_period": self.grace_period,
        }
