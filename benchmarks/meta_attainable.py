"""Is a gain of +0.08 over MedianPruner() attainable at all? Limits per group of the corpora (issue 19).

From the replayed training data of both corpora (the cache of ``benchmarks/meta.py --floor --cache DIR``), per
group (corpus x direction, and family x direction), the mean utility gain over ``MedianPruner()`` (lam = 20,
utility = saved - lam x regret, per task the mean over its scored studies and trial orders, as every
meta-learner row is scored) of:

``best single (LODO)``      one rule for the whole group, chosen on the group's *other* datasets (leave one
                            dataset out): what a rule per (corpus, direction) or (family, direction) can reach
``best single (in-sample)`` the rule best on the group's own tasks (upper bound of any single rule there)
``CV oracle``               per held-out study, the rule best on the task's *other* studies (the project's
                            cross-validated oracle, :func:`policy_store.meta.evaluation.baselines.cv_oracle_choices`),
                            then the mean over the task's studies
``per-task best``           the rule best on the task's own scored studies (hindsight: the upper bound of any
                            method choosing one rule per task, which is what the recommendation does)

Each twice: over every rule of the grid, and over prior-free rules only (a new user has no prior, so the
recommendation from descriptors alone chooses among these or gets the prior from nowhere). ``killed <= MP`` is the
per-task best among rules killing the best trial no more often than ``MedianPruner()`` on that task.

    python benchmarks/meta_attainable.py --hpo DIR/hpo-full.parquet --hpo-features DIR/hpo-full-features.parquet \
        --cache DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from policy_store.meta.learner.build_knowledge import build_training
from policy_store.meta.learner.calibration import BASELINE
from policy_store.meta.learner.model import task_direction
from policy_store.meta.learner.training_data import task_parts


def per_study_utility(data, lam: float) -> dict[str, np.ndarray]:
    """Per task: ``(n_studies, n_candidates)`` utility and killed-best rate (means over trial orders)."""
    means = data.outcomes.groupby(["task", "study", "candidate"])[["compute_saved", "regret", "killed_best"]].mean()
    means["utility"] = means["compute_saved"] - lam * means["regret"]
    out = {}
    for task, g in means.groupby(level=0):
        u = g["utility"].unstack("candidate").reindex(columns=range(len(data.grid)))
        k = g["killed_best"].unstack("candidate").reindex(columns=range(len(data.grid)))
        out[task] = (u.to_numpy(float), k.to_numpy(float))
    return out


def limits(data, *, lam: float = 20.0) -> pd.DataFrame:
    """One row per task: MedianPruner()'s utility and each limit's gain over it (module docstring)."""
    names = [c.name for c in data.grid]
    base = names.index(BASELINE)
    free = np.array([not c.needs_prior for c in data.grid])
    studies = per_study_utility(data, lam)
    rows = []
    for t in data.tasks:
        u, k = studies[t]
        mean_u, mean_k = np.nanmean(u, 0), np.nanmean(k, 0)
        row = {"task": t, **{p: task_parts(t)[p] for p in ("corpus", "family", "dataset")},
               "direction": task_direction(data, t), "median": mean_u[base]}
        for label, allowed in (("", np.ones_like(free)), (" prior-free", free)):
            masked = np.where(allowed, mean_u, -np.inf)
            row["per-task best" + label] = np.nanmax(masked) - mean_u[base]
            safe = allowed & (np.nan_to_num(mean_k, nan=np.inf) <= mean_k[base] + 1e-12)
            row["per-task best, killed <= MP" + label] = np.nanmax(np.where(safe, mean_u, -np.inf)) - mean_u[base]
            scores = []
            for i in range(len(u)):
                others = np.arange(len(u)) != i
                pick = int(np.nanargmax(np.where(allowed, np.nanmean(u[others], 0), -np.inf)))
                scores.append(u[i, pick] - u[i, base])
            row["CV oracle" + label] = float(np.mean(scores))
            row["_u" + label] = mean_u           # for the single-rule limits
        rows.append(row)
    frame = pd.DataFrame(rows)
    for label, allowed in (("", np.ones_like(free)), (" prior-free", free)):
        for keys in (["corpus", "direction"], ["corpus", "family", "direction"]):
            col = f"{'-'.join(keys)}:{label}"
            frame[col + "in"] = np.nan
            frame[col + "lodo"] = np.nan
            for _, g in frame.groupby(keys):
                u = np.stack(g["_u" + label].to_numpy())
                gain = u - u[:, [base]]
                best = int(np.nanargmax(np.where(allowed, np.nanmean(gain, 0), -np.inf)))
                frame.loc[g.index, col + "in"] = gain[:, best]
                ds = g["dataset"].to_numpy()
                for d in np.unique(ds):
                    rest = ds != d
                    pick = int(np.nanargmax(np.where(allowed, np.nanmean(gain[rest], 0), -np.inf))) if rest.any() \
                        else base
                    frame.loc[g.index[~rest], col + "lodo"] = gain[~rest, pick]
    return frame.drop(columns=[c for c in frame.columns if c.startswith("_u")])


def table(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    """Markdown rows: per group of ``keys``, MedianPruner()'s utility and the limits' mean gains."""
    scope = "-".join(keys)
    lines = [f"| {' | '.join(keys)} | tasks | MedianPruner() | best single (LODO) | best single (in-sample) | "
             "CV oracle | per-task best | per-task best, killed <= MP | prior-free: best single (LODO) / "
             "CV oracle / per-task best |",
             "|" + "---|" * len(keys) + "---:|" * 8]
    for key, g in frame.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        lines.append(
            f"| {' | '.join(key)} | {len(g)} | {g['median'].mean():.3f} | {g[f'{scope}:lodo'].mean():+.3f} | "
            f"{g[f'{scope}:in'].mean():+.3f} | {g['CV oracle'].mean():+.3f} | {g['per-task best'].mean():+.3f} | "
            f"{g['per-task best, killed <= MP'].mean():+.3f} | {g[f'{scope}: prior-freelodo'].mean():+.3f} / "
            f"{g['CV oracle prior-free'].mean():+.3f} / {g['per-task best prior-free'].mean():+.3f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hpo", required=True)
    p.add_argument("--hpo-features")
    p.add_argument("--cache", type=Path)
    p.add_argument("--lcdb-source")
    p.add_argument("--lam", type=float, default=20.0)
    args = p.parse_args(argv)
    data, _ = build_training(args.hpo, args.lcdb_source, jobs=1, cache=args.cache, hpo_features=args.hpo_features)
    frame = limits(data, lam=args.lam)
    print("\n".join(table(frame, ["corpus", "direction"])))
    print()
    print("\n".join(table(frame, ["corpus", "family", "direction"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
