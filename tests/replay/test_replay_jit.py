"""The compiled kernels equal the numpy kernels: decisions, thresholds and reference sizes.

The numpy kernels are the reference (parity with Optuna is tested for the
default path in the other files); here both paths replay the same stacked
batches, with and without a ``call`` mask (``patient``), audits and "auto"
minimum resources.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_replay_parity_hypothesis import curves

from policy_store.curves import StudyCurves
from policy_store.replay import replay_many
from policy_store.replay.kernels import _jit
from policy_store.rules import RuleSpec

pytestmark = pytest.mark.skipif(not _jit.enabled(), reason="numba is not importable")

SPECS = [{"strategy": "median"},
         {"strategy": "median", "params": {"n_startup_trials": 1, "n_warmup_steps": 2, "interval_steps": 3}},
         {"strategy": "percentile", "params": {"percentile": 25.0, "n_startup_trials": 0, "n_min_trials": 3}},
         {"strategy": "percentile", "params": {"percentile": 90.0, "n_startup_trials": 2}},
         {"strategy": "successive_halving"},
         {"strategy": "successive_halving", "params": {"min_resource": 1, "reduction_factor": 2,
                                                       "bootstrap_count": 2}},
         {"strategy": "successive_halving", "params": {"min_resource": 2, "reduction_factor": 3,
                                                       "min_early_stopping_rate": 1}},
         {"strategy": "patient", "params": {"patience": 1, "wrapped": {"strategy": "median"}}},
         {"strategy": "patient", "params": {"patience": 0, "wrapped": {
             "strategy": "successive_halving", "params": {"min_resource": 1, "reduction_factor": 2}}}},
         {"strategy": "median", "safeguards": {"audit_fraction": 0.4, "audit_seed": 3}},
         {"strategy": "successive_halving", "params": {"min_resource": 1},
          "safeguards": {"audit_fraction": 0.4, "audit_seed": 3}},
         {"strategy": "hyperband"},
         {"strategy": "hyperband", "params": {"min_resource": 1, "max_resource": 20, "reduction_factor": 2}},
         {"strategy": "hyperband", "params": {"min_resource": 2, "max_resource": 9, "reduction_factor": 3,
                                              "bootstrap_count": 1}},
         {"strategy": "hyperband", "params": {"reduction_factor": 2},
          "safeguards": {"audit_fraction": 0.4, "audit_seed": 3}},
         {"strategy": "patient", "params": {"patience": 1, "wrapped": {
             "strategy": "hyperband", "params": {"min_resource": 1, "reduction_factor": 2}}}}]


def both_paths(monkeypatch, studies: list[StudyCurves], specs: list[RuleSpec], seeds: list[int]) -> None:
    jit = replay_many(studies, specs, seeds)
    monkeypatch.setenv("POLICY_STORE_REPLAY_JIT", "0")
    ref = replay_many(studies, specs, seeds)
    monkeypatch.delenv("POLICY_STORE_REPLAY_JIT")
    for c, rs_jit, rs_ref in zip(studies, jit, ref, strict=True):
        for a, b in zip(rs_jit, rs_ref, strict=True):
            msg = f"{c.study} {a.spec.strategy} {a.spec.params} order {a.order_seed}"
            np.testing.assert_array_equal(a.prune_col, b.prune_col, err_msg=msg)
            np.testing.assert_array_equal(a.threshold, b.threshold, err_msg=msg)
            np.testing.assert_array_equal(a.ref_size, b.ref_size, err_msg=msg)


def test_lcdb_excerpt(lcdb, monkeypatch):
    both_paths(monkeypatch, lcdb, [RuleSpec.parse(s) for s in SPECS], [0, 1, 2, 3, 4])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(curves(), min_size=1, max_size=4), st.sampled_from(["minimize", "maximize"]),
       st.lists(st.integers(0, 20), min_size=1, max_size=3, unique=True))
def test_generated_curves(studies, direction, seeds):
    studies = [StudyCurves.from_arrays(f"s{k}", c.values, steps=c.steps, present=c.present, direction=direction)
               for k, c in enumerate(studies)]
    with pytest.MonkeyPatch.context() as mp:
        both_paths(mp, studies, [RuleSpec.parse(s) for s in SPECS], seeds)


def test_one_compiled_version_per_loop(lcdb):
    # numba compiles per argument layout; a one-study batch must not type differently from a larger one,
    # or the first big replay after a small warm-up pays a second compilation
    from policy_store.replay.kernels import _stack_jit, percentile_jit, successive_halving_jit

    specs = [RuleSpec.parse(s) for s in SPECS]
    for studies in (lcdb[:1], lcdb[:3]):
        replay_many(studies, specs, [0, 1])
    assert len(percentile_jit.loop.signatures) == 1
    assert len(successive_halving_jit.loop.signatures) == 1
    assert len(_stack_jit.scatter.signatures) == 2          # values (float) and present (bool)
