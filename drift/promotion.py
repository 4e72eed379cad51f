"""When a re-tuned candidate earns promotion, and the lineage baseline it is held to.

A candidate replaces the current version only if all three hold:

1. **the drift is confirmed**: on the studies after the alarm (which the
   detector did not use), the current version's watched metric is worse than
   before the change point, by a one-sided Welch bound at ``confidence``;
2. **it beats the current version on the post-change studies**: per study,
   the paired difference in relative regret has a mean of at least ``margin``
   times the current version's and a lower confidence bound above 0 (Student,
   Bonferroni over the candidates tried, since the best of many is picked);
3. **it keeps compute saved** at least ``floor`` times the lineage's pre-drift
   baseline (:func:`lineage_baseline`): the compute saved of the lineage's
   first version (the one no recalibration made) on its studies before its
   first change point. Holding every promotion to that one figure, not to the
   version it replaces, keeps the floor from compounding down the lineage.

Otherwise the candidate is recorded as rejected, with the same figures.

>>> import numpy as np
>>> v = judge(np.array([0.02, 0.03, 0.0, 0.04, 0.02]), np.array([0.0, 0.01, 0.0, 0.0, 0.01]),
...           candidate_saved=0.35, baseline_saved=0.4, n_candidates=10, confirmed_bound=0.1)
>>> v.promoted, v.failed
(False, ['paired bound'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from policy_store.drift.observations import WORSE, study_observations

from policy_store.rules import get_rule_version
from policy_store.store import PolicyStore

MARGIN, CONFIDENCE, FLOOR = 0.1, 0.95, 0.7


@dataclass(frozen=True)
class Verdict:
    """Whether a candidate is promoted, which conditions failed, and the figures behind it."""

    promoted: bool
    failed: list[str]
    figures: dict[str, Any] = field(default_factory=dict)


def _t(confidence: float, dof: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(confidence, max(dof, 1)))


def confirmation_bound(before: np.ndarray, after: np.ndarray, metric: str, confidence: float = CONFIDENCE) -> float:
    """One-sided lower bound on how much worse ``after`` is than ``before`` (Welch); > 0 confirms the drift."""
    a, b = WORSE[metric] * np.asarray(after, float), WORSE[metric] * np.asarray(before, float)
    if a.size < 2 or b.size < 2:
        return -math.inf
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    dof = (va + vb) ** 2 / ((va**2) / (a.size - 1) + (vb**2) / (b.size - 1)) if se > 0 else a.size + b.size - 2
    return float(a.mean() - b.mean() - _t(confidence, round(dof)) * se)


def judge(
    current_regret: np.ndarray,
    candidate_regret: np.ndarray,
    *,
    candidate_saved: float,
    baseline_saved: float,
    n_candidates: int,
    confirmed_bound: float,
    margin: float = MARGIN,
    confidence: float = CONFIDENCE,
    floor: float = FLOOR,
) -> Verdict:
    """The verdict on a candidate (module docstring); regrets are relative, one per post-change study."""
    d = np.asarray(current_regret, float) - np.asarray(candidate_regret, float)
    n = d.size
    mean = float(d.mean()) if n else 0.0
    sd = float(d.std(ddof=1)) if n > 1 else math.inf
    level = 1 - (1 - confidence) / max(n_candidates, 1)
    bound = mean - _t(level, n - 1) * sd / math.sqrt(max(n, 1))
    needed_gain = margin * float(np.mean(current_regret)) if n else 0.0
    figures = {
        "studies": n, "confirmation_bound": confirmed_bound, "regret_current": float(np.mean(current_regret)),
        "regret_candidate": float(np.mean(candidate_regret)), "paired_gain": mean, "needed_gain": needed_gain,
        "paired_lower_bound": bound, "confidence": level, "compute_saved": candidate_saved,
        "baseline_saved": baseline_saved, "floor": floor * baseline_saved,
    }  # fmt: skip
    failed = []
    if not confirmed_bound > 0:
        failed.append("drift not confirmed")
    if not (mean >= needed_gain and mean > 0 and bound > 0):
        failed.append("paired bound")
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
