"""Page-Hinkley test for a change in the mean of a stream."""

from __future__ import annotations

from policy_store.drift._base import (
    MODES,
    DriftDetector,
    check_choice,
    check_fraction,
    check_int,
    check_positive,
)


class PageHinkley(DriftDetector):
    """Page-Hinkley test (Page 1954; Hinkley 1971) with a forgetting factor.

    The test accumulates deviations of each observation from the running mean,
    ``m_t = alpha * m_{t-1} + (x_t - mean_t - delta)``, and signals an increase
    when ``m_t - min_{s<=t} m_s`` exceeds ``threshold`` (a decrease symmetrically,
    with ``+ delta``). After signalling, the detector starts over. Each update
    costs O(1) time and memory.

    Parameters
    ----------
    min_instances:
        Observations to see before the first verdict.
    delta:
        Magnitude of change to tolerate, in units of the observations.
    threshold:
        Decision threshold (``lambda``), in units of the observations. Higher
        means fewer false alarms and later detections.
    alpha:
        Forgetting factor in (0, 1] for the cumulative sums; ``1`` is the
        classic test.
    mode:
        ``"up"`` detects increases, ``"down"`` decreases, ``"both"`` either.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> stream = np.concatenate([rng.normal(0.0, 0.1, 300), rng.normal(0.5, 0.1, 300)])
    >>> detector = PageHinkley(threshold=5.0)
    >>> [i for i, x in enumerate(stream) if detector.update(x).drift_detected]
    [307]
    """

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 1e-4,
        mode: str = "both",
    ) -> None:
        super().__init__()
        self.min_instances = check_int("min_instances", min_instances, minimum=1)
        self.delta = check_positive("delta", delta, allow_zero=True)
        self._threshold = check_positive("threshold", threshold)
        self.alpha = 1.0 if alpha == 1 else check_fraction("alpha", alpha)
        self.mode = check_choice("mode", mode, MODES)
        self._reset_state()

    @property
    def threshold(self) -> float:
        return self._threshold

    def _reset_state(self) -> None:
        self._mean = 0.0
        self._sum_up = 0.0
        self._min_up = 0.0
        self._sum_down = 0.0
        self._max_down = 0.0

    def _update(self, x: float) -> None:
        self._mean += (x - self._mean) / self._n
        deviation = x - self._mean
        self._sum_up = self.alpha * self._sum_up + deviation - self.delta
        self._min_up = min(self._min_up, self._sum_up)
        self._sum_down = self.alpha * self._sum_down + deviation + self.delta
        self._max_down = max(self._max_down, self._sum_down)
        up = self._sum_up - self._min_up if self.mode != "down" else 0.0
        down = self._max_down - self._sum_down if self.mode != "up" else 0.0
        self._statistic = max(up, down)
        self._drift = self._n >= self.min_instances and self._statistic > self._threshold

    def _params(self) -> dict[str, object]:
        return {
            "min_instances": self.min_instances,
            "delta": self.delta,
            "threshold": self._threshold,
            "alpha": self.alpha,
            "mode": self.mode,
        }
