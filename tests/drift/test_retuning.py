"""Re-tuning's choice among eligible candidates: ties up to rounding, then the documented key order."""

from __future__ import annotations

import numpy as np
from policy_store.drift.retuning import Scored, choose

from policy_store.rules import RuleSpec

# One candidate's per-study killed-best on 15 post-change studies (orders' means), and the same values in the order
# of another study assignment: the same multiset, so the same risk, but float sums in another order.
KILLED = np.array([0, 0, 0, 1 / 3, 0, 2 / 3, 0, 0, 1, 0, 1 / 3, 0, 0, 0, 0])
PERMUTED = np.array([0, 0, 0, 2 / 3, 0, 0, 0, 0, 1, 1 / 3, 0, 0, 0, 0, 1 / 3])


def _scored(warmup: int, killed: np.ndarray, *, saved: float, regret: float = 0.02) -> Scored:
    spec = RuleSpec.parse({"strategy": "median", "params": {"n_warmup_steps": warmup}})
    n = killed.size
    return Scored(spec, regret, saved, float(killed.mean()), np.full(n, regret), np.full(n, saved), killed)


def test_the_same_killed_best_values_in_another_order_tie_and_the_least_compute_saved_wins():
    current = _scored(0, np.r_[KILLED[:-1], 1.0], saved=0.9)
    picks = []
    for careful_killed, greedy_killed in ((KILLED, PERMUTED), (PERMUTED, KILLED)):
        careful, greedy = _scored(6, careful_killed, saved=0.72), _scored(2, greedy_killed, saved=0.80)
        # The bounds differ by rounding only: an exact comparison would let it pick in one of the two orders.
        assert careful.upper("killed_best") != greedy.upper("killed_best")
        picks.append(choose([greedy, careful], current=current, objective="killed_best", min_compute_saved=0.7))
    assert [p.spec.params["n_warmup_steps"] for p in picks] == [6, 6]


def test_a_tie_on_the_bound_goes_to_compute_saved_before_the_other_metric_and_ignores_the_candidates_order():
    current = _scored(0, PERMUTED, saved=0.9)
    careful = _scored(6, KILLED, saved=0.72, regret=0.05)
    lower_regret = _scored(2, PERMUTED, saved=0.73, regret=0.01)
    riskier = _scored(4, np.r_[KILLED[:-1], 1.0], saved=0.71, regret=0.0)
    same_as_careful = _scored(8, KILLED, saved=0.72, regret=0.05)
    pool = [lower_regret, careful, riskier, same_as_careful]
    # KILLED's rate is PERMUTED's plus rounding: still "no more often" than the current spec.
    assert careful.killed_best_rate > current.killed_best_rate
    both = {choose(order, current=current, objective="killed_best", min_compute_saved=0.7).spec.spec_hash
            for order in (pool, pool[::-1])}
    assert both == {min(careful.spec.spec_hash, same_as_careful.spec.spec_hash)}
    # On regret, the other metric breaks the tie of the bound and of compute saved.
    regret_first = _scored(6, KILLED, saved=0.72, regret=0.01)
    pick = choose([careful, regret_first, riskier], current=current, objective="killed_best", min_compute_saved=0.7)
    assert pick is regret_first
    assert choose([riskier], current=current, objective="killed_best", min_compute_saved=0.7) is None
