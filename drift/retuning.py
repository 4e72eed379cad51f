"""Re-tune a rule version on post-change studies, by exact replay.

Candidates are the current spec's one-parameter neighbours (every numeric
strategy parameter scaled by 1/2, 3/4, 3/2 and 2; integers rounded, zero moved
to 1, 2 and 4; clipped to the parameter's range) **and a fixed family of other
rules**: the meta-learner's grid without its per-task-prior templates
(percentile/median x warm-up x startup, successive halving, hyperband;
:func:`policy_store.meta.learner.grid.candidate_grid`) **and its safer side**
(:func:`safer_rules`: percentiles 50-95 that also wait for 4 trials at a step,
percentile 95 at every warm-up, successive halving with a first rung at step 6
or 8). Neighbours alone cannot leave the current strategy, and after a change
the safe answer is often another one (a higher percentile, a later first rung,
more trials before judging). Each candidate is
replayed on the window's studies under several trial orders and scored per
study (the orders' mean) by relative regret (see
:func:`~policy_store.curves.regret_scale`), killed-best and compute saved.

A candidate is *eligible* when it keeps compute saved at least
``min_compute_saved`` (a floor the caller derives from the lineage's pre-drift
baseline) and kills the best trial no more often than the current spec on the
window. The best eligible one -- lowest upper confidence bound of ``objective``
(the drifted metric; :func:`upper_bound`: a candidate that looks safe on a few
studies by luck is not preferred to one that is safe on all of them), then the
**least** compute saved above the floor, then lowest mean of the other risk
metric (figures within :data:`TIE_TOLERANCE` are tied; :func:`choose`) -- is
returned with every candidate's per-study figures, for the caller's verdict
(:mod:`~policy_store.drift.promotion`), which corrects for having picked the
best of many. Candidates the window cannot tell apart on risk
(killed-best ties on 10-20 studies) are not equally safe on studies it has not
seen: the more careful one is the safer bet (on 100 draws of 15 post-change
studies, scored on the pools' other studies: 1.75x instead of 1.86x the
pre-change killed-best on log loss, 2.11x instead of 2.21x on LCDB, compute
saved still >= 0.75x; ``benchmarks/RESULTS.md``, "Drift"). The search then
climbs for ``rounds - 1`` more rounds (neighbours of the best so far).

>>> from policy_store.rules import RuleSpec
>>> spec = RuleSpec.parse({"strategy": "median", "params": {"n_warmup_steps": 2}})
>>> sorted({s.params["n_warmup_steps"] for s in neighbours(spec)})
[1, 2, 3, 4]
>>> family = candidates(spec)
>>> len(family) > len(neighbours(spec)), sorted({s.strategy for s in family})
(True, ['hyperband', 'median', 'percentile', 'successive_halving'])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from policy_store.drift._base import check_choice
from policy_store.drift.calibration import smoothed_rate
from policy_store.drift.student import student_quantile

from policy_store.curves import StudyCurves, regret_scale
from policy_store.errors import InvalidSpecError
from policy_store.replay import replay_outcomes
from policy_store.rules import RuleSpec, get_strategy

FACTORS = (0.5, 0.75, 1.5, 2.0)
#: One-sided level of the upper bound that ranks eligible candidates.
RANKING_CONFIDENCE = 0.9
FROM_ZERO = (1, 2, 4)
#: The risk metrics a re-tuning can minimise (the other one breaks ties).
OBJECTIVES = ("killed_best", "regret")
#: Figures closer than this are tied when choosing (:func:`lowest`): float sums of the same per-study values in
#: another order differ by a few ulps (381 of 2,000 permuted 15-study killed-best vectors changed their bound).
TIE_TOLERANCE = {"rel_tol": 1e-9, "abs_tol": 1e-12}
T = TypeVar("T")


def neighbours(spec: RuleSpec) -> list[RuleSpec]:
    """Valid specs that differ from ``spec`` in one numeric strategy parameter."""
    out: dict[str, RuleSpec] = {}
    base = spec.to_dict()
    for param in get_strategy(spec.strategy).params:
        value = spec.params.get(param.name)
        if param.kind not in ("int", "float") or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        values = [float(v) for v in FROM_ZERO] if value == 0 else [value * f for f in FACTORS]
        for v in values:
            new = int(round(v)) if param.kind == "int" else float(v)
            if new == value:
                continue
            try:
                candidate = RuleSpec.parse({**base, "params": {**base["params"], param.name: new}})
            except InvalidSpecError:
                continue  # out of the parameter's range
            out.setdefault(candidate.spec_hash, candidate)
    out.pop(spec.spec_hash, None)
    return list(out.values())


def safer_rules() -> list[RuleSpec]:
    """Rules that judge later or with more trials than the grid's: the side a change toward risk needs.

    Percentile 50/75/90/95 at warm-up 0-8 that prune only with at least 4 trials at the step, percentile 95
    at warm-up 0-8 with the default 1, and successive halving with its first rung at step 6 or 8 (reduction
    2, 3, 4). Measured on the held-out pools of ``benchmarks/drift.py`` (``benchmarks/RESULTS.md``, "Drift"),
    they reach lower killed-best at 70 % of the pre-change compute saved than the grid does.

    >>> len(safer_rules())
    31
    """
    out = []
    for warmup in (0, 2, 4, 6, 8):
        for pct, min_trials in ((50, 4), (75, 4), (90, 4), (95, 4), (95, 1)):
            params = {"percentile": pct, "n_warmup_steps": warmup, "n_startup_trials": 2, "n_min_trials": min_trials}
            out.append(RuleSpec.parse({"strategy": "percentile", "params": params}))
    out += [RuleSpec.parse({"strategy": "successive_halving",
                            "params": {"reduction_factor": eta, "min_resource": first}})
            for eta in (2, 3, 4) for first in (6, 8)]  # fmt: skip
    return out


def candidates(spec: RuleSpec) -> list[RuleSpec]:
    """``spec``'s neighbours, the fixed family of other rules and :func:`safer_rules`, without ``spec``."""
    from policy_store.meta.learner.grid import candidate_grid  # the meta-learner's import chain: only when re-tuning

    out = {s.spec_hash: s for s in neighbours(spec)}
    for c in candidate_grid():
        if not c.needs_prior:
            out.setdefault(c.spec().spec_hash, c.spec())
    for s in safer_rules():
        out.setdefault(s.spec_hash, s)
    out.pop(spec.spec_hash, None)
    return list(out.values())


@dataclass(frozen=True)
class Scored:
    """A spec and its outcomes on the window: means, and per study (orders averaged) for paired tests."""

    spec: RuleSpec
    regret: float
    compute_saved: float
    killed_best_rate: float
    per_study_regret: np.ndarray = field(repr=False)
    per_study_saved: np.ndarray = field(repr=False)
    per_study_killed: np.ndarray = field(repr=False)

    def per_study(self, metric: str) -> np.ndarray:
        """Per-study values of ``regret`` or ``killed_best``."""
        return self.per_study_killed if metric == "killed_best" else self.per_study_regret

    def mean(self, metric: str) -> float:
        return self.killed_best_rate if metric == "killed_best" else self.regret

    def upper(self, metric: str) -> float:
        """Upper confidence bound of the mean of ``metric`` (see :func:`upper_bound`)."""
        return upper_bound(self.per_study(metric), fraction=metric == "killed_best")

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "spec_hash": self.spec.spec_hash,
            "regret": self.regret,
            "compute_saved": self.compute_saved,
            "killed_best_rate": self.killed_best_rate,
        }


@dataclass(frozen=True)
class Retune:
    """The current spec's score, the best eligible candidate's (``None`` if none is), and every candidate tried."""

    current: Scored
    best: Scored | None
    n_studies: int
    tried: list[Scored] = field(repr=False)
    objective: str = "killed_best"

    @property
    def n_candidates(self) -> int:
        return len(self.tried)


def upper_bound(values: np.ndarray, *, fraction: bool, confidence: float = RANKING_CONFIDENCE) -> float:
    """One-sided upper bound of the mean of per-study ``values`` (Student's t on their spread).

    A ``fraction`` (killed-best) is smoothed as the drift monitors' references are
    (:func:`~policy_store.drift.calibration.smoothed_rate`): a candidate that never killed the best trial on 10
    studies is not certain never to.

    >>> round(upper_bound(np.zeros(10), fraction=True), 3), round(upper_bound(np.zeros(40), fraction=True), 3)
    (0.139, 0.035)
    """
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return math.inf
    full = smoothed_rate(v) if fraction else v
    return float(full.mean() + student_quantile(confidence, v.size - 1) * full.std(ddof=1) / math.sqrt(v.size))


def lowest(pool: Sequence[T], key: Callable[[T], float]) -> list[T]:
    """The members of ``pool`` whose ``key`` is the lowest, up to :data:`TIE_TOLERANCE`.

    A bound or mean of the same per-study values summed in another order differs in its last bits, so exact
    equality would decide a tie by rounding.

    >>> lowest([0.1 + 0.2, 0.3, 0.4], float)
    [0.30000000000000004, 0.3]
    """
    values = [key(s) for s in pool]
    best = min(values, default=math.inf)
    return [s for s, v in zip(pool, values, strict=True) if v <= best or math.isclose(v, best, **TIE_TOLERANCE)]


def choose(pool: Sequence[Scored], *, current: Scored, objective: str, min_compute_saved: float) -> Scored | None:
    """The best eligible member of ``pool`` (see the module docstring), or ``None`` if none is eligible.

    Eligible: :func:`eligible`. Then, each step keeping the ties of the one before
    (:func:`lowest`): the lowest upper bound of ``objective``, the least compute saved, the lowest mean of the
    other risk metric, the smallest spec hash (so the choice does not depend on the candidates' order).
    Compute saved comes before the other metric on purpose: among candidates tied on the bound the more careful
    one held its risk on unseen studies (module docstring), and a continuous mean regret placed first would
    decide nearly every tie by a difference no window of 15 studies can tell from noise.
    """
    other = next(m for m in OBJECTIVES if m != objective)
    tied = eligible(pool, current=current, min_compute_saved=min_compute_saved)
    for key in (lambda s: s.upper(objective), lambda s: s.compute_saved, lambda s: s.mean(other)):
        tied = lowest(tied, key)
    return min(tied, key=lambda s: s.spec.spec_hash, default=None)


def eligible(pool: Sequence[Scored], *, current: Scored, min_compute_saved: float) -> list[Scored]:
    """Members of ``pool`` saving at least ``min_compute_saved`` that kill the best no more often than ``current``
    (equal up to :data:`TIE_TOLERANCE` counts as no more often)."""
    ceiling = current.killed_best_rate
    return [s for s in pool if s.compute_saved >= min_compute_saved and (
        s.killed_best_rate <= ceiling or math.isclose(s.killed_best_rate, ceiling, **TIE_TOLERANCE))]  # fmt: skip


def score(specs: Sequence[RuleSpec], curves: Sequence[StudyCurves], orders: int) -> list[Scored]:
    """Replay ``specs`` on ``curves`` under ``orders`` trial orders; one :class:`Scored` per spec."""
    outcomes, _ = replay_outcomes(curves, specs, list(range(orders)))
    scale = {c.study: regret_scale(c) for c in curves}
    outcomes["regret"] = outcomes["regret"] / outcomes["study"].map(scale)
    outcomes["killed_best"] = outcomes["killed_best"].astype(float)
    per = outcomes.groupby(["spec_index", "study"], sort=True)[["regret", "compute_saved", "killed_best"]].mean()
    out = []
    for i, s in enumerate(specs):
        regret, saved, killed = (per.loc[i, k].to_numpy() for k in ("regret", "compute_saved", "killed_best"))
        out.append(Scored(s, float(regret.mean()), float(saved.mean()), float(killed.mean()), regret, saved, killed))
    return out


def retune(
    spec: RuleSpec,
    curves: Sequence[StudyCurves],
    *,
    orders: int = 3,
    min_compute_saved: float = 0.0,
    objective: str = "killed_best",
    rounds: int = 2,
) -> Retune:
    """Replay ``spec`` and its candidates on ``curves``; find the best eligible one (see the module docstring)."""
    check_choice("objective", objective, OBJECTIVES)
    current, *scored = score([spec, *candidates(spec)], curves, orders)
    seen = {spec.spec_hash, *(s.spec.spec_hash for s in scored)}

    def best_of(pool: list[Scored]) -> Scored | None:
        return choose(pool, current=current, objective=objective, min_compute_saved=min_compute_saved)

    best = best_of(scored)
    for _ in range(rounds - 1):
        if best is None:
            break
        fresh = [c for c in neighbours(best.spec) if c.spec_hash not in seen]
        if not fresh:
            break
        seen.update(c.spec_hash for c in fresh)
        scored += score(fresh, curves, orders)
        improved = best_of(scored)
        if improved is best:
            break
        best = improved
    return Retune(current, best, len(curves), scored, objective)
