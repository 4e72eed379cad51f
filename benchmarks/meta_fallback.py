"""Which fallback should the safety floor take? Chosen by leave-source-out evaluation on the corpus (issue 19).

Reads the per-task rows of a floor evaluation (``benchmarks/meta.py --floor --cache DIR`` keeps them as
``DIR/floor-rows.pkl``) and the corpus's training data (the same cache), and re-scores the default
(``meta-learner + floor``) with other fallbacks, each chosen on the training tasks of every split's fold
only (never on the held-out source, family or direction): where the floor fell back, the task gets the
fallback's measured outcome instead of ``MedianPruner()``'s. Fallbacks:

``MedianPruner()``         Optuna's default (the rows as measured)
``best prior-free``        the prior-free rule with the best mean utility on the training tasks, for every task
``group z=Z k=K``          :func:`policy_store.meta.learner.fallback.group_evidence`: per (family, direction)
                           of the training tasks, the prior-free rule with the best lower bound (mean - Z standard
                           errors over datasets) of gain over MedianPruner(), killed-best at most K above
                           MedianPruner()'s, when that bound is > 0; else MedianPruner()
``... q=Q``                the bound is also no higher than the Q quantile of the per-dataset gains (the fallback
                           must beat MedianPruner() on a new dataset, not only on average)
``... sources``            and no higher than the mean gain on each data source of the group with >= 2 datasets
                           (the group check's bound too)

``+ group check``: a rule the floor passed whose lower bound of gain on the training tasks of the study's
(family, direction) is below 0 is replaced by the fallback too (the library filters such rules out before
choosing, which may pass another rule instead; ``benchmarks/meta.py --floor`` measures that exactly).

    python benchmarks/meta_fallback.py --rows DIR/floor-rows.pkl --hpo CORPUS.parquet --hpo-features F.parquet \
        --cache DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from policy_store.meta.evaluation.splits import group_folds
from policy_store.meta.learner.build_knowledge import build_training
from policy_store.meta.learner.calibration import BASELINE
from policy_store.meta.learner.fallback import group_evidence, group_key
from policy_store.meta.learner.model import task_direction
from policy_store.meta.learner.training_data import task_parts

FLOOR = "meta-learner + floor"


def splits_of(rows: pd.DataFrame, tasks: list[str], *, folds: int, leave_out_folds: int):
    """``(split name, [(train, test), ...])`` as the floor evaluation made them (held-out part from the rows)."""
    out = [("cross-validation", group_folds(tasks, folds=folds, seed=0))]
    base = group_folds(tasks, folds=leave_out_folds, seed=0)
    for name in sorted(set(rows["split"]) - {"cross-validation"}):
        held = set(rows.loc[rows["split"] == name, "task"])
        out.append((name, [([t for t in tr if t not in held], [t for t in te if t in held]) for tr, te in base]))
    return out


def rescore(data, rows: pd.DataFrame, splits, *, lam: float = 20.0) -> pd.DataFrame:
    names = [c.name for c in data.grid]
    base = names.index(BASELINE)
    free = np.array([not c.needs_prior for c in data.grid])
    tasks = list(data.tasks)
    index = {t: i for i, t in enumerate(tasks)}
    cube = data.outcome_cube(tasks)
    utility, killed = cube[:, :, 0] - lam * cube[:, :, 1], cube[:, :, 2]
    key = {t: group_key(task_parts(t)["family"], task_direction(data, t)) for t in tasks}
    floor = rows[rows["method"] == FLOOR].set_index(["split", "task"])
    off = 10**9                                   # min_source_datasets larger than any source: no source condition
    variants = [("MedianPruner()", None, False), ("best prior-free", "global", False)]
    variants += [(f"group z={z:g} k={k:g}", (z, k, None, off), check) for z in (0.5, 1.0, 2.0) for k in (0.0, 0.05)
                 for check in (False, True)]
    variants += [("group z=1 k=0" + (f" q={q:g}" if q else "") + (" sources" if m < off else ""), (1.0, 0.0, q, m),
                  True) for q in (None, 0.1, 0.25, 0.5) for m in (off, 2) if q or m < off]
    out = []
    for split, parts in splits:
        for train, test in parts:
            tr = [index[t] for t in train]
            best_free = int(np.argmax(np.where(free, np.nanmean(utility[tr], 0), -np.inf)))
            sub = data.subset(train)
            evidence = {zk: group_evidence(sub, lam=lam, baseline=base, z=zk[0], max_killed_excess=zk[1],
                                           quantile=zk[2], min_source_datasets=zk[3])
                        for _, zk, _ in variants if isinstance(zk, tuple)}
            for name, zk, check in variants:
                for t in test:
                    r = floor.loc[(split, t)]
                    if zk is None:
                        fb = base
                    elif zk == "global":
                        fb = best_free
                    else:
                        fallbacks, bounds = evidence[zk]
                        fb = names.index(fallbacks[key[t]]) if key[t] in fallbacks else base
                    c = fb if r["fallback"] else names.index(r["candidate"])
                    if check and not r["fallback"] and c != base:
                        bound = evidence[zk][1].get(key[t]) if isinstance(zk, tuple) else None
                        if bound is None or bound[c] < 0:
                            c = fb
                    i = index[t]
                    out.append({"variant": name + (" + group check" if check else ""), "split": split,
                                "corpus": task_parts(t)["corpus"], "family": task_parts(t)["family"],
                                "direction": task_direction(data, t), "gain": utility[i, c] - utility[i, base],
                                "killed": killed[i, c] - killed[i, base], "fell_back": bool(r["fallback"])})
    return pd.DataFrame(out)


def report(scored: pd.DataFrame) -> str:
    lines = ["| fallback | CV gain: hpo max / hpo min / lcdb max / lcdb min | leave-out groups below MedianPruner() "
             "(of which < -0.02) | worst group | killed-best > +0.05 | worst leave-out split | mean leave-out gain |",
             "|---|---|---|---:|---:|---:|---:|"]
    for name, g in scored.groupby("variant", sort=False):
        cv, lo = g[g["split"] == "cross-validation"], g[g["split"] != "cross-validation"]
        a = cv.groupby(["corpus", "direction"])["gain"].mean()
        per = lo.groupby(["split", "corpus", "family", "direction"])[["gain", "killed"]].mean()
        cv_gains = " / ".join(f"{a.get((c, d), np.nan):+.3f}"
                               for c in ("hpo", "lcdb") for d in ("maximize", "minimize"))
        lines.append(f"| {name} | {cv_gains} | "
                     f"{(per['gain'] < -1e-9).sum()} of {len(per)} ({(per['gain'] < -0.02).sum()}) | "
                     f"{per['gain'].min():+.3f} | {(per['killed'] > 0.05 + 1e-9).sum()} | "
                     f"{lo.groupby('split')['gain'].mean().min():+.3f} | {lo['gain'].mean():+.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=Path, required=True, help="floor-rows.pkl of `benchmarks/meta.py --floor --cache`")
    p.add_argument("--hpo", required=True)
    p.add_argument("--hpo-features")
    p.add_argument("--cache", type=Path)
    p.add_argument("--lcdb-source")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--leave-out-folds", type=int, default=3)
    args = p.parse_args(argv)
    data, _ = build_training(args.hpo, args.lcdb_source, jobs=1, cache=args.cache, hpo_features=args.hpo_features)
    rows = pd.read_pickle(args.rows)  # noqa: S301 -- written by benchmarks/meta.py on this machine
    scored = rescore(data, rows, splits_of(rows, list(data.tasks), folds=args.folds,
                                           leave_out_folds=args.leave_out_folds))
    print(report(scored))
    return 0


if __name__ == "__main__":
    sys.exit(main())
