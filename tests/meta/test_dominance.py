"""The dominance frontier: the CV oracle with prices on killing the best trial and on regret."""

import numpy as np
import pytest
from policy_store.meta.evaluation.dominance import best_dominating, dominance_frontier
from policy_store.meta.evaluation.evaluate import CV_ORACLE, MEDIAN, cross_validate
from policy_store.meta.learner.sources import training_data_from_hpo


@pytest.fixture(scope="module")
def hpo_slice():
    return training_data_from_hpo(orders=2)


def test_without_prices_it_is_the_evaluations_cv_oracle_and_dominance_is_against_median(hpo_slice):
    frontier = dominance_frontier(hpo_slice, mus=(0.0, 2.0), nus=(0.0, 200.0))
    ev = cross_validate(hpo_slice, folds=2, n_estimators=5, lams=(20.0,), max_regret=None)
    table = ev.summary[(ev.summary["mode"] == "lam=20")].set_index("method")
    free = frontier[(frontier["mu"] == 0) & (frontier["nu"] == 0)].iloc[0]
    cols = ["compute_saved", "regret", "killed_best_rate"]
    assert np.allclose(free[cols].to_numpy(float), table.loc[CV_ORACLE, cols].to_numpy(float))
    med = table.loc[MEDIAN, cols].to_numpy(float)
    for _, row in frontier.iterrows():
        s, r, k = row[cols].to_numpy(float)
        assert row["dominates_median"] == (s > med[0] and r < med[1] and k < med[2])
    priced = frontier[(frontier["mu"] == 2.0) & (frontier["nu"] == 200.0)].iloc[0]
    assert priced["regret"] <= free["regret"] and priced["compute_saved"] <= free["compute_saved"]
    best = best_dominating(frontier, "hpo")
    assert best is None or (best["dominates_median"] and best["utility"] == frontier.loc[
        frontier["dominates_median"], "utility"].max())
