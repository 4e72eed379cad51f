"""`summary_rows` (the evaluate summary, numpy alone) against the pandas ``groupby`` that `summarize` was on main:
same groups, counts and largest memory exactly, means to within 1 ulp (exact sums against pandas' Kahan sums)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from policy_store.grouped import group_means
from policy_store.replay import summary_rows

MEANS = {"compute_saved": "compute_saved", "regret": "regret", "killed_best_rate": "killed_best",
         "false_prune_rate": "false_prune_rate", "trials_pruned": "trials_pruned", "compute_hours": "compute_hours"}


def _outcomes(seed: int, n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "rule": rng.choice(["median", "percentile", "asha"], n), "version": rng.integers(1, 3, n),
        "task": rng.choice([f"t{k}" for k in range(5)], n), "study": rng.choice([f"s{k}" for k in range(40)], n),
        "order_seed": rng.integers(0, 5, n), "compute_saved": rng.random(n), "regret": rng.exponential(0.05, n),
        "killed_best": rng.random(n) < 0.1, "false_prune_rate": rng.random(n), "trials_pruned": rng.integers(0, 30, n),
        "cost_spent": rng.exponential(900.0, n), "peak_memory_mb": rng.uniform(50, 500, n)})
    for col in ("regret", "cost_spent", "peak_memory_mb"):   # unknown values, skipped by both
        frame.loc[rng.random(n) < 0.05, col] = np.nan
    return frame


def _pandas_summary(outcomes: pd.DataFrame) -> pd.DataFrame:
    """main's ``summarize``: a pandas groupby per (rule, version, task), then per (rule, version)."""
    outcomes = outcomes.assign(compute_hours=outcomes["cost_spent"] / 3600)
    agg = {"studies": ("study", "nunique"), "replays": ("study", "size"),
           **{name: (col, "mean") for name, col in MEANS.items()}, "peak_memory_mb": ("peak_memory_mb", "max")}
    per = outcomes.groupby(["rule", "version", "task"], sort=True).agg(**agg).reset_index()
    whole = outcomes.groupby(["rule", "version"], sort=True).agg(**agg).reset_index().assign(task="(all)")
    return pd.concat([per, whole], ignore_index=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_summary_rows_are_the_pandas_groupby(seed):
    # seeds 0 and 1 each have two means 1 ulp from pandas': the tolerance is needed, not slack
    outcomes = _outcomes(seed)
    got = pd.DataFrame(summary_rows({k: outcomes[k].to_numpy() for k in outcomes}))
    expected = _pandas_summary(outcomes)
    assert got[["rule", "version", "task"]].values.tolist() == expected[["rule", "version", "task"]].values.tolist()
    for col in ("studies", "replays", "peak_memory_mb"):
        np.testing.assert_array_equal(got[col].to_numpy(float), expected[col].to_numpy(float), err_msg=col)
    for name in MEANS:
        np.testing.assert_allclose(got[name].to_numpy(float), expected[name].to_numpy(float), rtol=1e-15, atol=0,
                                   err_msg=name)


def test_group_means_are_exactly_rounded_and_within_one_ulp_of_pandas():
    x = [0.81, 0.56, 0.288, 0.413, 0.818, 0.627, 0.959]   # pandas' Kahan sum is 1 ulp off here
    [mean] = group_means(np.zeros(len(x), dtype=np.int64), np.array(x), 1)
    pandas_mean = pd.Series(x).groupby(np.zeros(len(x))).mean().iloc[0]
    assert mean == math.fsum(x) / len(x) == 0.6392857142857142
    assert pandas_mean == 0.6392857142857143 == math.nextafter(mean, math.inf)
