"""Evaluation against a store: loading curves, outcomes, idempotent writes, typed errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from policy_store.curves import StudyCurves, load_curves, load_study_curves
from policy_store.errors import DirectionMismatchError, NotFoundError
from policy_store.ingest import ingest_frame
from policy_store.replay import evaluate, outcome_arrays, replay_outcomes, replay_study
from policy_store.rules import RuleSpec, add_rule_version


@pytest.fixture
def lcdb_store(store):
    import conftest_data

    ingest_frame(store, conftest_data.lcdb_long())
    return store


def test_load_curves_matches_the_frame(lcdb_store, lcdb):
    loaded = load_curves(lcdb_store)
    assert [c.study for c in loaded] == [c.study for c in lcdb]
    for a, b in zip(loaded, lcdb, strict=True):
        assert a.direction == "maximize" and a.task == b.task
        np.testing.assert_array_equal(a.steps, b.steps)
        np.testing.assert_array_equal(a.present, b.present)
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.cost, b.cost)
        assert sorted(a.trials) == sorted(b.trials)
    one = load_study_curves(lcdb_store, lcdb[0].study)
    assert one.n_trials == 20 and one.cost_known
    with pytest.raises(NotFoundError):
        load_study_curves(lcdb_store, "nope")


def test_evaluate_records_once(lcdb_store):
    add_rule_version(lcdb_store, "med", {"strategy": "median"}, created_by="t")
    ev = evaluate(lcdb_store, "med", orders=2, record_decisions=True)
    assert ev.inserted == 16 and len(ev.outcomes) == 16
    counts = lcdb_store.row_counts()
    assert counts["outcomes"] == 16 and counts["decisions"] == 16 * 20
    again = evaluate(lcdb_store, "med@1", orders=2, record_decisions=True)
    assert again.inserted == 0 and lcdb_store.row_counts() == counts
    row = lcdb_store.fetch_dicts("SELECT * FROM outcomes ORDER BY study, order_seed LIMIT 1")[0]
    assert set(json.loads(row["lib_versions"])) >= {"numpy", "scipy", "optuna"}
    assert row["mode"] == "replay" and row["rule"] == "med" and row["version"] == 1
    assert 0 <= row["compute_saved"] < 1 and row["regret"] >= 0
    summary = ev.summary
    assert list(summary["task"])[-1] == "(all)" and summary["studies"].iloc[-1] == 8
    pruned = lcdb_store.scalar("SELECT count(*) FROM decisions WHERE verdict = 'prune'")
    assert pruned == int(ev.outcomes["trials_pruned"].sum())


def test_task_filter_and_unknowns(lcdb_store):
    add_rule_version(lcdb_store, "sh", {"strategy": "successive_halving"}, created_by="t")
    ev = evaluate(lcdb_store, "sh", tasks=["lcdb/392/accuracy"], orders=1)
    assert set(ev.outcomes["task"]) == {"lcdb/392/accuracy"} and ev.inserted == 2
    with pytest.raises(NotFoundError):
        evaluate(lcdb_store, "sh", tasks=["missing"])
    with pytest.raises(NotFoundError):
        evaluate(lcdb_store, "nosuchrule")


@pytest.mark.parametrize("spec", [
    {"strategy": "threshold", "params": {"upper": 0.3}, "direction": "minimize"},
    {"strategy": "posterior", "params": {"prior_mean": -0.05}, "direction": "minimize"},
])
def test_wrong_direction_is_refused_and_nothing_is_written(lcdb_store, spec):
    add_rule_version(lcdb_store, "wrong", spec, created_by="t")
    before = lcdb_store.row_counts()
    with pytest.raises(DirectionMismatchError, match="made for minimize"):
        evaluate(lcdb_store, "wrong", orders=2, record_decisions=True)
    assert lcdb_store.row_counts() == before


def test_outcomes_by_hand():
    # minimise; trial 1 is pruned at its first step by the median of trial 0
    c = StudyCurves.from_arrays("s", [[1.0, 0.9, 0.8], [1.2, 1.1, 0.1], [0.5, 0.4, 0.3]],
                                cost=[[1, 1, 1], [2, 2, 2], [1, 1, 1]])
    spec = RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 1}})
    (r,) = replay_study(c, [spec])
    assert r.pruned.tolist() == [False, True, False]
    o = outcome_arrays(c, [r])
    assert o["cost_full"][0] == 12 and o["cost_spent"][0] == 8
    assert math.isclose(o["compute_saved"][0], 1 - 8 / 12)
    # trial 1 would have ended best (0.1): regret 0.3 - 0.1, best killed, a false prune
    assert math.isclose(o["regret"][0], 0.2) and bool(o["killed_best"][0])
    assert o["false_prune_rate"][0] == 1.0 and o["steps_run"][0] == 7
    assert math.isnan(o["audit_false_prune_rate"][0])
    no_cost = StudyCurves.from_arrays("s", c.values)
    o2 = outcome_arrays(no_cost, replay_study(no_cost, [spec]))
    assert math.isclose(o2["compute_saved"][0], 2 / 9) and math.isnan(o2["cost_spent"][0])


def test_posterior_prior_prunes_before_median_startup():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 1.0, size=(12, 1))
    values = base * (1 + 1 / np.arange(1, 9))       # minimise; final = 1.125 * first value
    c = StudyCurves.from_arrays("s", values)
    post = RuleSpec.parse({"strategy": "posterior", "params": {"prior_mean": -0.1, "prior_beta": 1e-4,
                                                               "alpha": 0.05}, "direction": "minimize"})
    med = RuleSpec.parse({"strategy": "median"})
    rp, rm = replay_study(c, [post, med])
    first_post = int(np.flatnonzero(rp.pruned)[0])
    first_med = int(np.flatnonzero(rm.pruned)[0]) if rm.pruned.any() else 99
    assert first_post < 5 <= first_med


def test_parallel_equals_serial(lcdb):
    specs = [RuleSpec.parse({"strategy": "median"}), RuleSpec.parse({"strategy": "hyperband"})]
    a, _ = replay_outcomes(lcdb, specs, [0, 1], n_jobs=1)
    b, _ = replay_outcomes(lcdb, specs, [0, 1], n_jobs=2, chunk_size=3)
    pd.testing.assert_frame_equal(a, b)
