"""Parity on generated curves: NaNs, ties, skipped steps, both directions, parameter grids."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_store.curves import StudyCurves
from policy_store.replay import optuna_prune_cols, replay_many, replay_study
from policy_store.replay.kernels._common import insert_sorted, sorted_nanpercentile
from policy_store.rules import RuleSpec

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def curves(draw, max_trials: int = 12, max_steps: int = 8):
    n = draw(st.integers(1, max_trials))
    j = draw(st.integers(1, max_steps))
    steps = sorted(draw(st.sets(st.integers(0, 40), min_size=j, max_size=j)))
    tie_values = draw(st.booleans())
    elem = (st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, float("nan")]) if tie_values
            else st.one_of(st.floats(-5, 5, allow_nan=False), st.just(float("nan"))))
    values = np.array(draw(st.lists(elem, min_size=n * j, max_size=n * j)), dtype=float).reshape(n, j)
    present = np.array(draw(st.lists(st.booleans(), min_size=n * j, max_size=n * j)), dtype=bool).reshape(n, j)
    present[:, 0] |= ~present.any(axis=1)
    direction = draw(st.sampled_from(["minimize", "maximize"]))
    return StudyCurves.from_arrays("hyp", values, steps=steps, present=present, direction=direction)


def check(c: StudyCurves, spec: dict, seed: int) -> None:
    parsed = RuleSpec.parse(spec)
    (r,) = replay_study(c, [parsed], order_seeds=[seed])
    np.testing.assert_array_equal(r.prune_col, optuna_prune_cols(c, parsed, r.order, study_name="hyp"))


gate = st.fixed_dictionaries({"n_warmup_steps": st.integers(0, 6), "interval_steps": st.integers(1, 4)})


@SETTINGS
@given(curves(), gate, st.integers(0, 3), st.integers(1, 3), st.sampled_from([None, 0.0, 10.0, 50.0, 75.0, 100.0]),
       st.integers(0, 3))
def test_percentile_and_median(c, g, n_startup, n_min, pct, seed):
    params = {**g, "n_startup_trials": n_startup, "n_min_trials": n_min}
    if pct is None:
        check(c, {"strategy": "median", "params": params}, seed)
    else:
        check(c, {"strategy": "percentile", "params": {**params, "percentile": pct}}, seed)


@SETTINGS
@given(curves(), gate, st.sampled_from([(None, 0.5), (0.0, None), (-1.0, 1.0), (0.25, 0.25)]), st.integers(0, 3))
def test_threshold(c, g, bounds, seed):
    check(c, {"strategy": "threshold", "params": {**g, "lower": bounds[0], "upper": bounds[1]}}, seed)


@SETTINGS
@given(curves(), st.sampled_from(["auto", 1, 2, 5]), st.integers(2, 4), st.integers(0, 2), st.integers(0, 3),
       st.integers(0, 3))
def test_successive_halving(c, min_resource, eta, rate, boot, seed):
    if min_resource == "auto":
        boot = 0
    check(c, {"strategy": "successive_halving", "params": {"min_resource": min_resource, "reduction_factor": eta,
                                                           "min_early_stopping_rate": rate,
                                                           "bootstrap_count": boot}}, seed)


@SETTINGS
@given(curves(), st.integers(1, 3), st.sampled_from(["auto", 9, 27, 40]), st.integers(2, 4), st.integers(0, 2),
       st.integers(0, 3))
def test_hyperband(c, min_resource, max_resource, eta, boot, seed):
    if max_resource == "auto":
        boot = 0
    check(c, {"strategy": "hyperband", "params": {"min_resource": min_resource, "max_resource": max_resource,
                                                  "reduction_factor": eta, "bootstrap_count": boot}}, seed)


@SETTINGS
@given(curves(), st.integers(0, 3), st.sampled_from([0.0, 0.1]),
       st.sampled_from([None, {"strategy": "median", "params": {"n_startup_trials": 1}},
                        {"strategy": "threshold", "params": {"upper": 0.5}},
                        {"strategy": "successive_halving", "params": {"min_resource": 1, "reduction_factor": 2}},
                        {"strategy": "hyperband", "params": {"max_resource": 27}}]),
       st.integers(0, 3))
def test_patient(c, patience, min_delta, wrapped, seed):
    check(c, {"strategy": "patient", "params": {"patience": patience, "min_delta": min_delta, "wrapped": wrapped}},
          seed)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(curves(max_trials=8, max_steps=6), st.sampled_from([0.1, 0.5]), st.integers(0, 4), st.integers(0, 2))
def test_wilcoxon(c, p, n_startup_steps, seed):
    check(c, {"strategy": "wilcoxon", "params": {"p_threshold": p, "n_startup_steps": n_startup_steps}}, seed)


@SETTINGS
@given(curves(), st.sampled_from([0.05, 0.3]), st.sampled_from([-0.5, 0.0, 0.5]), st.sampled_from([0.01, 1.0]),
       st.integers(1, 3), st.integers(0, 2), st.integers(0, 3))
def test_posterior_matches_its_optuna_pruner(c, alpha, mean, beta, n_startup, min_obs, seed):
    check(c, {"strategy": "posterior", "params": {"alpha": alpha, "prior_mean": mean, "prior_beta": beta,
                                                  "n_startup_trials": n_startup, "min_observations": min_obs}}, seed)


@SETTINGS
@given(curves(), st.floats(0.05, 0.95), st.integers(0, 100),
       st.sampled_from(["median", "successive_halving", "hyperband", "posterior"]), st.integers(0, 3))
def test_audit_fraction(c, fraction, audit_seed, strategy, seed):
    check(c, {"strategy": strategy, "safeguards": {"audit_fraction": fraction, "audit_seed": audit_seed}}, seed)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan")), st.sampled_from([0.0, 1.0])),
                min_size=1, max_size=15), st.floats(0, 100))
def test_sorted_nanpercentile_is_numpy_bit_for_bit(xs, q):
    x = np.array(xs)
    srt = np.full((1, 1, len(x) + 1), np.nan)
    n = 0
    for k, v in enumerate(x):
        if not np.isnan(v):
            insert_sorted(srt, k, np.array([[v]]), np.array([[True]]))
            n += 1
    got = sorted_nanpercentile(srt, np.array([[n]]), np.true_divide(np.array([q]), 100))[0, 0]
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = np.nanpercentile(x, q)
    assert (np.isnan(got) and np.isnan(want)) or got == want


ALL_KERNELS = [{"strategy": "median", "params": {"n_startup_trials": 1}},
               {"strategy": "percentile", "params": {"percentile": 30.0, "n_startup_trials": 0}},
               {"strategy": "threshold", "params": {"upper": 0.5}},
               {"strategy": "successive_halving"}, {"strategy": "hyperband", "params": {"max_resource": 30}},
               {"strategy": "patient", "params": {"patience": 1, "wrapped": {"strategy": "median"}}},
               {"strategy": "posterior"}, {"strategy": "wilcoxon"},
               {"strategy": "successive_halving", "safeguards": {"audit_fraction": 0.5}}]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(curves(max_trials=6, max_steps=5), min_size=2, max_size=4), st.sampled_from(["minimize", "maximize"]))
def test_stacked_studies_equal_separate_replays(studies, direction):
    studies = [StudyCurves.from_arrays(f"s{k}", c.values, steps=c.steps, present=c.present, direction=direction)
               for k, c in enumerate(studies)]
    specs = [RuleSpec.parse(s) for s in ALL_KERNELS]
    stacked = replay_many(studies, specs, [0, 2])
    for c, rs in zip(studies, stacked, strict=True):
        for a, b in zip(rs, replay_study(c, specs, [0, 2]), strict=True):
            np.testing.assert_array_equal(a.order, b.order)
            np.testing.assert_array_equal(a.prune_col, b.prune_col)


def test_no_orders_or_no_specs_give_empty_lists():
    c = StudyCurves.from_arrays("s", [[0.5, 0.4], [0.6, 0.7]])
    assert replay_many([c], [RuleSpec.parse({"strategy": "median"})], []) == [[]]
    assert replay_many([c, c], [], [0]) == [[], []]
    assert replay_many([], [RuleSpec.parse({"strategy": "median"})], [0]) == []
