"""When a re-tuned candidate earns promotion, and the lineage baseline it is held to.

A candidate replaces the current version only if all four hold:

1. **the drift is confirmed**: on the studies after the alarm (which the
   detector did not use), the current version's watched metric is worse than
   before the change point, by a one-sided Welch bound at ``confidence``
   (:func:`confirmation_bound`; the job asks it of all the pre-change studies
   and of those the detector scanned but did not calibrate on);
2. **it beats the current version on the post-change studies** in the drifted
   metric (killed-best or relative regret): per study, the paired gain has a
   mean of at least ``margin`` times the current version's level and a lower
   confidence bound above 0;
3. **it is not riskier**: the paired gain in killed-best has a lower confidence
   bound of at least 0 -- a candidate that cannot show it kills the best trial
   no more often than the current version is refused, whatever its regret
   (a point estimate on 10-20 studies would let a riskier rule through);
4. **it keeps compute saved** at least ``floor`` times the lineage's pre-drift
   baseline (:func:`lineage_baseline`): the compute saved of the lineage's
   first version (the one no recalibration made) on its studies before its
   first change point. Holding every promotion to that one figure, not to the
   version it replaces, keeps the floor from compounding down the lineage.

The best of many candidates is picked on the same studies, so the bounds use
a simultaneous critical value (:func:`simultaneous_critical`: sign-flip max-T,
Westfall and Young 1993) over every candidate tried, never below Student's
for one: valid like Bonferroni, but not paying for the many near-copies a
re-tuning family holds. Otherwise the candidate is recorded as rejected, with
the same figures.

>>> import numpy as np
>>> current, candidate = np.array([1, 1, 0, 1, 0.6]), np.array([0, 0.2, 0, 0.4, 0.0])
>>> v = judge(current, candidate, current_killed=current, candidate_killed=candidate, critical=4.0,
...           killed_critical=4.0, candidate_saved=0.35, baseline_saved=0.4, confirmed_bound=0.1)
>>> v.promoted, v.failed, round(v.figures["paired_lower_bound"], 3)
(False, ['paired bound', 'riskier: killed-best'], -0.069)
>>> judge(current, candidate, current_killed=current, candidate_killed=candidate, critical=2.0,
...       killed_critical=2.0, candidate_saved=0.35, baseline_saved=0.4, confirmed_bound=0.1).promoted
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from policy_store.drift.observations import WORSE, study_observations
from policy_store.drift.student import student_quantile

from policy_store.rules import get_rule_version
from policy_store.store import PolicyStore

MARGIN, CONFIDENCE, FLOOR = 0.1, 0.95, 0.7
#: Sign-flip draws behind a simultaneous critical value.
DRAWS = 4000


@dataclass(frozen=True)
class Verdict:
    """Whether a candidate is promoted, which conditions failed, and the figures behind it."""

    promoted: bool
    failed: list[str]
    figures: dict[str, Any] = field(default_factory=dict)


def confirmation_bound(before: np.ndarray, after: np.ndarray, metric: str, confidence: float = CONFIDENCE) -> float:
    """One-sided lower bound on how much worse ``after`` is than ``before`` (Welch); > 0 confirms the drift."""
    a, b = WORSE[metric] * np.asarray(after, float), WORSE[metric] * np.asarray(before, float)
    if a.size < 2 or b.size < 2:
        return -math.inf
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    dof = (va + vb) ** 2 / ((va**2) / (a.size - 1) + (vb**2) / (b.size - 1)) if se > 0 else a.size + b.size - 2
    return float(a.mean() - b.mean() - student_quantile(confidence, round(dof)) * se)


def simultaneous_critical(gains: np.ndarray, confidence: float = CONFIDENCE, *, seed: int = 0) -> float:
    """Critical value for lower bounds ``mean - c * se`` that hold for every candidate at once.

    ``gains`` is ``(candidates, studies)``: each candidate's per-study gain over the current version.
    Under "no candidate differs", a study's gains are symmetric around 0, so flipping the sign of whole
    studies (every candidate at once, keeping their correlation) draws the null distribution of the
    largest studentized mean gain; ``c`` is its ``confidence`` quantile, and at least Student's.

    >>> rng = np.random.default_rng(0)
    >>> one = rng.normal(size=(1, 15))
    >>> copies = np.repeat(one, 40, axis=0) + rng.normal(0, 0.01, (40, 15))
    >>> independent = rng.normal(size=(40, 15))
    >>> [round(simultaneous_critical(g), 1) for g in (one, copies, independent)]
    [1.8, 1.8, 3.7]
    """
    g = np.atleast_2d(np.asarray(gains, float))
    n = g.shape[1]
    student = student_quantile(confidence, n - 1)
    if n < 2:
        return student
    g = g[g.std(axis=1) > 0]
    if not g.size:
        return student
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(DRAWS, n))
    means = signs @ g.T / n
    # Each flipped sample studentized by its own spread (the sum of squares is the same under any flips).
    spread = np.maximum((np.square(g).sum(axis=1) - n * np.square(means)) / (n - 1), 1e-300)
    peaks = (means / np.sqrt(spread / n)).max(axis=1)
    return max(float(np.quantile(peaks, confidence)), student)


def _lower_bound(gain: np.ndarray, critical: float) -> tuple[float, float]:
    n = gain.size
    mean = float(gain.mean()) if n else 0.0
    se = float(gain.std(ddof=1)) / math.sqrt(n) if n > 1 else math.inf
    return mean, mean - critical * se if se > 0 else mean


def judge(
    current: np.ndarray,
    candidate: np.ndarray,
    *,
    current_killed: np.ndarray,
    candidate_killed: np.ndarray,
    critical: float,
    killed_critical: float,
    candidate_saved: float,
    baseline_saved: float,
    confirmed_bound: float,
    metric: str = "killed_best",
    margin: float = MARGIN,
    floor: float = FLOOR,
) -> Verdict:
    """The verdict on a candidate (module docstring).

    ``current`` and ``candidate`` are per-study values of the drifted ``metric`` (lower is better),
    ``*_killed`` per-study killed-best; ``critical`` and ``killed_critical`` come from
    :func:`simultaneous_critical` over every candidate tried.
    """
    current, candidate = np.asarray(current, float), np.asarray(candidate, float)
    gain, bound = _lower_bound(current - candidate, critical)
    killed_gain, killed_bound = _lower_bound(np.asarray(current_killed, float) - np.asarray(candidate_killed, float),
                                             killed_critical)  # fmt: skip
    level = float(current.mean()) if current.size else 0.0
    needed_gain = margin * level
    figures = {
        "metric": metric, "studies": int(current.size), "confirmation_bound": confirmed_bound,
        "current": level, "candidate": float(candidate.mean()) if candidate.size else 0.0,
        "paired_gain": gain, "needed_gain": needed_gain, "paired_lower_bound": bound, "critical": critical,
        "killed_best_current": float(np.mean(current_killed)) if current.size else 0.0,
        "killed_best_candidate": float(np.mean(candidate_killed)) if current.size else 0.0,
        "killed_best_gain": killed_gain, "killed_best_lower_bound": killed_bound,
        "compute_saved": candidate_saved, "baseline_saved": baseline_saved, "floor": floor * baseline_saved,
    }  # fmt: skip
    failed = []
    if not confirmed_bound > 0:
        failed.append("drift not confirmed")
    if not (gain >= needed_gain and gain > 0 and bound > 0):
        failed.append("paired bound")
    if not killed_bound >= 0:
        failed.append("riskier: killed-best")
    if not candidate_saved >= floor * baseline_saved:
        failed.append("compute-saved floor")
    return Verdict(not failed, failed, figures)


def lineage_root(store: PolicyStore, rule: str, version: int) -> int:
    """The version a lineage of recalibrations started from: up the parents while recalibration made them."""
    v = get_rule_version(store, rule, version)
    while v.source == "recalibration" and v.parent_version is not None:
        v = get_rule_version(store, rule, v.parent_version)
    return v.version


def lineage_baseline(store: PolicyStore, rule: str, version: int) -> tuple[int, float, int]:
    """``(root version, its mean compute saved before its first change point, studies)`` for ``rule@version``."""
    root = lineage_root(store, rule, version)
    first_change = store.scalar(
        "SELECT min(change_at) FROM drift_events WHERE rule = ? AND version = ? AND origin = 'scheduled'", [rule, root]
    )
    obs = study_observations(store, rule, root, "compute_saved")
    if first_change is not None:
        obs = obs[obs["ingested_at"] < first_change]
    return root, float(obs["value"].mean()) if len(obs) else 0.0, len(obs)
