"""Two-sided tabular CUSUM for a shift of the mean away from a reference level."""

from __future__ import annotations

from policy_store.drift._base import (
    MODES,
    DriftDetector,
    check_choice,
    check_finite,
    check_int,
    check_positive,
)


class CUSUM(DriftDetector):
    """Tabular cumulative-sum control chart (Page 1954), one or two sided.

    The reference level ``mu0`` is ``target`` when given, else the mean of the
    first ``min_instances`` observations after a (re)start. Then
    ``S+ = max(0, S+ + x - mu0 - k)`` and ``S- = max(0, S- + mu0 - x - k)``;
    drift is signalled when the watched sum exceeds ``threshold``, after which
    the detector starts over. O(1) time and memory per update.

    Parameters
    ----------
    min_instances:
        Observations that estimate ``mu0`` (and see no verdict); ignored for the
        estimate, but still the minimum before a verdict, when ``target`` is set.
    k:
        Allowance (slack) per observation, in units of the observations;
        about half the shift worth detecting is the textbook choice.
    threshold:
        Decision interval ``h``, in units of the observations.
    target:
        Known in-control mean; ``None`` estimates it from the warm-up.
    mode:
        ``"up"`` watches ``S+`` (increases), ``"down"`` watches ``S-``, ``"both"`` both.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> killed_best = np.concatenate([rng.random(400) < 0.05, rng.random(400) < 0.25])
    >>> detector = CUSUM(k=0.1, threshold=4.0, mode="up")
    >>> [i for i, x in enumerate(killed_best) if detector.update(x).drift_detected]
    [424]
    """

    def __init__(
        self,
        min_instances: int = 30,
        k: float = 0.025,
        threshold: float = 2.5,
        target: float | None = None,
        mode: str = "both",
    ) -> None:
        super().__init__()
        self.min_instances = check_int("min_instances", min_instances, minimum=1)
        self.k = check_positive("k", k, allow_zero=True)
        self._threshold = check_positive("threshold", threshold)
        self.target = None if target is None else check_finite("target", target)
        self.mode = check_choice("mode", mode, MODES)
        self._reset_state()

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def reference(self) -> float | None:
        """The in-control mean in use, or ``None`` while it is being estimated."""
        if self.target is not None:
            return self.target
        return self._warm_sum / self.min_instances if self._n >= self.min_instances else None

    def _reset_state(self) -> None:
        self._warm_sum = 0.0
        self._up = 0.0
        self._down = 0.0

    def _update(self, x: float) -> None:
        if self.target is None and self._n <= self.min_instances:
            self._warm_sum += x
            return
        mu0 = self.reference
        self._up = max(0.0, self._up + x - mu0 - self.k)
        self._down = max(0.0, self._down + mu0 - x - self.k)
        up = self._up if self.mode != "down" else 0.0
        down = self._down if self.mode != "up" else 0.0
        self._statistic = max(up, down)
        self._drift = self._n >= self.min_instances and self._statistic > self._threshold

    def _params(self) -> dict[str, object]:
        return {
            "min_instances": self.min_instances,
            "k": self.k,
            "threshold": self._threshold,
            "target": self.target,
            "mode": self.mode,
        }
