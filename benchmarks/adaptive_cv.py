"""Within-study adaptation on held-out tasks, against the rule it starts from and the CV oracle (issue 20 targets).

Grouped 5-fold cross-validation over both corpora (LCDB accuracy + log loss, the
HPO corpus): in each fold a meta-model (``--trees`` trees) is fitted on the training
datasets; on a seeded sample of ``--tasks`` test tasks per corpus (spread over the
folds), every held-out study is run in ``--orders`` trial orders three ways: the
start rule (the meta-features recommendation, what adaptation starts from), the
adaptive run from it (``meta evaluate --adapt``'s scorer, options ``--adapt-option
key=value``), and the CV oracle (the grid rule best on the task's other studies).
With ``--heldout`` the same on unseen data: a model fitted on every task of both
corpora, scored on a sample of the held-out HPO corpus (datasets in no corpus).
Rows are cached under ``--cache`` (one file per setting and version of the code that makes them: the adaptation,
the forecaster, the rules and the replay: :data:`CODE`), so a rerun of unchanged code only prints.

    python benchmarks/adaptive_cv.py --tasks 30 --orders 1 --variant defaults: --variant eager:small_study=0.05
    python benchmarks/adaptive_cv.py --no-cv --heldout /work/handoff/hpo-heldout.parquet \\
        --heldout-features /work/handoff/hpo-heldout-features.parquet --heldout-tasks 30 --orders 1 --variant ...
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
from policy_store.meta.evaluation.adaptation_targets import adaptation_rows, adaptation_targets
from policy_store.meta.evaluation.adaptive import adaptive_scorer
from policy_store.meta.evaluation.splits import group_folds
from policy_store.meta.learner.build_knowledge import build_training
from policy_store.meta.learner.training_data import concat_training_data, task_features, task_parts

from policy_store.cache import source_digest

#: The code the cached rows depend on: a change to any of it recomputes them.
CODE = ("policy_store.meta.adaptation", "policy_store.meta.forecast", "policy_store.rules", "policy_store.replay")
WORK = Path.home() / ".cache" / "policy-store" / "meta-work"


def _value(v: str):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def _sample(tasks: list[str], k: int, rng: np.random.Generator) -> list[str]:
    return sorted(rng.choice(tasks, size=min(k, len(tasks)), replace=False).tolist()) if tasks else []


def heldout_data(path: str, features: str, tasks: int, orders: int, seed: int):
    from policy_store.meta.learner.sources import training_data_from_frame

    frame = pd.read_parquet(path)
    names = sorted(frame["task"].unique())
    chosen = _sample(names, tasks, np.random.default_rng(seed))
    long = pd.read_parquet(features)
    wide = long.pivot_table(index="task", columns="feature", values="value", aggfunc="first")
    wide.columns.name = None
    data = training_data_from_frame(frame[frame["task"].isin(chosen)], wide, orders=orders, tasks=chosen)
    derived = ("curve_", "family_", "direction_", "metric_", "study_")
    data.features = task_features(data.probes, data.tasks, data.features.drop(
        columns=[c for c in data.features.columns if c.startswith(derived)]))
    return data


def _with_memory(data):
    """Curves unpickled from a cache written before ``StudyCurves.memory`` existed get it (unknown: NaN)."""
    for c in [c for cs in data.curves.values() for c in cs] + list(data.probes.values()):
        if getattr(c, "memory", None) is None:
            object.__setattr__(c, "memory", np.full(c.values.shape, np.nan))
    return data


def why_kills_go_unseen(data, rows: pd.DataFrame, settings: dict[str, dict], lam: float) -> pd.DataFrame:
    """On the studies where the start rule killed the best trial and the CV oracle's did not: run the start rule
    alone (no switch) and read the last re-scoring's evidence -- does it see the rule kill the best trial?

    Per study and setting (the variants' adaptation options, by name): the evidence's killed-best probability of
    the start rule (truth: 1), its replayed regret, and the kill risk (probability that a trial it cut beats the
    best completed).
    """
    from policy_store.meta.adaptation.replay import adaptive_replay
    from policy_store.meta.adaptation.selector import AdaptiveSelector, Prior
    from policy_store.meta.evaluation.adaptive import scaled

    from policy_store.curves import regret_scale

    risky = rows[(rows["killed_start"] > 0) & (rows["killed_cv"] == 0)].drop_duplicates(["task", "study"])
    out = []
    real = AdaptiveSelector.rescore
    for _, r in risky.iterrows():
        c = next(c for c in data.curves[r["task"]] if c.study == r["study"])
        c = scaled(c, regret_scale(c))
        start = [g.name for g in data.grid].index(r["start"])
        for fc, opts in settings.items():
            seen = []

            def spy(self, ended, _seen=seen):
                ev = real(self, ended)
                _seen.append(ev)
                return ev

            AdaptiveSelector.rescore = spy
            try:
                adaptive_replay(c, int(r["order_seed"]), Prior.uninformative(data.grid, c.direction, start), lam=lam,
                                margin=float("inf"), **opts)
            finally:
                AdaptiveSelector.rescore = real
            if seen:
                ev = seen[-1]
                out.append({"task": r["task"], "study": r["study"], "variant": fc,
                            "seen_killed": float(ev.killed[start]), "seen_regret": float(ev.regret[start]),
                            "kill_risk": ev.basis.get("kill_risk", float("nan")),
                            "pruned": ev.basis.get("pruned", 0), "ended": ev.basis.get("ended", 0)})
    return pd.DataFrame(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hpo", default=str(WORK / "hpo-full.parquet"), help="the HPO corpus (cached training data)")
    p.add_argument("--tasks", type=int, default=40, help="test tasks per corpus, spread over the folds")
    p.add_argument("--orders", type=int, default=2)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--trees", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lam", type=float, default=20.0)
    p.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                   help="adaptation options to compare (default: one variant, the defaults)")
    p.add_argument("--heldout", help="the held-out HPO corpus (datasets in no corpus)")
    p.add_argument("--heldout-features", help="its meta-features")
    p.add_argument("--heldout-tasks", type=int, default=40)
    p.add_argument("--no-cv", dest="cv", action="store_false")
    p.add_argument("--why", action="store_true",
                   help="also: on the studies whose start rule killed the best trial, does each variant's evidence "
                        "see it?")
    p.add_argument("--cache", type=Path, default=WORK)
    args = p.parse_args()
    variants = {}
    for v in args.variant or ["defaults:"]:
        name, _, kvs = v.partition(":")
        variants[name] = {k: _value(x) for k, x in (kv.split("=", 1) for kv in kvs.split(",") if kv)}
    started = time.perf_counter()
    data, _ = build_training(args.hpo, None, jobs=1, cache=args.cache)
    data = _with_memory(data)
    scorer = {name: adaptive_scorer(data.grid, **o) for name, o in variants.items()}
    orders = list(range(args.orders))
    settings = sorted((k, sorted(o.items())) for k, o in variants.items())
    key = hashlib.sha256(repr((source_digest(*CODE), settings, args.tasks, args.orders, args.folds, args.trees,
                               args.seed, args.lam, args.heldout_tasks)).encode()).hexdigest()[:12]
    frames = []
    if args.cv:
        path = args.cache / f"adapt-cv-{key}.pkl"
        if path.exists():
            rows = pd.read_pickle(path)
        else:
            rng = np.random.default_rng(args.seed)
            splits = []
            for train, test in group_folds(data.tasks, folds=args.folds, seed=args.seed):
                by_corpus: dict[str, list[str]] = {}
                for t in test:
                    by_corpus.setdefault(task_parts(t)["corpus"], []).append(t)
                splits.append((train, [t for ts in by_corpus.values()
                                       for t in _sample(ts, -(-args.tasks // args.folds), rng)]))
            rows = adaptation_rows(data, splits, scorer, lam=args.lam, orders=orders, n_estimators=args.trees,
                                   seed=args.seed, progress=True)
            rows.to_pickle(path)
        frames.append(rows)
    if args.heldout:
        path = args.cache / f"adapt-heldout-{key}.pkl"
        if path.exists():
            rows = pd.read_pickle(path)
        else:
            held = heldout_data(args.heldout, args.heldout_features, args.heldout_tasks, len(data.orders), args.seed)
            both = concat_training_data([data, held])
            rows = adaptation_rows(both, [(data.tasks, held.tasks)], scorer, lam=args.lam, orders=orders,
                                   n_estimators=args.trees, seed=args.seed, progress=True)
            rows = rows.assign(corpus="hpo-heldout")
            rows.to_pickle(path)
        frames.append(rows)
    rows = pd.concat(frames, ignore_index=True)
    if args.why and args.cv:
        first = rows[(rows["variant"] == rows["variant"].iloc[0]) & (rows["corpus"] != "hpo-heldout")]
        w = why_kills_go_unseen(data, first, variants, args.lam)
        print("Studies whose start rule killed the best trial (CV oracle's did not): the last re-scoring under the "
              "start rule, its evidence's killed-best probability for it (truth 1) and regret (units of the study):")
        print(w.groupby("variant")[["seen_killed", "seen_regret", "kill_risk", "pruned", "ended"]].mean().round(3)
              .assign(studies=w.groupby("variant").size()).to_string())
    t = adaptation_targets(rows)
    print(f"variants {variants}; " + (f"{args.tasks} tasks per corpus, " if args.cv else "")
          + (f"{args.heldout_tasks} held-out tasks, " if args.heldout else "") + f"x {args.orders} orders, "
          f"{args.trees}-tree models, lam {args.lam:g}; {time.perf_counter() - started:.0f} s")
    print("| variant | corpus | studies | switched, start > 0.1 below CV oracle (target >= 25 %) | switched, all | "
          "utility start -> adaptive (CV oracle) | gain (target >= +0.03) | killed-best where start riskier: "
          "start -> adaptive (cut, target >= 20 %) | studies worse by > 0.05 (target <= 10 %) | better by > 0.05 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for _, r in t.iterrows():
        print(f"| {r['variant']} | {r['corpus']} | {r['studies']} | {r['switch_rate_far']:.0%} of {r['far_studies']} | "
              f"{r['switch_rate_all']:.0%} | {r['u_start']:.3f} -> {r['u_adapt']:.3f} ({r['u_cv']:.3f}) | "
              f"{r['gain']:+.3f} | {r['killed_start_risky']:.2f} -> {r['killed_adapt_risky']:.2f} "
              f"({r['killed_cut']:.0%}, {r['risky_studies']} studies) | {r['worse_share']:.0%} | "
              f"{r['better_share']:.0%} |")


if __name__ == "__main__":
    main()
