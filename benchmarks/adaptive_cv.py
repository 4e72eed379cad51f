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
With ``--bound`` also the attainable bound: per study, a switch to the CV oracle rule, and to the study's best rule
in hindsight, made when the evidence first exists, and where the start rule killed the best trial
(:func:`attainable_bound`).

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


def switch_at_first_evidence(curves, order: int, specs, start: int, target: int | None,
                             min_trials: int = 4) -> dict:
    """``start`` decides until the evidence first exists (``min_trials`` ended, one completed: when adaptation
    could first act), then ``target`` decides the later trials with the study's real history behind it; no pruned
    trial is revived (None: ``start`` throughout). Also where the best trial(s) ran and were cut.

    Returns the outcome (``compute_saved``, ``regret``, ``killed_best``), ``first_evidence`` (ended trials when the
    evidence first exists, None if never), ``best_pos`` (the latest position of a trial with the study's best final)
    and ``best_cut`` (the step index it was cut at, -1 if it finished).
    """
    from policy_store.meta.adaptation.evidence import evidence_gap
    from policy_store.meta.adaptation.replay import ended_so_far, segment_decisions

    from policy_store.replay.engine import Replay, trial_order
    from policy_store.replay.outcomes import outcome_arrays

    order = trial_order(curves.n_trials, order)
    n = len(order)
    stop, pruned = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    audited, prune_col, shadow = np.zeros(n, dtype=bool), np.full(n, -1, dtype=np.int64), np.full(n, -1, np.int64)
    seg, (cols, aud) = 0, segment_decisions(curves, order, stop, pruned, 0, specs[start])
    first = None
    for t in range(n):
        col, a = int(cols[t - seg]), bool(aud[t - seg])
        audited[t], prune_col[t] = a, col
        pruned[t] = col >= 0 and not a
        shadow[t] = col if col >= 0 and a else -1
        stop[t] = col if pruned[t] else int(curves.last_pos[order[t]])
        if first is None and t + 1 < n and t + 1 >= min_trials and evidence_gap(
                ended_so_far(curves, order, stop, pruned, shadow, t + 1), min_trials) is None:
            first = t + 1
            if target is not None and target != start:
                seg, (cols, aud) = t + 1, segment_decisions(curves, order, stop, pruned, t + 1, specs[target])
    o = outcome_arrays(curves, [Replay(specs[start], curves, 0, order, prune_col, audited, np.full(n, np.nan),
                                       np.zeros(n, dtype=np.int64))])
    f = np.where(np.isnan(curves.final_values), np.inf,
                 (-1.0 if curves.direction == "maximize" else 1.0) * curves.final_values)
    best = np.flatnonzero(f[order] == f.min())
    last = int(best.max()) if len(best) else -1
    return {"compute_saved": float(o["compute_saved"][0]), "regret": float(o["regret"][0]),
            "killed_best": bool(o["killed_best"][0]), "first_evidence": first, "best_pos": last,
            "best_cut": int(stop[last]) if last >= 0 and pruned[last] else -1, "n_trials": n}


def attainable_bound(data, rows: pd.DataFrame, splits, lam: float, trees: int, seed: int) -> pd.DataFrame:
    """Per row of ``rows`` (one variant): the start rule alone and an oracle switcher that knows the study's CV
    oracle rule and switches to it when adaptation could first act (see :func:`switch_at_first_evidence`), both in
    the adaptive run's units and priors (:func:`~policy_store.meta.evaluation.adaptive.adaptive_scorer`, the fold's
    model of ``splits`` as in :func:`~policy_store.meta.evaluation.adaptation_targets.adaptation_rows`)."""
    import dataclasses
    import warnings

    from policy_store.meta.adaptation.selector import Prior
    from policy_store.meta.evaluation.adaptive import scaled
    from policy_store.meta.evaluation.baselines import cv_oracle_choices
    from policy_store.meta.evaluation.evaluate import probe_outcomes, study_means
    from policy_store.meta.learner.model import fit_meta_model

    from policy_store.curves import regret_scale

    probes = probe_outcomes(data)
    names = [g.name for g in data.grid]
    out = []
    fold = {t: k for k, (_, test) in enumerate(splits) for t in test}
    models: dict[int, object] = {}
    for task, g in rows.groupby("task", sort=False):
        studies, scored, means = study_means(data, probes, task)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            picks = cv_oracle_choices(means[..., 0], means[..., 1], scored, lam=lam)
        k = fold[task]
        if k not in models:
            models[k] = fit_meta_model(data.subset(list(splits[k][0])), n_estimators=trees, random_state=seed)
        e = models[k].expected(data.features.loc[[task]])
        for _, r in g.iterrows():
            c = next(c for c in data.curves[task] if c.study == r["study"])
            s = regret_scale(c)
            prior = {"prior_mean": e.prior["prior_mean"] / s, "prior_beta": e.prior["prior_beta"] / s ** 2}
            specs = Prior.from_expected(dataclasses.replace(e, prior=prior), data.grid, c.direction).specs
            start = names.index(r["start"])
            pick = picks.get(studies.index(r["study"]), -1)
            cs = scaled(c, s)
            alone = switch_at_first_evidence(cs, int(r["order_seed"]), specs, start, None)
            oracle = switch_at_first_evidence(cs, int(r["order_seed"]), specs, start, pick if pick >= 0 else None)
            every = [switch_at_first_evidence(cs, int(r["order_seed"]), specs, start, j) for j in range(len(specs))
                     if specs[j].direction in (None, c.direction)]
            u_every = [o["compute_saved"] - lam * np.nan_to_num(o["regret"]) for o in every]
            top = every[int(np.argmax(u_every))]
            out.append({**{k: r[k] for k in ("variant", "corpus", "task", "study", "order_seed", "u_start", "u_cv",
                                            "u_adapt", "killed_start", "killed_cv", "killed_adapt")},
                        "oracle": names[pick] if pick >= 0 else None, "same": pick == start,
                        "u_alone": alone["compute_saved"] - lam * np.nan_to_num(alone["regret"]),
                        "killed_alone": float(alone["killed_best"]),
                        "u_bound": oracle["compute_saved"] - lam * np.nan_to_num(oracle["regret"]),
                        "killed_bound": float(oracle["killed_best"]), "u_top": float(np.max(u_every)),
                        "killed_top": float(top["killed_best"]), "first_evidence": alone["first_evidence"],
                        "best_pos": alone["best_pos"], "best_cut": alone["best_cut"], "n_trials": alone["n_trials"]})
    return pd.DataFrame(out)


def print_bound(b: pd.DataFrame) -> None:
    """The bound's figures per corpus (issue 20's targets) and when the start rule killed the best trial."""
    per = b.groupby(["corpus", "task", "study"]).mean(numeric_only=True).reset_index()
    def cut(k0: float, k1: float) -> str:
        return f"{(k0 - k1) / k0:.0%}" if k0 else "n/a"

    print("| corpus | studies | utility start (replayed here) | CV oracle from the start | switch to the CV oracle "
          "at first evidence | best single switch at first evidence (per-study hindsight) | gain: CV-oracle switch / "
          "best switch / adaptive | killed-best where start riskier: start -> CV-oracle switch / best switch / "
          "adaptive (cut) | worse by > 0.05: CV-oracle switch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for corpus, g in per.groupby("corpus"):
        risky = g[g["killed_start"] > g["killed_cv"]]
        k0, kb, kt, ka = (float(risky[k].mean()) for k in ("killed_alone", "killed_bound", "killed_top",
                                                           "killed_adapt"))
        print(f"| {corpus} | {len(g)} | {g['u_start'].mean():.3f} ({g['u_alone'].mean():.3f}) | "
              f"{g['u_cv'].mean():.3f} | {g['u_bound'].mean():.3f} | {g['u_top'].mean():.3f} | "
              f"{(g['u_bound'] - g['u_alone']).mean():+.3f} / {(g['u_top'] - g['u_alone']).mean():+.3f} / "
              f"{(g['u_adapt'] - g['u_start']).mean():+.3f} | {k0:.2f} -> {kb:.2f} / {kt:.2f} / {ka:.2f} "
              f"({cut(k0, kb)} / {cut(k0, kt)} / {cut(k0, ka)}, {len(risky)} studies) | "
              f"{((g['u_bound'] - g['u_alone']) < -0.05).mean():.0%} |")
    k = b[(b["killed_start"] > b["killed_cv"]) & (b["killed_alone"] > 0)]
    print("Studies whose start rule killed the best trial (CV oracle's did not): the best trial's position (0-based: "
          "trials ended before it) against the ended trials when the evidence first exists:")
    for corpus, g in k.groupby("corpus"):
        before = int((g["best_pos"] < g["first_evidence"].fillna(np.inf)).sum())
        print(f"  {corpus}: {len(g)} study-orders; best killed at position "
              f"{sorted(g['best_pos'].astype(int).tolist())}, first evidence at {sorted(g['first_evidence'].tolist())}"
              f" (of {sorted(g['n_trials'].astype(int).tolist())} trials); killed before any evidence: {before}; "
              f"killed by the bound too: {int((g['killed_bound'] > 0).sum())}")


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
    p.add_argument("--bound", action="store_true",
                   help="also: the attainable bound (an oracle switcher that knows the study's CV oracle rule and "
                        "switches to it when the evidence first exists) and when the best trial was killed")
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
        rng = np.random.default_rng(args.seed)
        splits = []
        for train, test in group_folds(data.tasks, folds=args.folds, seed=args.seed):
            by_corpus: dict[str, list[str]] = {}
            for t in test:
                by_corpus.setdefault(task_parts(t)["corpus"], []).append(t)
            splits.append((train, [t for ts in by_corpus.values()
                                   for t in _sample(ts, -(-args.tasks // args.folds), rng)]))
        if path.exists():
            rows = pd.read_pickle(path)
        else:
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
    if args.bound:
        first = rows[rows["variant"] == rows["variant"].iloc[0]]
        cv_part, held_part = first[first["corpus"] != "hpo-heldout"], first[first["corpus"] == "hpo-heldout"]
        parts = [attainable_bound(data, cv_part, splits, args.lam, args.trees, args.seed)] if len(cv_part) else []
        if len(held_part):
            held = heldout_data(args.heldout, args.heldout_features, args.heldout_tasks, len(data.orders), args.seed)
            parts.append(attainable_bound(concat_training_data([data, held]), held_part, [(data.tasks, held.tasks)],
                                          args.lam, args.trees, args.seed))
        bound = pd.concat(parts, ignore_index=True)
        bound.to_pickle(args.cache / f"adapt-bound-{key}.pkl")
        print_bound(bound)
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
