"""How much utility the attainable limit keeps while Pareto-dominating ``MedianPruner()``.

The utility ``saved - lam * regret`` does not count killing the best trial, so
the rule that maximises it (the CV oracle's choice) kills the best trial more
often than ``MedianPruner()``. :func:`dominance_frontier` re-runs the CV oracle
(per held-out study, the rule best on the task's *other* studies) with a price
on the killed-best rate (``mu``) and on regret (``nu``) on top of ``lam``:

    choose argmax  saved - lam * regret - mu * killed_best - nu * regret

and scores each setting on the held-out studies. The best utility among the
settings whose means beat ``MedianPruner()`` on all three outcomes is what a
per-task choice with the task's own past studies can keep while dominating it:
the ceiling of any recommendation asked to do both.

>>> from policy_store.meta.learner.sources import training_data_from_hpo
>>> data = training_data_from_hpo(orders=1)                  # the bundled slice: a probe and one study per task
>>> frontier = dominance_frontier(data, mus=(0.0, 1.0), nus=(0.0,))
>>> frontier[["corpus", "mu", "tasks"]].values.tolist()
[['hpo', 0.0, 72], ['hpo', 1.0, 72]]
>>> bool(frontier["killed_best_rate"].iloc[1] <= frontier["killed_best_rate"].iloc[0])  # the price bites
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from policy_store.meta.evaluation.baselines import cv_oracle_choices
from policy_store.meta.evaluation.evaluate import pareto_dominates, probe_outcomes, study_means
from policy_store.meta.learner.grid import OPTUNA_DEFAULTS, find_candidate
from policy_store.meta.learner.training_data import TrainingData, task_parts

#: Prices of the killed-best rate (utility points per unit rate) and extra prices of regret.
MUS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0, 4.0, 8.0)
NUS = (0.0, 10.0, 20.0, 40.0, 80.0)
COLUMNS = ["corpus", "mu", "nu", "compute_saved", "regret", "killed_best_rate", "utility", "dominates_median",
           "tasks"]


def dominance_frontier(data: TrainingData, *, lam: float = 20.0, mus: Sequence[float] = MUS,
                       nus: Sequence[float] = NUS) -> pd.DataFrame:
    """Per corpus and price setting: the penalised CV oracle's mean outcomes and whether it dominates.

    Rows: corpus, mu, nu, compute_saved, regret, killed_best_rate, utility (at ``lam``),
    dominates_median (more saved, lower regret and lower killed-best rate than
    ``MedianPruner()`` on the same held-out studies), tasks. Per-task means, then the mean over tasks,
    as in :func:`~policy_store.meta.evaluation.evaluate.cross_validate`.
    """
    probes = probe_outcomes(data)
    median = data.grid.index(find_candidate(data.grid, OPTUNA_DEFAULTS["MedianPruner()"]))
    settings = [(float(mu), float(nu)) for mu in mus for nu in nus]
    per_task: dict[str, list[np.ndarray]] = {}                       # task -> [median, setting 0, 1, ...]
    for t in data.tasks:
        _, scored, cube = study_means(data, probes, t)
        if len(cube) < 2:
            continue                                                  # no other study to choose on
        with np.errstate(all="ignore"):
            rows = [np.nanmean(cube[scored, median], 0)]
            for mu, nu in settings:
                picks = cv_oracle_choices(cube[..., 0] - mu * np.nan_to_num(cube[..., 2]),
                                          cube[..., 1] * (1.0 + nu / lam), scored, lam=lam)
                rows.append(np.nanmean([cube[i, c] for i, c in picks.items()], 0))
        per_task[t] = rows
    out = []
    for corpus in sorted({task_parts(t)["corpus"] for t in per_task}):
        means = np.nanmean([v for t, v in per_task.items() if task_parts(t)["corpus"] == corpus], 0)
        med = means[0]
        for (mu, nu), (saved, regret, killed) in zip(settings, means[1:], strict=True):
            out.append({"corpus": corpus, "mu": mu, "nu": nu, "compute_saved": saved, "regret": regret,
                        "killed_best_rate": killed, "utility": saved - lam * regret,
                        "dominates_median": pareto_dominates((saved, regret, killed), med),
                        "tasks": sum(task_parts(t)["corpus"] == corpus for t in per_task)})
    return pd.DataFrame(out, columns=COLUMNS)


def best_dominating(frontier: pd.DataFrame, corpus: str) -> pd.Series | None:
    """The highest-utility row of ``corpus`` that dominates ``MedianPruner()``, or None if no setting does."""
    rows = frontier[(frontier["corpus"] == corpus) & frontier["dominates_median"]]
    return None if rows.empty else rows.loc[rows["utility"].idxmax()]
