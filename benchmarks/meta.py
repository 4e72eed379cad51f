"""Meta-learner benchmark: grouped cross-validation on LCDB and the HPO corpus, leave-out rows, latency.

Protocol (see :mod:`policy_store.meta.evaluation.evaluate`): every LCDB accuracy dataset
with studies of >= 5 learners is a task (seed pair (0, 0) its probe study, the
next ``--seeds - 1`` seed pairs its held-out studies); every HPO corpus task
``hpo/<dataset>/<family>/<metric>`` likewise (study ``seed0`` its probe, the
others held out). One meta-learner is trained on both corpora's training
datasets in each of 5 dataset folds and scored on each corpus's test tasks
separately, every held-out study under ``--orders`` trial orders. Limits: the
hindsight oracle and the cross-validated oracle (the rule best on the task's
other studies). ``meta-learner + adaptation`` starts from the meta-features
recommendation and adapts inside the held-out study it is scored on. Leave-out
rows: learners trained without a model family (or metric direction), scored on it.

Then the latency of a recommendation from the model fitted on every task of both
corpora (its record names the corpora): warm, from meta-features, and end to end
for a brand-new 10,000 x 50 CSV.

    python benchmarks/meta.py --hpo CORPUS.parquet             # both corpora, everything
    python benchmarks/meta.py --hpo CORPUS.parquet --tasks 60 --hpo-datasets 10 --no-adapt   # quick subsample
    python benchmarks/meta.py --hpo CORPUS.parquet --write     # also replace '## Meta-learner' in RESULTS.md
    python benchmarks/meta.py --floor --hpo CORPUS.parquet --hpo-features FEATURES.parquet --cache DIR --write
                                                               # issue 19: the safety floor (writes the section)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from policy_store.meta.evaluation.adaptive import adaptive_scorer
from policy_store.meta.evaluation.dominance import best_dominating, dominance_frontier
from policy_store.meta.evaluation.evaluate import (
    CV_ORACLE,
    MEDIAN,
    META,
    META_ADAPT,
    META_PROBE,
    ORACLE,
    PROBE_BEST,
    SINGLE,
    cross_validate,
    leave_out,
)
from policy_store.meta.learner.artifacts import save_artifact
from policy_store.meta.learner.model import N_TREES, fit_meta_model
from policy_store.meta.learner.sources import training_data_from_hpo, training_data_from_lcdb
from policy_store.meta.learner.training_data import concat_training_data, task_parts
from policy_store.meta.recommend import recommend

from policy_store import PolicyStore

SECTION = "## Meta-learner"
NOTES = """
How to read it (issue 13). The CV oracle is the attainable limit of a per-task choice: it picks each held-out
study's rule on the task's OTHER studies (the probe and the other held-out ones), so it never selects on the
scored study's noise; the hindsight oracle does (best of 54 noisy estimates on the scored studies) and stays
out of reach. "Gap closed" = (method - best single rule) / (CV oracle - best single rule), utility at lam=20,
per corpus; NaN when the CV oracle is no better than the best single rule. Meta-features: the dataset's
qualities (LCDB: OpenML's; HPO: computed on the rows trained on), the probe's curve features, and what the
study is: model family (one-hot; an LCDB study, 20 different learners, is family `lcdb`), direction, the
probe's steps, final-value spread (in regret units) and late-cost share. Regret of a minimised metric is
divided by the study's median final value (every pruning decision is unchanged by that rescaling; only the
utility's weighting changes). "+ adaptation" is scored on every held-out study and trial order like the other
methods; it starts from the meta-features recommendation and switches only on the study's own completed trials
(hpo-adapt's defaults: at least 8 completed, every 2nd completion, a 1-standard-error margin), so on short
studies (LCDB: 9-20 learners; this HPO corpus: 16 trials) it has little evidence to act on. Its killed step is
not reported, so it is not in a per-step table. The leave-out rows use smaller forests to fit the time budget.

What moved the figures (issue 13, 2026-12-02; exploratory runs score each choice from the outcome table with
the task's own prior, `utility` at lam=20, gap to the CV oracle):
- Training on every task. The runs before this one used 60 LCDB datasets and 20 HPO datasets (~150 training
  tasks per fold) to save time; the learner then closed -9 % (LCDB) and -18 % (HPO) from meta-features.
  With all 246 LCDB and 288 HPO tasks the same learner closes 46-60 % (LCDB) and 58-83 % (HPO) over fold seeds
  0-1: the meta-features carry the signal, 150 tasks were too few to learn it from 162 outputs. A run of the
  whole benchmark takes about 6 minutes, and the HPO corpus regenerates in 6 (`generate-hpo --jobs 2`).
- The forest's outputs in utility units at lam (saved, lam x regret, killed-best) instead of each of the 162
  outputs standardised: HPO 106-135 %, LCDB 52-78 % on the same folds (utility alone as the target: 108-115 /
  52-69 %; without the killed-best outputs 115-125 / 52-70 %; max_features 1.0 or 0.33, min_samples_leaf 2:
  within those ranges; a forest on the first 1-5 principal components of the utility table, or kNN of 5-40
  tasks: lower).
- No posterior rule from meta-features alone. Its prior is then a guess from 5 neighbours, while its training
  outcomes use the task's own prior: the full cross-validation closed 40 % (HPO) with it chosen that way, 98 %
  had it been given the task's own prior, 95 % without it. From meta-features it now has no expectation and
  is never chosen; with curves (the probe, `recommend --curves`) it is a candidate as before. Adaptation that
  starts from meta-features alone does not switch to it either (its prior sd is NaN there too).
- Robustness of the result (whole cross-validation, no adaptation, fold seeds 0 / 1 / 2): meta-learner 95 / 86 /
  105 % on HPO and 65 / 56 / 64 % on LCDB; + probe 122 / 136 / 157 % and 104 / 103 / 102 %.

Why '>= 90 % with adaptation AND Pareto-dominating MedianPruner()' is out of reach on both corpora: the utility
does not count killing the best trial, so the choice that maximises it kills the best trial more often than
MedianPruner() (every utility-maximising row above, the hindsight oracle's included). The 'Ceiling of
doing both' lines price the killed-best rate (mu) and regret (nu) inside the CV oracle's own choice
(`policy_store.meta.evaluation.dominance`, 55 settings; past mu = 4 the choices stop changing) and keep the best utility
among the settings that dominate MedianPruner() on the held-out studies: the attainable limit itself cannot do
both, so no recommendation scored against it can.

Issue 5's exploration (LCDB only, 246 tasks, the gap then measured to the hindsight oracle):
Design choice (exploratory runs on the same 246 tasks and folds, scoring each choice from the outcome table;
gap closed at lam=20 from meta-features only, then with the probe study): the learner predicts every
candidate's outcome (compute saved, regret, killed-best), not a threshold or a class, so one fitted model
serves every trade-off (lam or max-regret is applied at recommendation time). A multi-output random forest
closed 20 % (min_samples_leaf 1), 17 % (3), 13 % (5); a distance-weighted kNN of 5 / 10 / 20 tasks 1 % / 3 % /
16 %, so the forest is the default. Blending the forest's prediction with the grid replayed on the task's
probe study (weight w per study) closed 35 % at w = 0.25 and 34 / 31 / 29 / 26 % at w = 0.5 / 1 / 2 / 4; 20
probe orders instead of 5, or extra probe-shape features (steps, cost share of the last anchor), moved it by
at most 3 points. Selecting with a 25 % larger lam than the one scored (a hedge against the winner's curse
of picking the best of 54 noisy estimates) gave saved 0.584 at regret 0.0063 (dominating MedianPruner() at
lam = 20) but a lower utility (gap 32 %), so it is not the default; `--max-regret` is the way to ask for it.

Closing more of the gap (meta-learner + probe at lam = 20; 100 trees and forest seed 0 unless said; the
forest's seed alone moves it by +-2 points, so variants were compared on the same seeds). Forest size: 100 /
200 / 400 trees closed 34 / 36 / 37 % (means over forest seeds 0-4; from meta-features only 19 / 20 % at 100 /
200); 200 beat 100 on every seed, with the max-regret mode dominating MedianPruner() on every one, so the
default is 200 (artifact 85 MB instead of 43 MB). Precision-weighted blends: per candidate and outcome weights
from the out-of-bag forest errors and the probe's errors on the training tasks 25 %; the same pooled per
outcome 37 % (means over seeds 0-3: 36 % against 34 % for w = 0.25, not better on every seed); per task, the
probe's variance over its orders plus a between-study variance learned on the training tasks 27 % (30 % with
that variance doubled); a multivariate blend over candidates (Ledoit-Wolf covariances of both errors) 31 %; w
picked per fold by the training tasks' out-of-bag selection utility 30-38 % over 6 forests. The weights that
best predict each outcome put more on the probe than the weight that selects best: the argmax over 54
candidates rewards noise. Residual targets (the task's mean over candidates plus each candidate's difference
from it) 34 % (23 % from meta-features only); differences only 33 % (38 % at w = 0.5, with the max-regret mode
saving less); the probe's grid outcomes or its relative utilities as extra features 28 / 29 %;
down-weighting the killed-best outputs in the splits 33-34 % (200 trees, 3 seeds, against 36 %); extra trees
29 % and max_features 0.25 / 1.0 34 / 34 % (400 trees, 3 seeds, against 37 % at 0.5). Keeping the best single
rule unless the predicted gain exceeds 0.01 / 0.02 / 0.04 / 0.06: 35 / 34 / 32 / 30 %; a lower bound (gain -
k sd over trees and probe orders) k = 0.25 / 0.5 / 1: 33 / 28 / 17 % (dominating MedianPruner() at lam = 20
from k = 0.25, like the lam hedge); choosing among a greedy cover of 5 / 10 / 20 candidates 14 / 29 / 33 %.
Ceiling check on the outcome table: choosing each task's rule on three of its own studies (the probe and two
held-out ones) and scoring it on the third held-out study closes 36 % (the probe alone 21 %, the two held-out
studies 25 %): the learner already matches three studies of the task's own evidence, and most of the
remaining gap is the oracle selecting on the held-out studies' noise, which the 60 % target would need a
recommendation to foresee.

The posterior candidates take their prior from the task's probe study in the outcome table and, for a new
task, from its first curves when given, else from its 5 nearest past tasks (distance-weighted mean and
variance of final - value). Missing meta-features: the forest routes NaN natively (51 LCDB tasks lack every
OpenML quality); neighbours use a rank-scaled L1 averaged over the features both tasks have.
"""
SHOWN = (MEDIAN, "SuccessiveHalvingPruner()", "HyperbandPruner()", SINGLE, "nearest task (auto-sklearn)",
         "RUSH hurdles", "top-K after one step", PROBE_BEST, META, META_PROBE, META_ADAPT, CV_ORACLE, ORACLE)


def _csv(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(10_000, 49))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(49)])
    frame["y"] = (X[:, 0] + rng.normal(size=len(X)) > 0).astype(int)
    frame.to_csv(path, index=False)
    return path


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def latency(data, model) -> dict[str, float]:
    """Median wall and CPU seconds of warm recommendations (meta-features) and of a new 10,000 x 50 CSV.

    CPU time is reported too because the machine is shared: wall time includes waiting for a core.
    """
    with tempfile.TemporaryDirectory() as d, PolicyStore(Path(d) / "s.duckdb") as store:
        mid = save_artifact(store, model, directory=d)
        feats = data.features.iloc[0].dropna().to_dict()
        recommend(store, meta_features=feats, model_id=mid)              # warm-up: load + verify once
        warm = np.array([_timed(lambda: recommend(store, meta_features=feats, model_id=mid)) for _ in range(50)])
        bare = np.array([_timed(lambda: recommend(store, meta_features=feats, model_id=mid, record=False))
                         for _ in range(50)])
        path = _csv(Path(d) / "new.csv")
        cold = np.array([_timed(lambda: recommend(store, dataset=path, target="y", model_id=mid)) for _ in range(5)])
    med = {k: np.median(v, axis=0) for k, v in (("warm", warm), ("bare", bare), ("csv", cold))}
    return {"warm_ms": 1000 * med["warm"][0], "warm_cpu_ms": 1000 * med["warm"][1], "bare_ms": 1000 * med["bare"][0],
            "csv_s": med["csv"][0], "csv_cpu_s": med["csv"][1], "load": os.getloadavg()[0]}


def _fmt(summary: pd.DataFrame, mode: str, corpus: str) -> list[str]:
    s = summary[(summary["mode"] == mode) & (summary["corpus"] == corpus)].set_index("method")
    lines = ["| method | compute saved | mean regret | killed best | utility |", "|---|---:|---:|---:|---:|"]
    for m in SHOWN:
        if m in s.index:
            r = s.loc[m]
            lines.append(f"| {m} | {r.compute_saved:.3f} | {r.regret:.4f} | {r.killed_best_rate:.3f} | "
                         f"{r.utility:.3f} |")
    return lines


def _ceiling_line(ev, frontier: pd.DataFrame, corpus: str) -> str:
    best = best_dominating(frontier, corpus)
    f = frontier[frontier["corpus"] == corpus]
    if best is None:
        return (f"- Ceiling of doing both: the CV oracle priced on killing the best trial and on regret "
                f"({len(f)} settings, `meta.evaluation.dominance`) **never dominates MedianPruner()** on {corpus}; "
                f"its lowest killed-best rate is {f['killed_best_rate'].min():.3f} (MedianPruner() "
                f"{ev.table('lam=20', corpus).loc[MEDIAN, 'killed_best_rate']:.3f}).")
    gap = ev.share_of_gap(float(best["utility"]), corpus=corpus)
    return (f"- Ceiling of doing both: the best CV-oracle setting that dominates MedianPruner() (priced on killing "
            f"the best trial, mu={best['mu']:g}, and on regret, nu={best['nu']:g}; {len(f)} settings, "
            f"`policy_store.meta.evaluation.dominance`) keeps utility {best['utility']:.3f}: **{gap:.0%} of the gap**.")


def _verdict(ev, corpus: str, frontier: pd.DataFrame | None = None) -> list[str]:
    methods = set(ev.summary["method"])
    cv = {m: ev.gap_closed(method=m, corpus=corpus) for m in (META, META_PROBE, META_ADAPT) if m in methods}
    hs = {m: ev.gap_closed(method=m, corpus=corpus, limit=ORACLE) for m in cv}
    out = ["- Gap closed at lam=20 between the best single rule and the **CV oracle**: "
           + ", ".join(f"{m} **{v:.0%}**" for m, v in cv.items())
           + " (to the hindsight oracle: " + ", ".join(f"{v:.0%}" for v in hs.values()) + ")."]
    met = cv[META] >= 0.5
    out.append(f"- Target from meta-features alone >= 50 %: **{'met' if met else 'not met'}** ({cv[META]:.0%}).")
    if META_ADAPT in cv:
        dom = ev.dominates(method=META_ADAPT, corpus=corpus)
        out.append(f"- Target with adaptation >= 90 % and Pareto-dominating MedianPruner() (more saved, lower "
                   f"regret, lower killed-best): **{'met' if cv[META_ADAPT] >= 0.9 and dom else 'not met'}** "
                   f"({cv[META_ADAPT]:.0%}; dominates: {dom}).")
        if frontier is not None:
            out.append(_ceiling_line(ev, frontier, corpus))
    out.append(f"- Pareto-dominates MedianPruner() at lam=20: meta-learner {ev.dominates(method=META, corpus=corpus)}, "
               f"+ probe {ev.dominates(method=META_PROBE, corpus=corpus)}.")
    return out


def _leave_out_lines(lo: pd.DataFrame, trees: int) -> list[str]:
    if lo is None or not len(lo):
        return []
    lines = ["Leave-out rows (lam=20, HPO corpus): in each dataset fold, the learner (forest of "
             f"{trees} trees) is trained on the fold's training tasks of both corpora *without* the family "
             "(direction) and scored on the HPO test tasks of that family (direction). "
             "'beats median' = higher utility than MedianPruner() on the same tasks.", "",
             "| held out | tasks | method | compute saved | mean regret | killed best | utility | beats median |",
             "|---|---:|---|---:|---:|---:|---:|---|"]
    order = [MEDIAN, SINGLE, META, META_PROBE, META_ADAPT, CV_ORACLE]
    for split, g in lo.groupby("split", sort=True):
        g = g.set_index("method")
        for m in [m for m in order if m in g.index]:
            r = g.loc[m]
            lines.append(f"| {split} | {r.tasks} | {m} | {r.compute_saved:.3f} | {r.regret:.4f} | "
                         f"{r.killed_best_rate:.3f} | {r.utility:.3f} | {'yes' if r.beats_median else 'no'} |")
    return [*lines, ""]


def report(ev, lat: dict[str, float], command: str, seconds: float, snapshot: dict,
           frontier: pd.DataFrame | None = None) -> str:
    st = ev.settings
    lines = [SECTION, "", f"Command: `{command}` ({seconds / 60:.1f} min on this 2-core shared machine, load "
             f"average {lat['load']:.1f} at the end).", "",
             f"{st['tasks']} tasks ({', '.join(f'{k} {v}' for k, v in st['tasks_per_corpus'].items())}), "
             f"{st['studies']} held-out studies, {st['orders']} trial orders each, {st['folds']}-fold "
             "cross-validation grouped by dataset (seed 0): one meta-learner per fold, trained on the training "
             "datasets of BOTH corpora, scored on each corpus's test tasks separately. Each task's first study "
             "(LCDB seed pair (0, 0), HPO seed0) is its probe (curve meta-features, posterior prior, the "
             "'+ probe' evidence) and is never scored. Per-task means, then the mean over tasks. Regret: accuracy "
             "as a fraction; a minimised metric (log loss, MSE) relative to the study's median final value. "
             "CV oracle = per held-out study, the grid rule best on the task's other studies (probe included). "
             "'+ adaptation' starts from the meta-features recommendation and re-scores the candidates on the "
             "held-out study's own completed trials (hpo-adapt's adaptive_replay), costs of its early trials "
             "counted.", ""]
    for corpus in ev.corpora:
        for mode in ("lam=20", f"max_regret={st['max_regret']:g}"):
            lines += [f"**{corpus}, {mode}** (utility = saved - 20 x regret)", "", *_fmt(ev.summary, mode, corpus),
                      ""]
        lines += [*_verdict(ev, corpus, frontier), ""]
    lines += _leave_out_lines(ev.leave_out, st.get("leave_out_trees", 0))
    lines += [f"Model fitted on every task ({snapshot.get('corpora')} tasks per corpus, recorded in its "
              f"training snapshot). Latency: warm recommendation from meta-features {lat['warm_ms']:.1f} ms wall / "
              f"{lat['warm_cpu_ms']:.1f} ms CPU (median of 50, incl. the write to a DuckDB file store; "
              f"{lat['bare_ms']:.1f} ms wall without recording); brand-new 10,000 x 50 CSV end to end "
              f"{lat['csv_s']:.2f} s wall / {lat['csv_cpu_s']:.2f} s CPU (median of 5).", ""]
    return "\n".join(lines) + "\n" + NOTES


def write_section(text: str, path: Path) -> None:
    old = path.read_text() if path.exists() else ""
    start = old.find(SECTION)
    if start < 0:
        new = old.rstrip() + ("\n\n" if old else "") + text
    else:
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + (text.rstrip("\n") + "\n\n" + old[nxt + 1:] if nxt >= 0 else text)
    path.write_text(new)


# -- issue 19: the safety floor, per group, leave-source-out, coverage, the shipped knowledge's latency ------------
FLOOR_NOTES = """
How to read it (issue 19). Every method is scored on tasks whose datasets the learner never saw, from the task's
meta-features and study descriptors (no curves of the scored studies), by the task's measured outcome table (mean
over its held-out studies and trial orders; utility = saved - 20 x regret, regret of a minimised metric relative to
the study's median final value). 'meta-learner' = the largest expected utility; 'meta-learner + floor' (the
default) = a rule only when its conformal lower bound (quantile 0.25) of utility gain over MedianPruner() is > 0,
its expected killed-best rate at most +0.05 over MedianPruner()'s, its gain over MedianPruner() on the training
tasks of the study's family and direction at least 0 (mean over their datasets minus one standard error, the
mean on each data source of the group with >= 2 datasets, and the linearly interpolated 0.4 quantile of its
per-dataset gains, np.nanquantile), and the task within the corpus (nearest training task
no farther than the 99th percentile of the corpus's own held-out distances, every 0/1 descriptor value seen in
training); else the fallback, with the reason: out of distribution MedianPruner(); within it the prior-free rule
with the best bound (> 0) on the training tasks of the study's family and direction -- that bound also no higher
than the rule's 25 % quantile of per-dataset gains (it must beat MedianPruner() on a new dataset, three in four) --
among rules killing the best trial no more often than MedianPruner() there, else MedianPruner()
(policy_store.meta.learner.fallback). A family or direction absent from training is out of
distribution by design, so the leave-family-out and leave-direction-out rows fall back to MedianPruner() on every
task. 'fallback' = share of tasks where the floor fell back. Coverage: share of held-out (task,
candidate) outcomes inside their 80 % conformal interval (normalised residuals of a grouped cross-validation on
the training tasks, scaled by the forest's spread over trees).
"""


def _wide(t: pd.DataFrame, keys: list[str]) -> list[str]:
    from policy_store.meta.evaluation.safety import FLOOR, MEDIAN
    from policy_store.meta.evaluation.safety import META as M
    from policy_store.meta.evaluation.safety import SINGLE as S

    head = " | ".join(keys)
    lines = [f"| {head} | tasks | MedianPruner() | best single | meta-learner | + floor | gain of + floor | "
             "killed: median / meta / + floor | fallback |",
             "|" + "---|" * len(keys) + "---:|---:|---:|---:|---:|---:|---|---:|"]
    for key, g in t.groupby(keys, sort=True):
        m = g.set_index("method")
        key = key if isinstance(key, tuple) else (key,)
        u = {k: m.loc[k, "utility"] for k in (MEDIAN, S, M, FLOOR)}
        kb = {k: m.loc[k, "killed_best_rate"] for k in (MEDIAN, M, FLOOR)}
        lines.append(f"| {' | '.join(map(str, key))} | {int(m.loc[MEDIAN, 'tasks'])} | {u[MEDIAN]:.3f} | {u[S]:.3f} | "
                     f"{u[M]:.3f} | **{u[FLOOR]:.3f}** | {m.loc[FLOOR, 'gain_vs_median']:+.3f} | "
                     f"{kb[MEDIAN]:.2f} / {kb[M]:.2f} / {kb[FLOOR]:.2f} | {m.loc[FLOOR, 'fallback']:.0%} |")
    return lines


def _recommend_latency(csv: Path) -> dict[str, float]:
    """Wall and CPU seconds of `policy-store recommend --dataset new.csv ... --family lightgbm --direction minimize`,
    cold (an empty user cache: the shipped forest is loaded, never fitted) and warm (median of 3), as a user runs it."""
    import resource
    import subprocess

    exe = Path(sys.executable).with_name("policy-store")
    out = {}
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "POLICY_STORE_CACHE": d}
        env.pop("POLICY_STORE_KNOWLEDGE", None)
        cmd = [str(exe), "--store", f"{d}/s.duckdb", "recommend", "--dataset", str(csv), "--target", "y",
               "--family", "lightgbm", "--direction", "minimize"]
        runs = []
        for _ in range(4):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            runs.append((time.perf_counter() - wall, cpu))
    out["cold_s"], out["cold_cpu_s"] = runs[0]
    out["warm_s"], out["warm_cpu_s"] = np.median(np.array(runs[1:]), axis=0)
    out["load"] = os.getloadavg()[0]
    return out


def floor_report(rows: pd.DataFrame, cover: pd.DataFrame, lat: dict, command: str, seconds: float,
                 data, args) -> str:
    from policy_store.meta.evaluation.safety import FLOOR, group_table

    cv = rows[rows["split"] == "cross-validation"]
    counts = cv[cv["method"] == FLOOR].groupby(["corpus", "direction"]).size().to_dict()
    lines = [SECTION, "", f"Command: `{command}` ({seconds / 60:.1f} min on this 2-core shared machine, load "
             f"average {os.getloadavg()[0]:.1f} at the end).", "",
             f"{len(data.tasks)} tasks: " + ", ".join(f"{c} {d} {n}" for (c, d), n in sorted(counts.items()))
             + f". Cross-validation: {args.folds} folds grouped by dataset, forests of {args.floor_trees} trees, "
             f"calibration from 5 inner grouped folds of {args.calibration_trees}-tree forests. Leave-out rows: "
             f"{args.leave_out_folds} dataset folds, the held-out source / family / direction removed from each "
             "fold's training tasks.", FLOOR_NOTES.strip(), "",
             "**Per group (family x direction x corpus), cross-validation, lam=20**", ""]
    lines += _wide(group_table(cv, ["corpus", "family", "direction"]), ["corpus", "family", "direction"])
    lines += ["", "**Per corpus and direction** (the issue's target: gain of the default >= +0.08 on each)", ""]
    lines += _wide(group_table(cv, ["corpus", "direction"]), ["corpus", "direction"])
    lo = rows[rows["split"] != "cross-validation"]
    if len(lo):
        lines += ["", "**Leave-source-out, leave-family-out, leave-direction-out** (scored on the held-out part only)",
                  ""]
        lines += _wide(group_table(lo, ["split"]), ["split"])
        per = group_table(lo, ["split", "corpus", "family", "direction"])
        f = per[per["method"] == FLOOR]
        bad_u = f[f["gain_vs_median"] < -1e-9]
        bad_k = f[f["killed_vs_median"] > 0.05 + 1e-9]
        lines += ["", f"Groups (split x corpus x family x direction) in the leave-out rows: {len(f)}; the default "
                  f"below MedianPruner()'s utility in {len(bad_u)}, killed-best above MedianPruner()'s + 0.05 in "
                  f"{len(bad_k)}" + (":" if len(bad_u) + len(bad_k) else ".")]
        for _, r in pd.concat([bad_u, bad_k]).drop_duplicates(["split", "corpus", "family", "direction"]).iterrows():
            lines.append(f"- {r['split']}, {r['corpus']}/{r['family']}/{r['direction']} ({int(r['tasks'])} tasks): "
                         f"gain {r['gain_vs_median']:+.3f}, killed-best {r['killed_vs_median']:+.3f} vs "
                         f"MedianPruner(), fallback {r['fallback']:.0%}")
    cover = cover.assign(part=np.where(cover["split"] == "cross-validation", "cross-validation", "leave-out"))
    cov = cover.groupby(["part", "outcome"])[["covered", "covered_chosen"]].mean()
    ind = cover[~cover["ood"]].groupby(["part", "outcome"])["covered"].mean()
    lines += ["", "**Coverage of the 80 % intervals on held-out tasks** (target 70-90 %)", "",
              "| rows | outcome | all candidates | the chosen rule | tasks within the corpus |",
              "|---|---|---:|---:|---:|"]
    for (part, outcome), r in cov.iterrows():
        lines.append(f"| {part} | {outcome} | {r['covered']:.1%} | {r['covered_chosen']:.1%} | "
                     f"{ind.get((part, outcome), np.nan):.1%} |")
    sweep = group_table(cv, ["corpus", "direction"])
    sweep = sweep[sweep["method"].str.startswith(FLOOR)]
    lines += ["", "Lower-bound quantile of the floor (default 0.25; gain over MedianPruner() / killed-best excess):",
              ""]
    for method, g in sweep.groupby("method"):
        lines.append(f"- {method}: " + "; ".join(f"{r['corpus']} {r['direction']} {r['gain_vs_median']:+.3f} / "
                                                 f"{r['killed_vs_median']:+.3f}" for _, r in g.iterrows()))
    lines += ["", f"Out of the box (`policy-store recommend --dataset new.csv --target y --family lightgbm "
              f"--direction minimize`, a 10,000 x 50 CSV, the shipped knowledge, subprocess as a user runs it): cold "
              f"(empty user cache; the shipped forest is loaded, not fitted) {lat['cold_s']:.2f} s wall / "
              f"{lat['cold_cpu_s']:.2f} s "
              f"CPU; warm {lat['warm_s']:.2f} s wall / {lat['warm_cpu_s']:.2f} s CPU (median of 3; load average "
              f"{lat['load']:.1f}). Targets: < 5 s cold, < 2 s warm.", ""]
    return "\n".join(lines) + "\n"


#: Floors scored beside the default with ``--floor-variants`` (issue 19's last failing groups). Each changes only the
#: settings it names of the shipped floor (``FloorVariant()``: the group check's quantile ``CHECK_QUANTILE`` 0.4,
#: killed-best read at its expected rate, +0.05 allowed, no least datasets per group): "same" is the default itself
#: (the variant path must reproduce its rows), "no check q" the floor without the check's quantile (1.0 never binds).
FLOOR_VARIANTS = {"same": {}, "no check q": {"check_quantile": 1.0},
                  "killed ub": {"killed": 1.0}, "killed mid": {"killed": 0.5}, "killed 0.25": {"killed": 0.25},
                  "killed ub <= +0.1": {"killed": 1.0, "max_killed_excess": 0.1},
                  "killed ub <= +0.15": {"killed": 1.0, "max_killed_excess": 0.15},
                  "killed mid <= +0.1": {"killed": 0.5, "max_killed_excess": 0.1},
                  "check q0.25": {"check_quantile": 0.25}, "check q0.3": {"check_quantile": 0.3},
                  "check q0.5": {"check_quantile": 0.5},
                  "min 10": {"min_datasets": 10}, "min 15": {"min_datasets": 15}, "min 20": {"min_datasets": 20},
                  "killed ub + check q0.25": {"killed": 1.0, "check_quantile": 0.25},
                  "killed ub + min 10": {"killed": 1.0, "min_datasets": 10}}


def floor_main(args, argv) -> int:
    from policy_store.meta.evaluation.safety import FloorVariant, evaluate_floor
    from policy_store.meta.learner.build_knowledge import build_training

    started = time.perf_counter()
    data, _ = build_training(args.hpo, args.lcdb_source, jobs=args.jobs, cache=args.cache,
                             hpo_features=args.hpo_features)
    rows, cover = evaluate_floor(data, folds=args.folds, n_estimators=args.floor_trees, extra_quantiles=(0.1, 0.5),
                                 extra_killed=tuple(args.floor_killed),
                                 leave_out=args.leave_out, leave_out_folds=args.leave_out_folds,
                                 calibration_trees=args.calibration_trees, progress=True,
                                 variants={k: FloorVariant(**v) for k, v in FLOOR_VARIANTS.items()}
                                 if args.floor_variants else None)
    if args.cache:
        rows.to_pickle(args.cache / "floor-rows.pkl")
        cover.to_pickle(args.cache / "floor-cover.pkl")
    with tempfile.TemporaryDirectory() as d:
        lat = _recommend_latency(_csv(Path(d) / "new.csv"))
    command = "python benchmarks/meta.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = floor_report(rows, cover, lat, command.strip(), time.perf_counter() - started, data, args)
    print(text)
    if args.write:
        write_section(text, Path(__file__).with_name("RESULTS.md"))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lcdb-source", help="LCDB sdist or folder (default: the installed package / cache)")
    p.add_argument("--tasks", type=int, help="LCDB datasets with the smallest OpenML ids (default: all)")
    p.add_argument("--seeds", type=int, default=4, help="LCDB seed pairs per dataset: 1 probe + held-out studies")
    p.add_argument("--hpo", help="HPO corpus Parquet (`policy-store datasets generate-hpo --out`); default bundled")
    p.add_argument("--hpo-datasets", type=int, help="only the first N HPO datasets (sorted by name)")
    p.add_argument("--orders", type=int, default=5)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--trees", type=int, default=N_TREES)
    p.add_argument("--leave-out-trees", type=int, default=100, help="trees of the leave-out rows' forests")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--no-adapt", dest="adapt", action="store_false", help="leave out meta-learner + adaptation")
    p.add_argument("--no-leave-out", dest="leave_out", action="store_false", help="leave out the leave-out rows")
    p.add_argument("--adapt-option", action="append", default=[], metavar="KEY=VALUE",
                   help="an AdaptiveSelector setting for the adaptation row, e.g. min_trials=4 (repeatable)")
    p.add_argument("--write", action="store_true", help="replace the Meta-learner section of RESULTS.md")
    p.add_argument("--floor", action="store_true",
                   help="issue 19's evaluation instead: per group, leave-source-out, coverage, shipped latency")
    p.add_argument("--hpo-features", help="with --floor: the corpus's meta-features (`generate-hpo --features-out`)")
    p.add_argument("--cache", type=Path, help="with --floor: keep each corpus's replayed training data here")
    p.add_argument("--floor-trees", type=int, default=100, help="with --floor: trees of each fold's forest")
    p.add_argument("--floor-killed", type=float, nargs="*", default=[],
                   help="with --floor: also the floor allowing these killed-best excesses per task (default 0.05)")
    p.add_argument("--floor-variants", action="store_true",
                   help="with --floor: also the other floors of FLOOR_VARIANTS (rows 'meta-learner + floor [name]')")
    p.add_argument("--calibration-trees", type=int, default=40, help="with --floor: trees of the inner forests")
    p.add_argument("--leave-out-folds", type=int, default=3, help="with --floor: dataset folds of the leave-out rows")
    args = p.parse_args(argv)
    if args.floor:
        return floor_main(args, argv)
    adapt_options = {}
    for option in args.adapt_option:
        key, _, value = option.partition("=")
        try:
            if key not in ("min_trials", "every", "margin", "n_boot", "small_study"):
                raise ValueError(key)
            adapt_options[key] = float(value) if key in ("margin", "small_study") else int(value)
        except ValueError:
            p.error(f"--adapt-option {option!r}: use min_trials, every or n_boot=INTEGER, margin or small_study=NUMBER")
    started = time.perf_counter()
    lcdb = training_data_from_lcdb(tasks=args.tasks, seeds=args.seeds, orders=args.orders, n_jobs=args.jobs,
                                   source=args.lcdb_source, progress=True)
    frame = pd.read_parquet(args.hpo) if args.hpo else None
    if frame is not None and args.hpo_datasets:
        names = sorted({task_parts(t)["dataset"] for t in frame["task"].unique()})[:args.hpo_datasets]
        frame = frame[frame["task"].map(lambda t: task_parts(t)["dataset"]).isin(names)]
    hpo = training_data_from_hpo(frame, orders=args.orders, n_jobs=args.jobs, progress=True)
    data = concat_training_data([lcdb, hpo])
    adapt = adaptive_scorer(data.grid, **adapt_options) if args.adapt else None
    ev = cross_validate(data, folds=args.folds, lams=(20.0,), n_estimators=args.trees, adapt=adapt, progress=True)
    if args.leave_out:
        ev.leave_out = leave_out(data, folds=args.folds, n_estimators=args.leave_out_trees, adapt=adapt,
                                 corpus="hpo", progress=True)
        ev.settings["leave_out_trees"] = args.leave_out_trees
    frontier = dominance_frontier(data) if args.adapt else None
    model = fit_meta_model(data, n_estimators=args.trees)
    lat = latency(data, model)
    command = "python benchmarks/meta.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = report(ev, lat, command.strip(), time.perf_counter() - started, model.snapshot, frontier)
    print(text)
    if args.write:
        write_section(text, Path(__file__).with_name("RESULTS.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
