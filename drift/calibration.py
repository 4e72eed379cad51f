"""Detector thresholds calibrated to a false-alarm rate on a rule's own history.

A constant threshold means nothing across metrics (regret in accuracy points
moves by thousandths, killed-best by whole units). So each monitor

1. standardizes its per-study observations by a *reference*: the rule
   version's history (mean and standard deviation, oriented so that "worse" is
   up; a floor per metric keeps a reference of all zeros from making every
   non-zero study an outlier, and the fractions -- killed-best, false-prune
   rate and relative regret (1 = the whole metric, or the study's typical
   loss) -- are smoothed with half a pseudo-study at 0 and half at 1, as
   Jeffreys' prior would: a 20-study history without a single killed best or
   without a regret cannot tell how rare they are, and does not make the first
   one an alarm. Unsmoothed, relative regret (mostly zeros, a heavy tail) gave
   4.7 false alarms per 1,000 studies at a nominal 0.5 on HPO log-loss
   studies: ``benchmarks/RESULTS.md``, "Drift");
2. draws bootstrap streams from the reference and sets the threshold to the
   quantile of their peak statistic at which a stream of :data:`HORIZON`
   studies raises a false alarm with probability ``1 - exp(-HORIZON / arl)``:
   on average one false alarm per ``arl`` studies (the *studies per false
   alarm*) for a stream like the reference. Each bootstrap stream is
   standardized by a reference **re-drawn** from the reference's studies (as
   many as it has), not by the reference itself: the monitor's mean and spread
   are estimates from as few as 20 studies, and a threshold that ignores this
   under-states the false alarms of a heterogeneous pool (1.3 per 1,000 at a
   nominal 0.5 on an all-family HPO accuracy mix; ``benchmarks/RESULTS.md``,
   "Drift"). The threshold then shrinks as the reference grows;
3. caps every standardized observation at :data:`CLIP` standard units, in the
   scan and in the bootstrap alike: one odd study (a rank correlation of -0.5
   after twenty near 0.9) moves the statistic by at most ``CLIP`` minus the slack, so
   an alarm needs a run of worse studies, which is what a change is.

Three sequential statistics are calibrated: ``cusum`` (one-sided CUSUM against
the reference mean, slack :data:`SLACK` standard deviations per metric), ``glr``
(the generalized likelihood ratio of a mean shift of unknown size, at least twice
the slack, starting within the last :data:`GLR_WINDOW` studies: it is
``max(0, max_j mu * (sum of the last j) - mu**2 * j / 2)`` with
``mu = max(2 * slack, mean of the last j)``, so it is never below twice the slack
times the window's CUSUM and grows with the square of a larger shift) and
``page-hinkley`` (against the running mean, slack :data:`PH_SLACK`); all are
vectorised over streams, and a detection's change point is the CUSUM estimate
(the study after the minimum of the cumulative slackened sum). Every function
here takes the CUSUM slack as a required ``slack=`` (a reference's is
:attr:`Reference.slack`): a threshold holds its false-alarm rate only for the
slack it was calibrated with (for a rank correlation, a threshold calibrated
at 1.0 and scanned at 0.5 alarmed on 89 % of quiet 200-study streams instead
of 14 %).

>>> import numpy as np
>>> ref = Reference.from_values(np.r_[np.zeros(36), np.ones(4)], "killed_best")
>>> threshold = calibrate("cusum", ref, arl=1000, slack=ref.slack)
>>> z = ref.standardize(np.r_[np.zeros(30), np.ones(10)])
>>> hit = first_alarm("cusum", z, threshold, slack=ref.slack)
>>> hit, change_point(z, hit, slack=ref.slack)
(33, 30)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from policy_store.drift._base import check_choice, check_positive
from policy_store.drift.observations import WORSE

DETECTORS = ("cusum", "glr", "page-hinkley")
DEFAULT_SLACK, PH_SLACK = 0.5, 0.25
#: CUSUM slack per metric, in standard deviations of one reference study: half the shift worth detecting (the
#: textbook optimum; a larger slack keeps the statistic at 0 between changes, so a lower threshold holds the same
#: false-alarm rate and a large shift crosses it sooner). Killed-best and regret: 0.5 (a family change moves them
#: 0.5-2.9 sd). The rank correlation: 1.0 -- a change moves it 1.5-3 sd; at 0.5 the monitors took a median of 11
#: and 12 studies to find the two changes mostly it sees, at 1.0 8 and 8, for 1.03 false alarms per 1,000 studies
#: instead of 0.93 (300 streams per kind; ``benchmarks/RESULTS.md``, "Drift").
SLACK = {"regret": DEFAULT_SLACK, "killed_best": DEFAULT_SLACK, "false_prune_rate": DEFAULT_SLACK,
         "compute_saved": DEFAULT_SLACK, "rank_correlation": 1.0}  # fmt: skip
HORIZON, N_STREAMS = 200, 400
#: Studies the GLR statistic looks back over for where a shift began (its cost per study is linear in it).
GLR_WINDOW = 30
#: Largest standardized observation a statistic takes in (see the module docstring, 3.).
CLIP = 3.0
#: Smallest standard deviation a reference may have, per metric, in the metric's unit.
FLOOR = {"regret": 0.01, "killed_best": 0.05, "false_prune_rate": 0.02, "compute_saved": 0.02,
         "rank_correlation": 0.05}  # fmt: skip
#: Fractions smoothed with half a pseudo-study at each end (each study counts twice, each pseudo-study once).
RATES = ("killed_best", "false_prune_rate", "regret")


PSEUDO_STUDIES = np.array([0.0, 1.0])
"""The two pseudo-studies a rate's few studies are pooled with (:func:`smoothed_rate`)."""


def smoothed_rate(values: np.ndarray) -> np.ndarray:
    """A rate's per-study ``values`` as a reference pools them: each study twice beside one pseudo-study at 0
    and one at 1, so a rate seen at 0 on a few studies keeps a mean above 0 and a spread.

    >>> smoothed_rate(np.zeros(2)).tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    """
    v = np.asarray(values, dtype=float)
    return np.r_[v, v, PSEUDO_STUDIES]


@dataclass(frozen=True)
class Reference:
    """The in-control level of one metric: mean, scale and the bootstrap pool in standard units."""

    metric: str
    mean: float
    scale: float
    pool: np.ndarray
    n: int
    pseudo: np.ndarray = field(default_factory=lambda: np.empty(0))

    @classmethod
    def from_values(cls, values: np.ndarray, metric: str) -> Reference:
        """The reference of ``values`` (one per study) of ``metric``."""
        v = np.asarray(values, dtype=float)
        pseudo = PSEUDO_STUDIES if metric in RATES else np.empty(0)
        full = smoothed_rate(v) if metric in RATES else v
        mean = float(full.mean()) if full.size else 0.0
        scale = max(float(full.std()) if full.size else 0.0, FLOOR[metric])
        unit = WORSE[metric] / scale
        return cls(metric, mean, scale, unit * (full - mean), int(v.size), unit * (pseudo - mean))

    @property
    def slack(self) -> float:
        """The CUSUM slack of this reference's metric (:data:`SLACK`)."""
        return SLACK[self.metric]

    def standardize(self, values: np.ndarray) -> np.ndarray:
        """``values`` in standard units of the reference, worse = higher, capped at :data:`CLIP`."""
        return np.minimum(WORSE[self.metric] * (np.asarray(values, dtype=float) - self.mean) / self.scale, CLIP)

    def redrawn(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread (standard units) of ``size`` references re-drawn from this one's studies."""
        studies = self.pool[: self.n]
        r = rng.choice(studies, size=(size, self.n)) if self.n else np.zeros((size, 1))
        full = np.concatenate([r, r, np.broadcast_to(self.pseudo, (size, self.pseudo.size))], axis=1) \
            if self.pseudo.size else r  # fmt: skip
        return full.mean(axis=1), np.maximum(full.std(axis=1), FLOOR[self.metric] / self.scale)


def statistic_paths(kind: str, z: np.ndarray, *, slack: float) -> np.ndarray:
    """The detector's statistic after each observation, for every row (stream) of ``z``.

    ``slack`` is CUSUM's, and half the smallest shift GLR considers (Page-Hinkley's is :data:`PH_SLACK`).
    """
    check_choice("detector", kind, DETECTORS)
    z = np.atleast_2d(np.asarray(z, dtype=float))
    out = np.empty_like(z)
    if kind == "glr":
        return _glr_paths(z, 2.0 * slack, out)
    level = np.zeros(z.shape[0])
    if kind == "cusum":
        for t in range(z.shape[1]):
            level = np.maximum(0.0, level + z[:, t] - slack)
            out[:, t] = level
        return out
    mean, low = np.zeros(z.shape[0]), np.zeros(z.shape[0])
    for t in range(z.shape[1]):
        mean += (z[:, t] - mean) / (t + 1)
        level += z[:, t] - mean - PH_SLACK
        low = np.minimum(low, level)
        out[:, t] = level - low
    return out


def _glr_paths(z: np.ndarray, smallest: float, out: np.ndarray) -> np.ndarray:
    sums = np.concatenate([np.zeros((z.shape[0], 1)), np.cumsum(z, axis=1)], axis=1)
    for t in range(z.shape[1]):
        first = max(0, t + 1 - GLR_WINDOW)
        tail = sums[:, t + 1 : t + 2] - sums[:, first : t + 1]  # sums of the last j = t + 1 - first, ..., 1 studies
        j = np.arange(t + 1 - first, 0, -1, dtype=float)
        mu = np.maximum(smallest, tail / j)
        out[:, t] = np.maximum(0.0, (mu * tail - mu * mu * j / 2.0).max(axis=1))
    return out


def calibrate(kind: str, reference: Reference, *, arl: float, slack: float, seed: int = 0) -> float:
    """The threshold giving one false alarm per ``arl`` studies on streams like ``reference``.

    ``slack`` is the CUSUM's (usually ``reference.slack``, :data:`SLACK`); scan with the same one.
    """
    check_positive("arl", arl)
    rng = np.random.default_rng(seed)
    jitter = FLOOR[reference.metric] / reference.scale
    z = rng.choice(reference.pool, size=(N_STREAMS, HORIZON)) + rng.normal(0.0, jitter, (N_STREAMS, HORIZON))
    mean, spread = reference.redrawn(rng, N_STREAMS)
    z = np.minimum((z - mean[:, None]) / spread[:, None], CLIP)
    peaks = statistic_paths(kind, z, slack=slack).max(axis=1)
    alarm_chance = 1.0 - math.exp(-HORIZON / arl)
    return max(float(np.quantile(peaks, 1.0 - alarm_chance, method="higher")), 1e-9)


def first_alarm(kind: str, z: np.ndarray, threshold: float, *, slack: float) -> int | None:
    """Index of the first observation whose statistic exceeds ``threshold``, or ``None`` (``slack``: the one the
    threshold was calibrated with)."""
    above = np.flatnonzero(statistic_paths(kind, z, slack=slack)[0] > threshold)
    return int(above[0]) if above.size else None


def change_point(z: np.ndarray, alarm: int, *, slack: float) -> int:
    """Index of the first observation after the estimated change (at most ``alarm``)."""
    cumulative = np.r_[0.0, np.cumsum(np.asarray(z[:alarm + 1], dtype=float) - slack)]
    return int(np.argmin(cumulative[: alarm + 1]))
