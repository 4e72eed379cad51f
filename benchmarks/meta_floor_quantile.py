"""A floor quantile per metric direction? Exact re-scoring of a floor run's rows (issue 19).

``benchmarks/meta.py --floor --cache DIR`` scores the default floor (lower-bound quantile 0.25) and the same floor
at quantiles 0.1 and 0.5 on every held-out task of every split (``DIR/floor-rows.pkl``). Taking, per task, the row of
the quantile chosen for its direction is exactly the floor with a quantile per direction, so every pair is scored
here without refitting: cross-validated gain over ``MedianPruner()`` per corpus and direction, and the leave-out
groups (split x corpus x family x direction) below ``MedianPruner()`` or above its killed-best rate + 0.05.

    python benchmarks/meta_floor_quantile.py DIR/floor-rows.pkl
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

METHODS = {0.1: "meta-learner + floor (quantile 0.1)", 0.25: "meta-learner + floor",
           0.5: "meta-learner + floor (quantile 0.5)"}


def score(rows: pd.DataFrame, q_max: float, q_min: float, lam: float = 20.0) -> dict[str, object]:
    """Gains and leave-out violations of the floor at ``q_max`` on maximised and ``q_min`` on minimised studies."""
    rows = rows.assign(utility=rows["compute_saved"] - lam * rows["regret"])
    median = rows[rows["method"] == "MedianPruner()"].set_index(["split", "task"])
    picked = pd.concat([rows[(rows["method"] == METHODS[q_max]) & (rows["direction"] == "maximize")],
                        rows[(rows["method"] == METHODS[q_min]) & (rows["direction"] == "minimize")]])
    picked = picked.set_index(["split", "task"])
    picked["gain"] = picked["utility"] - median["utility"].reindex(picked.index)
    picked["killed"] = picked["killed_best"] - median["killed_best"].reindex(picked.index)
    picked = picked.reset_index()
    cv = picked[picked["split"] == "cross-validation"].groupby(["corpus", "direction"])["gain"].mean()
    lo = picked[picked["split"] != "cross-validation"].groupby(["split", "corpus", "family", "direction"])[
        ["gain", "killed"]].mean()
    return {"cv": cv, "below": int((lo["gain"] < -1e-9).sum()), "groups": len(lo), "worst": lo["gain"].min(),
            "killed": int((lo["killed"] > 0.05 + 1e-9).sum())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rows", help="floor-rows.pkl of `benchmarks/meta.py --floor --cache DIR`")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
