"""Promotion never makes a rule riskier, and picking the best of many candidates is paid for."""

from __future__ import annotations

import numpy as np
import pytest
from policy_store.drift.promotion import judge, simultaneous_critical
from policy_store.drift.retuning import candidates, retune

from policy_store.curves import curves_from_frame
from policy_store.rules import RuleSpec
from tests.drift.conftest import studies


def _judge(current_regret, candidate_regret, current_killed, candidate_killed, **kw):
    args = {"critical": 2.0, "killed_critical": 2.0, "candidate_saved": 0.4, "baseline_saved": 0.4,
            "confirmed_bound": 0.1, "metric": "regret"} | kw  # fmt: skip
    return judge(np.asarray(current_regret), np.asarray(candidate_regret), current_killed=np.asarray(current_killed),
                 candidate_killed=np.asarray(candidate_killed), **args)  # fmt: skip


def test_a_candidate_with_less_regret_but_not_shown_as_safe_is_refused():
    rng = np.random.default_rng(0)
    current = rng.uniform(0.02, 0.05, 15)
    better = current - 0.02
    same_killed = (rng.random(15) < 0.3).astype(float)
    riskier = np.where(rng.random(15) < 0.5, 1.0, same_killed)
    assert _judge(current, better, same_killed, same_killed).promoted
    refused = _judge(current, better, same_killed, riskier)
    assert refused.failed == ["riskier: killed-best"] and refused.figures["killed_best_lower_bound"] < 0
    # A point estimate would pass (one study fewer killed), a lower bound does not.
    one_fewer = same_killed.copy()
    one_fewer[np.argmax(same_killed)] = 0.0
    noisy = np.where(np.arange(15) < 2, 1 - same_killed, same_killed)
    noisy[np.flatnonzero(same_killed)[:3]] = 0.0
    assert noisy.mean() <= same_killed.mean()
    verdict = _judge(current, better, same_killed, noisy)
    assert verdict.figures["killed_best_gain"] >= 0 and "riskier: killed-best" in verdict.failed


def test_the_simultaneous_critical_value_pays_for_independent_candidates_not_for_copies():
    rng = np.random.default_rng(1)
    one = rng.normal(size=(1, 12))
    copies = np.repeat(one, 50, axis=0) + rng.normal(0, 1e-3, (50, 12))
    independent = rng.normal(size=(50, 12))
    single, same, many = (simultaneous_critical(g) for g in (one, copies, independent))
    assert single == pytest.approx(same, abs=0.15) and many > single + 0.8
    # The bound it gives holds: on gains with no effect, the best of 50 candidates rarely shows a positive bound.
    false_wins = 0
    for seed in range(40):
        g = np.random.default_rng(100 + seed).normal(size=(50, 12))
        c = simultaneous_critical(g, seed=seed)
        best = g.mean(axis=1).argmax()
        false_wins += g[best].mean() - c * g[best].std(ddof=1) / np.sqrt(12) > 0
    assert false_wins <= 5


def test_retuning_looks_beyond_the_current_strategy_and_never_picks_a_riskier_rule():
    spec = RuleSpec.parse({"strategy": "median"})
    assert {s.strategy for s in candidates(spec)} >= {"median", "percentile", "successive_halving", "hyperband"}
    curves = curves_from_frame(studies("b", 12, late_bloomer=True, seed=3).assign(direction="minimize"))
    tuned = retune(spec, curves, min_compute_saved=0.0)
    assert tuned.best is not None and tuned.best.killed_best_rate < tuned.current.killed_best_rate
    assert tuned.n_candidates > len(candidates(spec)) - 1
    strict = retune(spec, curves, min_compute_saved=tuned.current.compute_saved)
    assert strict.best is None or (strict.best.killed_best_rate <= strict.current.killed_best_rate
                                   and strict.best.compute_saved >= tuned.current.compute_saved)  # fmt: skip
