"""Is a gain of +0.08 over MedianPruner() attainable at all? Limits per group of the corpora (issue 19).

From the replayed training data of both corpora (the cache of ``benchmarks/meta.py --floor --cache DIR``), per
group (corpus x direction, and corpus x family x direction), the mean utility gain over ``MedianPruner()``
(lam = 20, utility = saved - lam x regret; per task the mean over its scored studies and trial orders, as every
meta-learner row is scored) and, in brackets, the killed-best rate's excess over ``MedianPruner()``'s, of:

``single (LODO)``             one rule for the whole group, chosen on the group's *other* datasets (leave one
                              dataset out): what a rule per group reaches on a new dataset
``single (LODO), killed <= MP+0.05``  the same among rules whose killed-best excess on those datasets is <= 0.05
``single (in-sample)``        the rule best on the group's own tasks (upper bound of any single rule there)
``CV oracle``                 per scored study, the rule best on the task's *other* studies (the project's
                              cross-validated oracle, :func:`policy_store.meta.evaluation.baselines.cv_oracle_choices`),
                              then the mean over the task's studies; ``killed <= MP+0.05`` likewise among rules
                              within +0.05 killed-best of MedianPruner() on those other studies
``per-task best``             the rule best on the task's own scored studies (hindsight: the upper bound of any
                              method choosing one rule per task, as the recommendation does); ``killed <= MP``
                              among rules killing the best trial no more often than MedianPruner() on the task

Each over every rule of the grid and over prior-free rules only (a new user has no prior).

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


def per_study_utility(data, lam: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per task: ``(n_studies, n_candidates)`` utility and killed-best rate (means over trial orders)."""
    means = data.outcomes.groupby(["task", "study", "candidate"])[["compute_saved", "regret", "killed_best"]].mean()
    means["utility"] = means["compute_saved"] - lam * means["regret"]
    out = {}
    for task, g in means.groupby(level=0):
        u = g["utility"].unstack("candidate").reindex(columns=range(len(data.grid)))
        k = g["killed_best"].unstack("candidate").reindex(columns=range(len(data.grid)))
        out[task] = (u.to_numpy(float), k.to_numpy(float))
    return out


def _pick(score: np.ndarray, allowed: np.ndarray) -> int:
    return int(np.nanargmax(np.where(allowed & np.isfinite(score), score, -np.inf)))


def limits(data, *, lam: float = 20.0, max_killed_excess: float = 0.05) -> pd.DataFrame:
    """One row per (task, limit, rule set): the limit's gain over MedianPruner() and killed-best excess."""
    names = [c.name for c in data.grid]
    base = names.index(BASELINE)
    free = np.array([not c.needs_prior for c in data.grid])
    studies = per_study_utility(data, lam)
    tasks = list(data.tasks)
    info = pd.DataFrame([{"task": t, **{p: task_parts(t)[p] for p in ("corpus", "family", "dataset")},
                          "direction": task_direction(data, t)} for t in tasks])
    U = np.stack([np.nanmean(studies[t][0], 0) for t in tasks])
    K = np.stack([np.nanmean(studies[t][1], 0) for t in tasks])
    gain, kx = U - U[:, [base]], K - K[:, [base]]
    info["median"] = U[:, base]
    rows = []

    def add(i, limit, rules, c):
        rows.append({"row": i, "limit": limit, "rules": rules, "gain": gain[i, c], "killed": kx[i, c]})

    for rules, allowed in (("all", np.ones_like(free)), ("prior-free", free)):
        for i, t in enumerate(tasks):
            add(i, "per-task best", rules, _pick(U[i], allowed))
            add(i, "per-task best, killed <= MP", rules, _pick(U[i], allowed & (np.nan_to_num(kx[i], nan=1) <= 0)))
            u, k = studies[t]
            for limit, cap in (("CV oracle", np.inf), (f"CV oracle, killed <= MP+{max_killed_excess:g}",
                                                       max_killed_excess)):
                g = []
                for s in range(len(u)):
                    others = np.arange(len(u)) != s
                    ok = allowed & (np.nan_to_num(np.nanmean(k[others], 0) - np.nanmean(k[others, base]),
                                                  nan=np.inf) <= cap + 1e-12)
                    c = _pick(np.nanmean(u[others], 0), ok)
                    g.append((u[s, c] - u[s, base], k[s, c] - k[s, base]))
                rows.append({"row": i, "limit": limit, "rules": rules, "gain": np.mean([a for a, _ in g]),
                             "killed": np.mean([b for _, b in g])})
        for scope in (["corpus", "direction"], ["corpus", "family", "direction"]):
            for _, grp in info.groupby(scope):
                idx = grp.index.to_numpy()
                ds = grp["dataset"].to_numpy()
                for i in idx:
                    rest = idx[ds != info.at[i, "dataset"]]
                    for limit, cap in (("single (LODO)", np.inf), (f"single (LODO), killed <= MP+{max_killed_excess:g}",
                                                                   max_killed_excess)):
                        ok = allowed & (np.nan_to_num(np.nanmean(kx[rest], 0), nan=np.inf) <= cap + 1e-12)
                        add(i, f"{limit} per {'-'.join(scope)}", rules, _pick(np.nanmean(gain[rest], 0), ok)
                            if len(rest) else base)
                add_best = _pick(np.nanmean(gain[idx], 0), allowed)
                for i in idx:
                    add(i, f"single (in-sample) per {'-'.join(scope)}", rules, add_best)
    frame = pd.DataFrame(rows)
    return frame.join(info, on="row")


def table(frame: pd.DataFrame, keys: list[str], rules: str) -> list[str]:
    """Markdown rows: per group of ``keys``, MedianPruner()'s utility and each limit's mean gain (killed-best
    excess in brackets)."""
    scope = "-".join(keys)
    f = frame[(frame["rules"] == rules) & (~frame["limit"].str.contains(" per ") |
                                           frame["limit"].str.endswith(f" per {scope}"))]
    limits_ = list(dict.fromkeys(f["limit"]))
    heads = " | ".join(x.replace(f" per {scope}", "") for x in limits_)
    lines = [f"| {' | '.join(keys)} | tasks | MedianPruner() | {heads} |",
             "|" + "---|" * len(keys) + "---:|" * (2 + len(limits_))]
    for key, g in f.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        cells = [f"{g.loc[g['limit'] == x, 'gain'].mean():+.3f} ({g.loc[g['limit'] == x, 'killed'].mean():+.2f})"
                 for x in limits_]
        median = g.groupby("row")["median"].first().mean()
        lines.append(f"| {' | '.join(key)} | {g['row'].nunique()} | {median:.3f} | " + " | ".join(cells) + " |")
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
    for rules in ("all", "prior-free"):
        for keys in (["corpus", "direction"], ["corpus", "family", "direction"]):
            print(f"\nrules: {rules}; gain over MedianPruner() (killed-best excess over it)")
            print("\n".join(table(frame, keys, rules)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
