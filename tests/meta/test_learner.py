"""The meta-learner: estimator contract, determinism, missing meta-features, training data on real curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from policy_store.datasets import ingest_bundled
from policy_store.meta.learner.estimator import PruningMetaLearner
from policy_store.meta.learner.grid import OPTUNA_DEFAULTS, candidate_grid, find_candidate
from policy_store.meta.learner.model import fit_meta_model
from policy_store.meta.learner.prediction import select
from policy_store.meta.learner.sources import training_data_from_lcdb, training_data_from_store
from policy_store.meta.learner.training_data import killed_steps, task_prior
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from policy_store import PolicyStore
from policy_store.curves import StudyCurves
from policy_store.errors import InvalidInputError
from policy_store.replay import replay_study

LCDB_EXCERPT = Path(__file__).parents[1] / "data" / "lcdb"


@pytest.fixture(scope="module")
def bundled_data():
    with PolicyStore.memory() as store:
        ingest_bundled(store)
        return training_data_from_store(store, orders=2)


def _toy(n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    X.loc[::4, "b"] = np.nan
    saved = np.c_[0.5 + 0.1 * X["a"], 0.3 - 0.1 * X["a"], np.full(n, 0.4)]
    regret = np.c_[0.05 * (X["a"] > 0), 0.05 * (X["a"] <= 0), np.full(n, 0.001)]
    y = np.stack([saved, regret, regret > 0], axis=2).astype(float)
    return X, y


def test_estimator_contract():
    X, y = _toy()
    est = PruningMetaLearner(n_estimators=10, random_state=3)
    with pytest.raises(NotFittedError):
        est.predict(X)
    assert est.get_params()["random_state"] == 3
    assert est.set_params(n_neighbors=4) is est and est.n_neighbors == 4
    assert est.fit(X, y) is est
    learned = set(vars(est)) - set(est.get_params())
    assert learned and all(name.endswith("_") for name in learned)
    assert list(est.feature_names_in_) == ["a", "b", "c"] and est.n_features_in_ == 3
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "y_")


@pytest.mark.parametrize("method", ["forest", "knn"])
def test_same_seed_same_model(method):
    X, y = _toy()
    a = PruningMetaLearner(method=method, n_estimators=15, random_state=7).fit(X, y)
    b = PruningMetaLearner(method=method, n_estimators=15, random_state=7).fit(X, y)
    for u, v in zip(a.predict_outcomes(X), b.predict_outcomes(X), strict=True):
        np.testing.assert_array_equal(u, v)


def test_out_of_bag_error_is_large_where_the_features_say_nothing_and_small_where_they_do():
    X, y = _toy(n=80)
    learnable = PruningMetaLearner(n_estimators=60, random_state=0).fit(X, y)
    rng = np.random.default_rng(1)
    noise = y.copy()
    noise[:, 0, 0] = rng.permutation(y[:, 0, 0])  # candidate 0's saved no longer follows feature "a"
    shuffled = PruningMetaLearner(n_estimators=60, random_state=0).fit(X, noise)
    err, err_noise = learnable.residual_sd(), shuffled.residual_sd()
    assert err.shape == (3, 3) and err[2, 0] == 0.0        # a constant is predicted exactly
    spread = y[:, 0, 0].std()
    assert err[0, 0] < 0.7 * spread and 0.9 * spread < err_noise[0, 0] < 1.5 * spread  # noise: about its std
    assert PruningMetaLearner(method="knn").fit(X, y).residual_sd() is None


def test_a_prior_is_never_narrower_than_the_models_out_of_bag_error(bundled_data):
    from policy_store.meta.adaptation.selector import Prior

    model = fit_meta_model(bundled_data, n_estimators=20)
    expected = model.expected(bundled_data.features.iloc[[0]])
    prior = Prior.from_expected(expected, model.grid, "maximize")
    known = ~np.array([c.needs_prior for c in model.grid])          # the others have no expectation without curves
    assert np.all(prior.saved_sd[known] >= expected.residual_sd[known, 0])
    assert np.all(prior.regret_sd[known] >= expected.residual_sd[known, 1])
    assert np.any(prior.saved_sd > (expected.high - expected.low)[:, 0] / 2.5631)  # trees agreeing is not enough


def test_without_curves_a_rule_that_needs_a_prior_has_no_expectation_and_is_never_chosen(bundled_data):
    from policy_store.meta.learner.prediction import select

    model = fit_meta_model(bundled_data, n_estimators=20)
    needs = np.array([c.needs_prior for c in model.grid])
    task = bundled_data.tasks[0]
    bare = model.expected(bundled_data.features.loc[[task]])
    assert needs.sum() == 8 and np.isnan(bare.saved[needs]).all() and np.isnan(bare.low[needs]).all()
    assert np.isfinite(bare.saved[~needs]).all()
    for lam in (0.0, 20.0):                                        # lam = 0: NaN regret times 0 is still NaN
        assert not needs[select(bare.saved[None], bare.regret[None], lam=lam)[0]]
    assert not needs[select(bare.saved[None], bare.regret[None], max_regret=1.0)[0]]
    with_curves = model.expected(bundled_data.features.loc[[task]], curves=[bundled_data.probes[task]])
    assert np.isfinite(with_curves.saved).all()                     # the curves give the prior


def test_learns_the_trade_off():
    X, y = _toy(n=60)
    est = PruningMetaLearner(n_estimators=30, random_state=0).fit(X, y)
    probe = pd.DataFrame({"a": [2.0, -2.0], "b": [0.0, 0.0], "c": [0.0, 0.0]})
    assert est.predict(probe).tolist() == [2, 2]            # lam = 20: the no-regret candidate
    assert est.select(probe, lam=0.0)[0] == 0                # compute only: the one that saves most
    assert est.select(probe, max_regret=0.002).tolist() == [2, 2]


def test_missing_and_unknown_meta_features():
    X, y = _toy()
    est = PruningMetaLearner(n_estimators=10, random_state=0).fit(X, y)
    mean, low, high = est.predict_outcomes(pd.DataFrame({"a": [np.nan], "b": [np.nan], "c": [np.nan]}))
    assert np.isfinite(mean).all() and (low <= mean + 1e-12).all() and (mean <= high + 1e-12).all()
    dist, _ = est.kneighbors(pd.DataFrame({"zzz": [1.0]}))     # no shared feature: the largest distance
    assert (dist == 1.0).all()
    with pytest.raises(InvalidInputError, match="expected 3 meta-features"):
        est.predict([[1.0, 2.0]])


def test_bad_input():
    X, y = _toy()
    with pytest.raises(InvalidInputError, match="method"):
        PruningMetaLearner(method="svm").fit(X, y)
    with pytest.raises(InvalidInputError, match="shape"):
        PruningMetaLearner().fit(X, y[:, :, :2])
    for lam in (0.0, -1.0, float("nan")):                      # the forest weighs regret by lam
        with pytest.raises(InvalidInputError, match="lam must be > 0") as caught:
            PruningMetaLearner(lam=lam).fit(X, y)
        assert caught.value.field == "lam"


def test_select_max_regret_falls_back_to_least_regret():
    assert select(np.array([[0.9, 0.5]]), np.array([[0.02, 0.01]]), max_regret=0.001).tolist() == [1]


def test_grid_holds_optuna_defaults():
    grid = candidate_grid()
    assert len({c.name for c in grid}) == len(grid)
    median = find_candidate(grid, OPTUNA_DEFAULTS["MedianPruner()"]).spec()
    assert type(median.to_optuna()).__name__ == "MedianPruner" and median.params["n_startup_trials"] == 5
    assert find_candidate(grid, OPTUNA_DEFAULTS["SuccessiveHalvingPruner()"]).spec().params["min_resource"] == "auto"


def test_killed_steps_agree_with_replay():
    c = StudyCurves.from_arrays("s", [[0.5, 0.6, 0.7], [0.6, 0.65, 0.66], [0.2, 0.3, 0.9]], direction="maximize")
    spec = find_candidate(candidate_grid(), "median-w0-s5").spec()
    reps = replay_study(c, [spec, spec.parse({"strategy": "median", "params": {"n_startup_trials": 1}})])
    # trial 2 (best final 0.9) starts worst: a median after one startup trial prunes it at step 0;
    # with five startup trials nothing is pruned
    assert killed_steps(c, reps).tolist()[1] == 0.0 and np.isnan(killed_steps(c, reps)[0])


def test_training_data_from_bundled_store(bundled_data):
    d = bundled_data
    assert len(d.tasks) == 12 and d.orders == (0, 1)
    cube = d.outcome_cube()
    assert cube.shape == (12, len(d.grid), 3) and np.isfinite(cube[:, :, 0]).all()
    assert {"curve_noise", "curve_early_final_spearman"} <= set(d.features.columns)
    assert (d.priors["prior_mean"] > 0).all()                # accuracy improves with steps


def test_training_data_from_lcdb_excerpt_uses_a_separate_probe(tmp_path, monkeypatch):
    monkeypatch.setenv("POLICY_STORE_CACHE", str(tmp_path / "cache"))
    d = training_data_from_lcdb(seeds=2, orders=1, source=LCDB_EXCERPT)
    assert d.tasks == ["lcdb/1441/accuracy", "lcdb/1464/accuracy", "lcdb/3/accuracy"]
    assert set(d.outcomes["study"].str.rsplit("/", n=1).str[1]) == {"0-1"}
    assert all(p.study.endswith("/0-0") for p in d.probes.values())
    assert np.isnan(d.features.loc["lcdb/1441/accuracy", "NumberOfInstances"])     # LCDB has no row for it
    assert d.features.loc["lcdb/3/accuracy", "NumberOfInstances"] == 3196


def test_meta_model_uses_task_curves_and_their_prior(bundled_data):
    mm = fit_meta_model(bundled_data, n_estimators=10)
    probe = bundled_data.probes["sklearn/iris/sgd/accuracy"]
    with_curves = mm.expected({}, curves=[probe])
    assert with_curves.evidence_studies == 1 and with_curves.prior == task_prior([probe])
    without = mm.expected({})
    assert without.prior["prior_mean"] > 0 and not np.allclose(without.saved, with_curves.saved)
    flipped = mm.expected({}, direction="minimize")
    assert flipped.prior["prior_mean"] == -without.prior["prior_mean"]


def test_replay_means_are_the_groupby_means_of_replay_task():
    # what a recommendation from curves blends in, without pandas: the outcome table's means to within 1 ulp
    # (exact sums here, pandas' Kahan sums there)
    from policy_store.meta.learner.training_data import OUTCOMES, replay_means, replay_task

    from tests.replay.conftest_data import lcdb_curves

    curves, grid = lcdb_curves()[:4], candidate_grid()
    prior = task_prior(curves)
    table = replay_task(curves, grid, prior, (0, 1, 2))
    expected = table.groupby("candidate")[list(OUTCOMES)].mean().reindex(range(len(grid))).to_numpy(float)
    np.testing.assert_allclose(replay_means(curves, grid, prior, (0, 1, 2)), expected, rtol=1e-15, atol=0)
