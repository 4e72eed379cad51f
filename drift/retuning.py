"""Re-tune a rule version's thresholds on a window of recorded studies, by exact replay.

Candidates are the current spec and its one-parameter neighbours: every numeric
strategy parameter scaled by 1/2, 3/4, 3/2 and 2 (integers rounded, zero moved to
1, 2 and 4), clipped to the parameter's range. Each is replayed on the window's
studies under several trial orders. A candidate *beats* the current spec when
its mean regret is lower by at least ``margin`` (relative) while it keeps at
least ``min_saved_ratio`` of the current compute saved; the best such candidate
(lowest regret, then most compute saved) wins. The search climbs for
``rounds`` rounds (neighbours of the best so far). Otherwise the best candidate
is reported as rejected.

>>> from policy_store.rules import RuleSpec
>>> spec = RuleSpec.parse({"strategy": "median", "params": {"n_warmup_steps": 2}})
>>> sorted({s.params["n_warmup_steps"] for s in neighbours(spec)})
[1, 2, 3, 4]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from policy_store.curves import StudyCurves
from policy_store.errors import InvalidSpecError
from policy_store.replay import replay_outcomes
from policy_store.rules import RuleSpec, get_strategy

FACTORS = (0.5, 0.75, 1.5, 2.0)
FROM_ZERO = (1, 2, 4)


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


@dataclass(frozen=True)
class Scored:
    """A spec and its mean outcomes on the window."""

    spec: RuleSpec
    regret: float
    compute_saved: float
    killed_best_rate: float

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
    """The current spec's score, the best candidate's, and whether the candidate wins."""

    current: Scored
    best: Scored | None
    promoted: bool
    n_studies: int
    n_candidates: int


def _score(specs: Sequence[RuleSpec], curves: Sequence[StudyCurves], orders: int) -> list[Scored]:
    outcomes, _ = replay_outcomes(curves, specs, list(range(orders)))
    means = outcomes.groupby("spec_index")[["regret", "compute_saved", "killed_best"]].mean()
    return [
        Scored(
            s, float(means.loc[i, "regret"]), float(means.loc[i, "compute_saved"]), float(means.loc[i, "killed_best"])
        )
        for i, s in enumerate(specs)
    ]


def retune(
    spec: RuleSpec,
    curves: Sequence[StudyCurves],
    *,
    orders: int = 3,
    margin: float = 0.1,
    min_saved_ratio: float = 0.5,
    rounds: int = 2,
) -> Retune:
    """Replay ``spec`` and its neighbours on ``curves``; pick a winner (see the module docstring).

    With ``rounds > 1`` the search climbs: the next round tries the neighbours of
    the best eligible candidate so far, until a round finds nothing better.
    """
    current, *scored = _score([spec, *neighbours(spec)], curves, orders)
    seen = {spec.spec_hash, *(s.spec.spec_hash for s in scored)}

    def best_of(pool: list[Scored]) -> Scored | None:
        eligible = [s for s in pool if s.compute_saved >= min_saved_ratio * current.compute_saved]
        return min(eligible, key=lambda s: (s.regret, -s.compute_saved)) if eligible else None

    best = best_of(scored)
    for _ in range(rounds - 1):
        if best is None:
            break
        fresh = [c for c in neighbours(best.spec) if c.spec_hash not in seen]
        if not fresh:
            break
        seen.update(c.spec_hash for c in fresh)
        scored += _score(fresh, curves, orders)
        improved = best_of(scored)
        if improved is best:
            break
        best = improved
    if best is None:  # nothing keeps enough compute saved: report the least bad, never promote it
        best = min(scored, key=lambda s: (s.regret, -s.compute_saved)) if scored else None
        return Retune(current, best, False, len(curves), len(scored))
    wins = best.regret < current.regret and best.regret <= (1 - margin) * current.regret
    return Retune(current, best, wins, len(curves), len(scored))
