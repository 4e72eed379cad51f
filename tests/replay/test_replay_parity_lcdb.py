"""Parity on real curves: the engine's decisions equal Optuna 5's, trial by trial.

Every Optuna-backed strategy over a parameter grid, on the committed LCDB
excerpt (8 studies x 20 learners, maximize), in the recorded order and a
shuffled one.
"""

from __future__ import annotations

import numpy as np
import pytest

from policy_store.curves import StudyCurves
from policy_store.replay import optuna_prune_cols, replay_study
from policy_store.rules import RuleSpec

GRID = {
    "median": [{}, {"n_startup_trials": 2, "n_warmup_steps": 3, "interval_steps": 2},
               {"n_startup_trials": 1, "n_min_trials": 4}],
    "percentile": [{"percentile": 25.0, "n_startup_trials": 3}, {"percentile": 90.0, "n_startup_trials": 0},
                   {"percentile": 10.0, "n_startup_trials": 1, "n_warmup_steps": 2, "interval_steps": 3}],
    "threshold": [{"lower": 0.6}, {"lower": 0.8, "upper": 0.99, "n_warmup_steps": 4, "interval_steps": 2}],
    "successive_halving": [{}, {"min_resource": 1, "reduction_factor": 2},
                           {"min_resource": 2, "reduction_factor": 3, "min_early_stopping_rate": 1,
                            "bootstrap_count": 2}],
    "hyperband": [{}, {"min_resource": 1, "max_resource": 20, "reduction_factor": 2},
                  {"min_resource": 2, "reduction_factor": 4}],
    "patient": [{"patience": 1}, {"patience": 2, "min_delta": 0.01, "wrapped": {"strategy": "median"}},
                {"patience": 0, "wrapped": {"strategy": "successive_halving",
                                            "params": {"min_resource": 1, "reduction_factor": 2}}}],
    "wilcoxon": [{}, {"p_threshold": 0.3, "n_startup_steps": 4}],
}
def _head(c: StudyCurves, n: int) -> StudyCurves:
    return StudyCurves.from_arrays(c.study, c.values[:n], steps=c.steps, present=c.present[:n], cost=c.cost[:n],
                                   direction=c.direction, task=c.task, trials=list(c.trials[:n]))


CASES = [(s, p) for s, ps in GRID.items() for p in ps]


@pytest.mark.parametrize(("strategy", "params"), CASES, ids=[f"{s}-{i}" for i, (s, _) in enumerate(CASES)])
def test_lcdb_parity(lcdb, strategy, params):
    spec = RuleSpec.parse({"strategy": strategy, "params": params})
    studies, seeds = lcdb, [0, 3]
    if strategy == "wilcoxon":
        # scipy's permutation method (ties are common in accuracy curves) costs ~0.1 s a test on
        # both sides: one study, its first 6 learners, one order keeps this under a minute.
        studies, seeds = [_head(lcdb[1], 6)], [0]
    n_pruned = 0
    for c in studies:
        for r in replay_study(c, [spec], order_seeds=seeds):
            expected = optuna_prune_cols(c, spec, r.order)
            np.testing.assert_array_equal(r.prune_col, expected, err_msg=f"{c.study} order {r.order_seed}")
            n_pruned += int((expected >= 0).sum())
    if strategy in ("median", "successive_halving", "hyperband"):
        assert n_pruned > 0  # the grid exercises actual prunes, not only "continue"


def test_lcdb_parity_with_audit(lcdb):
    spec = RuleSpec.parse({"strategy": "successive_halving", "params": {"min_resource": 1, "reduction_factor": 2},
                           "safeguards": {"audit_fraction": 0.25, "audit_seed": 11}})
    c = lcdb[0]
    (r,) = replay_study(c, [spec], order_seeds=[5])
    np.testing.assert_array_equal(r.prune_col, optuna_prune_cols(c, spec, r.order))
    assert r.audited.any() and not r.pruned[r.audited].any()
