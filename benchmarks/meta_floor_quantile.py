"""A floor quantile per metric direction? Exact re-scoring of a floor run's rows (issue 19).

``benchmarks/meta.py --floor --cache DIR`` scores the default floor (lower-bound quantile 0.25) and the same floor
at quantiles 0.1 and 0.5 on every held-out task of every split (``DIR/floor-rows.pkl``). Taking, per task, the row of
the quantile chosen for its direction is exactly the floor with a quantile per direction, so every pair is scored
here without refitting: cross-validated gain over ``MedianPruner()`` per corpus and direction, and the leave-out
groups (split x corpus x family x direction) below ``MedianPruner()`` or above its killed-best rate + 0.05.

    python benchmarks/meta_floor_quantile.py DIR/floor-rows.pkl
    python benchmarks/meta_floor_quantile.py DIR/floor-rows.pkl --variants
    python benchmarks/meta_floor_quantile.py DIR/floor-rows.pkl --residuals --hpo CORPUS.parquet \
        --hpo-features F.parquet --cache DIR

``--variants``: every stricter floor of the run (``benchmarks/meta.py --floor --floor-variants``, rows
``meta-learner + floor [name]``) scored the same way, beside the default.

``--residuals``: would a calibration per direction move the bounds? The normalised residuals of the utility gain
(as :func:`policy_store.meta.learner.calibration.calibrate` computes them: 5 grouped folds of 40-tree forests), and
the median over rules of their 0.1 / 0.25 / 0.5 quantiles pooled, per direction and per corpus x direction.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

METHODS = {0.1: "meta-learner + floor (quantile 0.1)", 0.25: "meta-learner + floor",
           0.5: "meta-learner + floor (quantile 0.5)"}


def score(rows: pd.DataFrame, q_max: float, q_min: float, lam: float = 20.0) -> dict[str, object]:
    """Gains and leave-out violations of the floor at ``q_max`` on maximised and ``q_min`` on minimised studies."""
    return score_methods(rows, METHODS[q_max], METHODS[q_min], lam)


def score_methods(rows: pd.DataFrame, on_max: str, on_min: str, lam: float = 20.0) -> dict[str, object]:
    """Gains and leave-out violations of method ``on_max`` on maximised and ``on_min`` on minimised studies."""
    rows = rows.assign(utility=rows["compute_saved"] - lam * rows["regret"])
    median = rows[rows["method"] == "MedianPruner()"].set_index(["split", "task"])
    picked = pd.concat([rows[(rows["method"] == on_max) & (rows["direction"] == "maximize")],
                        rows[(rows["method"] == on_min) & (rows["direction"] == "minimize")]])
    picked = picked.set_index(["split", "task"])
    picked["gain"] = picked["utility"] - median["utility"].reindex(picked.index)
    picked["killed"] = picked["killed_best"] - median["killed_best"].reindex(picked.index)
    picked = picked.reset_index()
    cv = picked[picked["split"] == "cross-validation"].groupby(["corpus", "direction"])["gain"].mean()
    lo = picked[picked["split"] != "cross-validation"].groupby(["split", "corpus", "family", "direction"])[
        ["gain", "killed"]].mean()
    cv_rows = picked[picked["split"] == "cross-validation"]
    return {"cv": cv, "below": int((lo["gain"] < -1e-9).sum()), "groups": len(lo), "worst": lo["gain"].min(),
            "killed": int((lo["killed"] > 0.05 + 1e-9).sum()), "failing": lo[(lo["gain"] < -1e-9)
                                                                            | (lo["killed"] > 0.05 + 1e-9)],
            "fallback": cv_rows["fallback"].mean(), "cv_killed": cv_rows["killed"].mean(),
            "leave_out": picked[picked["split"] != "cross-validation"].groupby("split")["gain"].mean().min()}


def residual_quantiles(hpo: str, hpo_features: str | None, cache: str | None) -> list[str]:
    """Lines: per quantile, the median over rules of the normalised gain residuals' quantile, pooled and per group."""
    from pathlib import Path

    import numpy as np
    from policy_store.meta.evaluation.splits import group_folds
    from policy_store.meta.learner.build_knowledge import build_training
    from policy_store.meta.learner.calibration import BASELINE, tree_outcomes, true_outcomes
    from policy_store.meta.learner.grid import find_candidate
    from policy_store.meta.learner.model import fit_meta_model, task_direction
    from policy_store.meta.learner.training_data import task_parts

    data, _ = build_training(hpo, None, jobs=1, cache=Path(cache) if cache else None, hpo_features=hpo_features)
    base = data.grid.index(find_candidate(data.grid, BASELINE))
    resid, spreads, tasks = [], [], []
    for train, test in group_folds(data.tasks, folds=5, seed=0):
        model = fit_meta_model(data.subset(train), n_estimators=40, random_state=0)
        mean, spread = tree_outcomes(model, data.features.loc[test], 20.0, base)
        resid.append(true_outcomes(data.outcome_cube(test), 20.0, base) - mean)
        spreads.append(spread)
        tasks += list(test)
    spread = np.concatenate(spreads)
    z = (np.concatenate(resid) / (spread + np.nanmedian(spread.reshape(-1, spread.shape[2]), axis=0)))[:, :, 3]
    direction = np.array([task_direction(data, t) for t in tasks])
    group = np.array([f"{task_parts(t)['corpus']}/{d}" for t, d in zip(tasks, direction, strict=True)])
    lines = []
    for q in (0.1, 0.25, 0.5):
        cells = [f"pooled {np.median(np.nanquantile(z, q, axis=0)):+.3f}"]
        cells += [f"{g} {np.median(np.nanquantile(z[labels == g], q, axis=0)):+.3f}"
                  for labels in (direction, group) for g in sorted(set(labels))]
        lines.append(f"- quantile {q:g}: " + "; ".join(cells))
    return lines


def variant_table(rows: pd.DataFrame, *, failing: bool = False) -> str:
    """Markdown: the default floor and every ``[variant]`` of ``rows`` on both directions."""
    methods = [METHODS[0.25], *sorted(m for m in rows["method"].unique() if m.startswith(METHODS[0.25] + " ["))]
    lines = ["\n| floor | CV gain: hpo max / hpo min / lcdb max / lcdb min | CV fallback | CV killed-best excess | "
             "leave-out groups below MedianPruner() | worst group | killed-best > +0.05 | worst leave-out split |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    details = []
    for m in methods:
        s = score_methods(rows, m, m)
        cv = " / ".join(f"{s['cv'].get((c, d), float('nan')):+.3f}" for c in ("hpo", "lcdb")
                        for d in ("maximize", "minimize"))
        name = "default" if m == METHODS[0.25] else m[len(METHODS[0.25]) + 2:-1]
        lines.append(f"| {name} | {cv} | {s['fallback']:.0%} | {s['cv_killed']:+.3f} | {s['below']} of {s['groups']} "
                     f"| {s['worst']:+.3f} | {s['killed']} | {s['leave_out']:+.3f} |")
        if failing:
            details += [f"\n{name}:"] + [f"- {' / '.join(k)}: gain {r['gain']:+.3f}, killed-best {r['killed']:+.3f}"
                                         for k, r in s["failing"].iterrows()]
    return "\n".join(lines + details)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rows", help="floor-rows.pkl of `benchmarks/meta.py --floor --cache DIR`")
    p.add_argument("--variants", action="store_true", help="also every stricter floor of the rows")
    p.add_argument("--failing", action="store_true", help="with --variants: list each variant's failing groups")
    p.add_argument("--residuals", action="store_true", help="also the calibration residuals per direction")
    p.add_argument("--hpo")
    p.add_argument("--hpo-features")
    p.add_argument("--cache")
    args = p.parse_args(argv)
    rows = pd.read_pickle(args.rows)  # noqa: S301 -- written by benchmarks/meta.py on this machine
    print("| quantile: maximised / minimised | CV gain: hpo max / hpo min / lcdb max / lcdb min | leave-out groups "
          "below MedianPruner() | worst group | killed-best > +0.05 |\n|---|---|---:|---:|---:|")
    for q_max in METHODS:
        for q_min in METHODS:
            s = score(rows, q_max, q_min)
            cv = " / ".join(f"{s['cv'].get((c, d), float('nan')):+.3f}" for c in ("hpo", "lcdb")
                            for d in ("maximize", "minimize"))
            print(f"| {q_max:g} / {q_min:g} | {cv} | {s['below']} of {s['groups']} | {s['worst']:+.3f} | "
                  f"{s['killed']} |")
    if args.variants:
        print(variant_table(rows, failing=args.failing))
    if args.residuals:
        print("\nNormalised residuals of the utility gain (median over rules of each quantile):")
        print("\n".join(residual_quantiles(args.hpo, args.hpo_features, args.cache)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
