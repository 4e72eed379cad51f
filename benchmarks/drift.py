"""Drift detection and recalibration as a cron job runs them, on streams of real studies.

Studies are real: the extended HPO corpus (Optuna searches of six model families, 16 trials x 12
steps; ``--hpo``, default ``/work/handoff/hpo-corpus.parquet``, else the bundled slice) and LCDB
(20 learners per study at growing training-set sizes; ``policy-store datasets ingest lcdb``'s cache).
The rule is Optuna's ``MedianPruner()`` (``{"strategy": "median"}``). A stream is 80 finished
studies; in a *change* stream the first 40 come from one pool and the last 40 from another:

=============================  ===============================================================
``hpo logloss sgd->forest``    the model family behind the task switches (log loss)
``hpo accuracy sgd->xgboost``  the same on accuracy (a smaller jump of the killed-best rate)
``hpo mse sgd->lightgbm``      the same on a regression metric (minimised)
``lcdb low->high risk``        the dataset mix changes: LCDB datasets where the rule rarely kills
                               the best learner, then ones where it often does
=============================  ===============================================================

*No-change* streams draw all 80 studies from one pool (each first pool, and an all-family HPO mix).

Two measurements:

1. **The cron loop, end to end** (``--pipeline`` streams per kind): per study,
   ``policy_store.drift.run_cycle`` (ingest the study's file, record the rule's outcomes under 5
   trial orders, run the scheduled monitors) into a store; every 5 studies
   ``recalibrate(trigger="cron")``. Reported: changes found, detection delay (studies after the
   change up to the alarm) and the cron's delay (up to the job that acted on it), false alarms,
   promotions on no-change streams, and after a promotion the new version's killed-best and compute
   saved on the post-change pool's studies that were not in the stream, against the rule's figures
   on the pre-change pool.
2. **Detectors alone** (``--streams`` per kind), on the same per-study outcomes (the 5 orders'
   mean killed-best and relative regret, and the curves' early-vs-final rank correlation): our
   scheduled monitors (GLR on killed-best and regret, CUSUM on the rank correlation, each calibrated
   by ``policy_store.drift.calibrate`` on the stream's first 20 studies to 3,000 studies per false
   alarm: 1,000 for the three) against river's DDM, HDDM_A and ADWIN on the killed-best stream, each
   with its one knob calibrated (log-bisection on separate no-change streams) to our measured
   false-alarm rate.

Run::

    pip install river   # the `bench` extra; the library never imports it
    python benchmarks/drift.py [--pipeline 8] [--streams 300] [--jobs 2] [--timing 10]

``--timing N`` also times ``policy-store cycle`` as a new process on N 20-trial LCDB studies.
``--selection N`` re-tunes N times on 15 (``--selection-studies``) post-change studies and scores the pick on
the pool's other studies.
``--frontier`` prints, per change, the lowest killed-best any re-tuning candidate (and Optuna's
``PatientPruner`` wrapped around five of them) reaches on the whole post-change pool while keeping
compute saved at 0.5-1.0x the pre-change figure: what recalibration could do with perfect knowledge.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from policy_store.drift import Reference, calibrate, run_cycle, study_rank_correlations
from policy_store.drift.calibration import SLACK, first_alarm
from policy_store.drift.recalibration import DEFAULT_MONITORS, recalibrate

from policy_store import PolicyStore
from policy_store.curves import StudyCurves, curves_from_frame, regret_scale
from policy_store.replay import replay_outcomes
from policy_store.rules import RuleSpec, add_rule_version, rule_history

DEFAULT_HPO = "/work/handoff/hpo-corpus.parquet"
PRE = POST = 40
ORDERS, CRON, MIN_REFERENCE, ARL = 5, 5, 20, 1000.0
RULE = {"strategy": "median"}
CHANGES = {  # name -> (pre pool, post pool)
    "hpo logloss sgd->forest": ("hpo/logloss/sgd", "hpo/logloss/forest"),
    "hpo accuracy sgd->xgboost": ("hpo/accuracy/sgd", "hpo/accuracy/xgboost"),
    "hpo mse sgd->lightgbm": ("hpo/mse/sgd", "hpo/mse/lightgbm"),
    "lcdb low->high risk": ("lcdb/low", "lcdb/high"),
}
STABLE = {f"no change: {pre}": pre for pre, _ in CHANGES.values()} | {"no change: hpo accuracy all": "hpo/accuracy/all"}


# -- pools of real studies and their per-study outcomes --------------------------------------
@dataclass
class Pool:
    frames: dict[str, pd.DataFrame]  # study -> long rows
    outcomes: pd.DataFrame  # per study: killed_best, regret (relative), compute_saved (orders' mean), rank_correlation


def per_study(curves: list[StudyCurves]) -> pd.DataFrame:
    out, _ = replay_outcomes(curves, [RuleSpec.parse(RULE)], list(range(ORDERS)))
    scale = {c.study: regret_scale(c) for c in curves}
    out["regret"] = out["regret"] / out["study"].map(scale)
    return out.groupby("study")[["killed_best", "regret", "compute_saved"]].mean()


def rank_correlations(frame: pd.DataFrame) -> pd.Series:
    """Per study, the early-vs-final rank correlation the monitors watch (the library's own SQL, on a scratch store)."""
    with PolicyStore.memory() as store:
        store.register("points", frame[["study", "trial", "step", "value"]].astype({"study": str, "trial": str}))
        store.execute("INSERT INTO curve_points SELECT study, trial, step, value, NULL FROM points")
        return pd.Series(study_rank_correlations(store, sorted(frame["study"].unique())), dtype=float)


def load_pools(hpo: str) -> dict[str, Pool]:
    frame = pd.read_parquet(hpo)
    parts = frame["task"].str.split("/", expand=True)
    frame["pool"] = "hpo/" + parts[3] + "/" + parts[2]
    pools: dict[str, Pool] = {}
    wanted = {p for pair in CHANGES.values() for p in pair if p.startswith("hpo/")}
    for name, sub in frame[frame["pool"].isin(wanted)].groupby("pool"):
        pools[name] = _pool(sub.drop(columns="pool"))
    acc = frame[parts[3] == "accuracy"].drop(columns="pool")
    pools["hpo/accuracy/all"] = _pool(acc)
    pools.update(lcdb_pools())
    return pools


def _pool(frame: pd.DataFrame) -> Pool:
    frame = frame.assign(study=frame["study"].astype(str), task=frame["task"].astype(str))
    frames = {s: g for s, g in frame.groupby("study", sort=True)}
    outcomes = per_study(curves_from_frame(frame))
    outcomes["rank_correlation"] = rank_correlations(frame).reindex(outcomes.index)
    return Pool(frames, outcomes)


def lcdb_pools() -> dict[str, Pool]:
    """LCDB accuracy studies split by dataset: killed-best rate <= 0.05 (low) and >= 0.30 (high).

    The rate that sorts a dataset is measured on its first five studies, which are then left out of both
    pools, so the pools' rates are out of sample.
    """
    from policy_store.datasets.lcdb import long_frame, read_curves

    frame = long_frame(read_curves("accuracy", download=False))
    frame["study"], frame["task"] = frame["study"].astype(str), frame["task"].astype(str)
    every = _pool(frame)
    tasks = frame.groupby("study")["task"].first()
    first = tasks.reset_index().sort_values("study").groupby("task").head(5).set_index("study")["task"]
    rate = every.outcomes.loc[first.index, "killed_best"].groupby(first).mean()
    out = {}
    for name, keep in (("lcdb/low", rate[rate <= 0.05].index), ("lcdb/high", rate[rate >= 0.30].index)):
        studies = [s for s in every.frames if tasks[s] in set(keep) and s not in first.index]
        out[name] = Pool({s: every.frames[s] for s in studies}, every.outcomes.loc[studies])
    return out


def draw(pools: dict[str, Pool], kind: str, seed: int) -> list[tuple[str, str]]:
    """(pool, study) for each of the 80 studies of stream ``seed`` of ``kind``."""
    rng = np.random.default_rng([zlib.crc32(kind.encode()), seed])
    pre, post = CHANGES[kind] if kind in CHANGES else (STABLE[kind], STABLE[kind])
    out = []
    for pool, n in ((pre, PRE), (post, POST)):
        names = list(pools[pool].frames)
        out += [(pool, names[i]) for i in rng.integers(0, len(names), n)]
    return out


# -- 1. the cron loop, end to end --------------------------------------------------------------
def pipeline(job: tuple[str, int]) -> dict:
    kind, seed = job
    stream = draw(POOLS, kind, seed)
    change = kind in CHANGES
    folder = tempfile.mkdtemp(prefix="drift-bench-")
    alarms, acted, promoted, rejected, pending = [], [], [], [], 0
    with PolicyStore.memory() as store:
        add_rule_version(store, "median", RULE, created_by="benchmark")
        position = {}
        for i, (pool, study) in enumerate(stream):
            sid = f"k{seed}-{i:02d}"
            position[sid] = i
            path = os.path.join(folder, f"{sid}.csv")
            POOLS[pool].frames[study].assign(study=sid).to_csv(path, index=False)
            run_cycle(store, path, rules=["median"], orders=ORDERS)
            if (i + 1) % CRON == 0:
                r = recalibrate(store, trigger="cron")
                acted += [(position[e["alarm_study"]], i) for e in r.events]
                pending += len(r.pending)
                promoted += [(i, p) for p in r.promoted]
                rejected += [(i, p) for p in r.rejected]
        events = store.fetch_dicts("SELECT alarm_study, change_study, status FROM drift_events "
                                   "WHERE origin = 'scheduled' ORDER BY window_end")  # fmt: skip
        alarms = [(position[e["alarm_study"]], position[e["change_study"]], e["status"]) for e in events]
        final = rule_history(store, "median")
    in_stream = {s for _, s in stream}
    row = {"kind": kind, "seed": seed, "change": change, "alarms": alarms, "acted": sorted(set(acted)),
           "pending_runs": pending, "promoted": [(i, p["to_version"]) for i, p in promoted],
           "rejected": [(i, p.get("rejected_version"), p["failed"]) for i, p in rejected]}  # fmt: skip
    active = [v for v in final if v.status == "active"][-1]
    pre_pool, post_pool = (CHANGES[kind] if change else (STABLE[kind], STABLE[kind]))
    row["before"] = POOLS[pre_pool].outcomes[["killed_best", "compute_saved"]].mean().to_dict()
    held = [s for s in POOLS[post_pool].frames if s not in in_stream]
    held_curves = curves_from_frame(pd.concat([POOLS[post_pool].frames[s] for s in held]))
    after = per_study_spec(held_curves, [RuleSpec.parse(RULE), active.spec])
    row["after_old"], row["after_new"] = after[0], after[1]
    row["final_version"], row["final_params"] = active.version, active.spec.params
    return row


def per_study_spec(curves: list[StudyCurves], specs: list[RuleSpec]) -> list[dict]:
    out, _ = replay_outcomes(curves, specs, list(range(ORDERS)))
    return [out[out["spec_index"] == k][["killed_best", "compute_saved"]].mean().to_dict() for k in range(len(specs))]


# -- 2. detectors alone on the same per-study outcomes ------------------------------------------
def observations(kind: str, seed: int) -> np.ndarray:
    """(80, monitors) per-study values of the scheduled monitors' metrics in stream ``seed`` of ``kind``."""
    rows = draw(POOLS, kind, seed)
    metrics = [m for m, _ in DEFAULT_MONITORS]
    return np.array([POOLS[p].outcomes.loc[s, metrics].to_numpy(dtype=float) for p, s in rows])


def ours(obs: np.ndarray) -> int | None:
    """First alarm of the scheduled monitors (as Monitor.check: reference = the first 20 studies with a value)."""
    hits = []
    for column, (metric, kind) in enumerate(DEFAULT_MONITORS):
        present = np.flatnonzero(np.isfinite(obs[:, column]))  # a study without a rank correlation is not one
        reference, scanned = present[:MIN_REFERENCE], present[MIN_REFERENCE:]
        ref = Reference.from_values(obs[reference, column], metric)
        z = ref.standardize(obs[scanned, column])
        hit = first_alarm(kind, z, calibrate(kind, ref, arl=len(DEFAULT_MONITORS) * ARL, slack=ref.slack),
                          slack=ref.slack)
        if hit is not None:
            hits.append(int(scanned[hit]))
    return min(hits) if hits else None


def river_detector(name: str, knob: float):
    from river import drift

    if name == "river DDM":
        return drift.binary.DDM(warm_start=MIN_REFERENCE, warning_threshold=min(2.0, knob), drift_threshold=knob)
    if name == "river HDDM_A":
        return drift.binary.HDDMA(drift_confidence=knob, warning_confidence=min(0.5, 5 * knob))
    return drift.ADWIN(delta=knob)


RIVER = {"river DDM": (0.5, 50.0, False), "river HDDM_A": (1e-12, 0.5, True), "river ADWIN": (1e-12, 0.99, True)}


def river_alarm(name: str, knob: float, obs: np.ndarray) -> int | None:
    detector = river_detector(name, knob)
    for i, x in enumerate(obs[:, 0].tolist()):
        detector.update(x)
        if detector.drift_detected and i >= MIN_REFERENCE:
            return i
    return None


def river_calibrate(name: str, streams: list[np.ndarray], target: float) -> tuple[float, float]:
    """The most sensitive knob whose first-alarm rate per 1,000 monitored studies stays <= target."""
    low, high, more_when_high = RIVER[name]
    studies = len(streams) * (PRE + POST - MIN_REFERENCE)

    def rate(knob: float) -> float:
        return 1000 * sum(river_alarm(name, knob, s) is not None for s in streams) / studies

    safe, risky = (math.log(low), math.log(high)) if more_when_high else (math.log(high), math.log(low))
    best = (math.exp(safe), rate(math.exp(safe)))
    for _ in range(10):
        mid = (safe + risky) / 2
        r = rate(math.exp(mid))
        if r <= target:
            safe, best = mid, (math.exp(mid), r)
        else:
            risky = mid
    return best


def detectors_alone(n: int, seed: int = 10_000) -> pd.DataFrame:
    obs = {kind: [observations(kind, seed + s) for s in range(n)] for kind in [*CHANGES, *STABLE]}
    calib = [observations(kind, 50_000 + s) for kind in STABLE for s in range(n // 2)]
    rows = []
    monitored = PRE + POST - MIN_REFERENCE
    ours_hits = {kind: [ours(o) for o in streams] for kind, streams in obs.items()}
    stable_alarms = sum(h is not None for kind in STABLE for h in ours_hits[kind])
    ours_fa = 1000 * stable_alarms / (len(STABLE) * n * monitored)
    rows += summarize_detector(f"ours ({'/'.join(k.upper() for _, k in DEFAULT_MONITORS)}, calibrated)",
                              ours_hits, ours_fa, n)  # fmt: skip
    for name in RIVER:
        knob, calib_fa = river_calibrate(name, calib, max(ours_fa, 1000 / (len(calib) * monitored)))
        hits = {kind: [river_alarm(name, knob, o) for o in streams] for kind, streams in obs.items()}
        fa = 1000 * sum(h is not None for kind in STABLE for h in hits[kind]) / (len(STABLE) * n * monitored)
        rows += summarize_detector(f"{name} (knob {knob:.3g})", hits, fa, n)
    return pd.DataFrame(rows)


def summarize_detector(name: str, hits: dict[str, list[int | None]], fa: float, n: int) -> list[dict]:
    rows = []
    for kind in CHANGES:
        early = sum(h is not None and h < PRE for h in hits[kind])
        delays = [h - PRE + 1 for h in hits[kind] if h is not None and h >= PRE]
        cron = [math.ceil((h + 1) / CRON) * CRON - PRE for h in hits[kind] if h is not None and h >= PRE]
        rows.append({"detector": name, "change": kind, "found": len(delays) / n, "early alarms": early,
                     "delay median": np.median(delays) if delays else math.nan,
                     "delay p90": np.percentile(delays, 90) if delays else math.nan,
                     "cron delay median": np.median(cron) if cron else math.nan, "FA/1000 (no change)": fa})
    return rows


# -- what re-tuning could reach at best ---------------------------------------------------------------
PATIENT_WRAPPED = [None, {"strategy": "median"}, {"strategy": "percentile", "params": {"percentile": 75}},
                   {"strategy": "percentile", "params": {"percentile": 90}}, {"strategy": "successive_halving"}]


def frontier(cap: int = 400) -> pd.DataFrame:
    """Per change and compute-saved floor: the candidate with the lowest killed-best on the post-change pool."""
    from policy_store.drift import candidates
    from policy_store.drift.retuning import score

    rule = RuleSpec.parse(RULE)
    patient = [RuleSpec.parse({"strategy": "patient", "params": {"patience": p, "wrapped": w}})
               for p in (1, 2, 3, 4, 6) for w in PATIENT_WRAPPED]  # fmt: skip
    specs = [rule, *candidates(rule), *patient]
    rows = []
    for kind, (pre, post) in CHANGES.items():
        before = POOLS[pre].outcomes[["killed_best", "compute_saved"]].mean()
        studies = list(POOLS[post].frames)
        if len(studies) > cap:
            studies = list(np.random.default_rng(0).choice(studies, cap, replace=False))
        scored = score(specs, curves_from_frame(pd.concat([POOLS[post].frames[s] for s in studies])), ORDERS)
        for floor in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
            ok = [s for s in scored if s.compute_saved >= floor * before["compute_saved"]]
            best = min(ok, key=lambda s: s.killed_best_rate)
            kb = best.killed_best_rate
            rows.append({"change": kind, "studies": len(studies), "floor x pre saved": floor,
                         "killed-best": kb, "x pre-change": kb / before["killed_best"],
                         "compute saved": best.compute_saved, "rule": _label(best.spec),
                         "best patient": min((s.killed_best_rate for s in ok if s.spec.strategy == "patient"),
                                             default=math.nan)})  # fmt: skip
    return pd.DataFrame(rows)


def selection(draws: int, n_studies: int = 15, cap: int = 400) -> pd.DataFrame:
    """Re-tune as the job does on ``n_studies`` post-change studies; score the pick on the pool's other studies.

    Per draw the job's pick (lowest killed-best upper bound, then least compute saved) and, for comparison,
    from the same re-tuning's candidates, the previous session's tie-break (then lowest regret, most compute
    saved) and the lowest killed-best mean.
    """
    from policy_store.drift import retune, retuning
    from policy_store.drift.recalibration import FLOOR

    rule, rows = RuleSpec.parse(RULE), []
    for kind, (pre, post) in CHANGES.items():
        before = POOLS[pre].outcomes[["killed_best", "compute_saved"]].mean()
        names = list(POOLS[post].frames)
        for d in range(draws):
            rng = np.random.default_rng([zlib.crc32(kind.encode()), 90_000 + d])
            order = rng.permutation(len(names))
            tune, held = [names[i] for i in order[:n_studies]], [names[i] for i in order[n_studies:][:cap]]
            curves = curves_from_frame(pd.concat([POOLS[post].frames[s] for s in tune]))
            tuned = retune(rule, curves, orders=3, min_compute_saved=FLOOR * before["compute_saved"])
            eligible = retuning.eligible(tuned.tried, current=tuned.current,
                                         min_compute_saved=FLOOR * before["compute_saved"])  # fmt: skip
            tied = retuning.lowest(eligible, lambda t: t.upper("killed_best"))  # ties as the job's
            most_saved = min(tied, key=lambda t: (t.regret, -t.compute_saved), default=None)
            by_mean = min(eligible, key=lambda t: (t.killed_best_rate, t.regret, -t.compute_saved), default=None)
            picks = [tuned.best, most_saved, by_mean]
            held_curves = curves_from_frame(pd.concat([POOLS[post].frames[s] for s in held]))
            after = per_study_spec(held_curves, [rule, *[p.spec if p else rule for p in picks]])
            names_of = ("upper bound, least saved (job)", "upper bound, most saved (previous)", "mean")
            for name, a in zip(names_of, after[1:], strict=True):
                rows.append({"change": kind, "draw": d, "choice": name, "killed-best": a["killed_best"],
                             "x pre-change": a["killed_best"] / before["killed_best"],
                             "saved x pre-change": a["compute_saved"] / before["compute_saved"]})  # fmt: skip
    frame = pd.DataFrame(rows)
    return frame.groupby(["change", "choice"], sort=False)[["killed-best", "x pre-change", "saved x pre-change"]] \
        .mean().reset_index()  # fmt: skip


def _label(spec: RuleSpec) -> str:
    keep = ("percentile", "n_warmup_steps", "n_startup_trials", "n_min_trials", "reduction_factor", "min_resource")
    return spec.strategy + " " + ",".join(f"{k}={v}" for k, v in spec.params.items() if k in keep)


# -- the per-study cycle as a new process ---------------------------------------------------------
def cycle_timing(n: int) -> dict:
    from policy_store.cli import main  # noqa: F401  (the installed entry point below runs the same code)

    lcdb = POOLS["lcdb/low"]
    studies = [s for s, f in lcdb.frames.items() if f["trial"].nunique() == 20][: n + MIN_REFERENCE]
    folder = tempfile.mkdtemp(prefix="drift-cycle-")
    path = os.path.join(folder, "store.duckdb")
    with PolicyStore(path) as store:
        add_rule_version(store, "median", RULE, created_by="benchmark")
        for k, s in enumerate(studies[:MIN_REFERENCE]):
            f = os.path.join(folder, f"reference-{k}.csv")
            lcdb.frames[s].to_csv(f, index=False)
            run_cycle(store, f, rules=["median"], orders=ORDERS)
    exe = os.path.join(os.path.dirname(sys.executable), "policy-store")
    walls, cpus, loads = [], [], []
    for k, s in enumerate(studies[MIN_REFERENCE:]):
        f = os.path.join(folder, f"timed-{k}.csv")
        lcdb.frames[s].to_csv(f, index=False)
        before = os.times()
        start = time.perf_counter()
        subprocess.run([exe, "--store", path, "cycle", f], check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append(after.children_user + after.children_system - before.children_user - before.children_system)
        loads.append(os.getloadavg()[0])
    trials = int(lcdb.frames[studies[0]]["trial"].nunique())
    return {"studies": n, "trials": trials, "wall_median": float(np.median(walls)), "wall_min": min(walls),
            "cpu_median": float(np.median(cpus)), "load_median": float(np.median(loads))}  # fmt: skip


POOLS: dict[str, Pool]


def markdown(frame: pd.DataFrame) -> str:
    cells = [[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def report_pipeline(rows: list[dict]) -> str:
    lines = ["| stream | n | found | false alarms | detection delay median (each) | cron delay median | "
             "promoted / rejected / pending runs | killed-best before -> old / new after | compute saved before "
             "-> old / new after |", "|---|---:|---:|---:|---|---:|---|---|---|"]  # fmt: skip
    frame = pd.DataFrame(rows)
    for kind, g in frame.groupby("kind", sort=False):
        change = bool(g["change"].iloc[0])
        found, delays, cron, fas = 0, [], [], 0
        for r in g.itertuples():
            true = [a for a in r.alarms if a[0] >= PRE] if change else []
            fas += len([a for a in r.alarms if not change or a[0] < PRE])
            if true:
                found += 1
                delays.append(true[0][0] - PRE + 1)
                acts = [j for a, j in r.acted if a == true[0][0]]
                cron.append(acts[0] - PRE + 1 if acts else math.nan)
        kb = (g["before"].map(lambda d: d["killed_best"]).mean(), g["after_old"].map(lambda d: d["killed_best"]).mean(),
              g["after_new"].map(lambda d: d["killed_best"]).mean())  # fmt: skip
        cs = (g["before"].map(lambda d: d["compute_saved"]).mean(),
              g["after_old"].map(lambda d: d["compute_saved"]).mean(),
              g["after_new"].map(lambda d: d["compute_saved"]).mean())  # fmt: skip
        promoted, rejected = g["promoted"].map(len).sum(), g["rejected"].map(len).sum()
        lines.append(
            f"| {kind} | {len(g)} | {f'{found}/{len(g)}' if change else '-'} | {fas} | "
            f"{np.median(delays) if delays else math.nan:.0f} ({', '.join(map(str, delays))}) | "
            f"{np.nanmedian(cron) if cron else math.nan:.0f} | {promoted} / {rejected} / {g['pending_runs'].sum()} | "
            f"{kb[0]:.3f} -> {kb[1]:.3f} / {kb[2]:.3f} | {cs[0]:.3f} -> {cs[1]:.3f} / {cs[2]:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    global POOLS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hpo", default=DEFAULT_HPO if os.path.exists(DEFAULT_HPO) else None,
                        help="HPO corpus Parquet (default: the extended corpus, else the bundled slice)")
    parser.add_argument("--pipeline", type=int, default=8, help="end-to-end streams per kind (0: skip)")
    parser.add_argument("--streams", type=int, default=300, help="detector-only streams per kind (0: skip)")
    parser.add_argument("--seed", type=int, default=10_000,
                        help="first detector-only stream seed (the report's: 10,000; choose settings on others)")
    parser.add_argument("--slack", action="append", default=[], metavar="METRIC=SD",
                        help="override drift.calibration.SLACK for this run (repeatable), to compare settings")
    parser.add_argument("--timing", type=int, default=10, help="time `policy-store cycle` on N studies (0: skip)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--frontier", action="store_true", help="what re-tuning could reach at best (see above)")
    parser.add_argument("--selection", type=int, default=0,
                        help="re-tune on 15 post-change studies N times; the pick on the other studies")
    parser.add_argument("--selection-studies", type=int, default=15, help="post-change studies to re-tune on")
    args = parser.parse_args(argv)
    for item in args.slack:
        metric, _, value = item.partition("=")
        if metric not in SLACK or not value.replace(".", "", 1).isdigit():
            parser.error(f"--slack {item}: want METRIC=SD, METRIC one of {sorted(SLACK)}")
        SLACK[metric] = float(value)
    warnings.simplefilter("ignore", RuntimeWarning)
    start = time.perf_counter()
    if args.hpo is None:
        from policy_store.datasets.hpo import bundled_hpo

        args.hpo = os.path.join(tempfile.mkdtemp(), "hpo.parquet")
        bundled_hpo().to_parquet(args.hpo)
    POOLS = load_pools(args.hpo)
    for name, pool in POOLS.items():
        m = pool.outcomes.mean()
        print(f"pool {name}: {len(pool.frames)} studies, killed-best {m.killed_best:.3f}, relative regret "
              f"{m.regret:.4f}, compute saved {m.compute_saved:.3f}")
    print(f"pools built in {time.perf_counter() - start:.0f} s\n")
    if args.timing:
        t = cycle_timing(args.timing)
        print(f"`policy-store cycle` on {t['studies']} {t['trials']}-trial studies (new process each): wall median "
              f"{t['wall_median']:.2f} s (min {t['wall_min']:.2f}), CPU median {t['cpu_median']:.2f} s, "
              f"load average {t['load_median']:.1f}\n")
    if args.frontier:
        print(f"Lowest killed-best on the post-change pool per compute-saved floor ({ORDERS} orders)\n")
        print(markdown(frontier()))
        print()
    if args.selection:
        n = args.selection_studies
        print(f"Re-tuned on {n} post-change studies ({args.selection} draws), scored on the pool's others; means\n")
        print(markdown(selection(args.selection, n)))
        print()
    if args.streams:
        import river  # noqa: F401  (fail early: pip install river)

        table = detectors_alone(args.streams, args.seed)
        print(f"Detectors alone: {args.streams} streams per kind (seeds {args.seed:,}+), change at study {PRE}, "
              f"monitored from study {MIN_REFERENCE}\n")
        print(markdown(table))
        print()
    if args.pipeline:
        jobs = [(kind, s) for kind in [*CHANGES, *STABLE] for s in range(args.pipeline)]
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            rows = pool.map(pipeline, jobs, chunksize=1)
        print(f"Cron loop end to end: {args.pipeline} streams per kind; run_cycle per study, recalibrate every "
              f"{CRON}\n")
        print(report_pipeline(rows))
        for r in rows:
            if r["promoted"] or r["rejected"]:
                print(f"  {r['kind']} #{r['seed']}: alarms {r['alarms']}, promoted {r['promoted']}, rejected "
                      f"{[(i, v, f) for i, v, f in r['rejected']]}, final params {r['final_params']}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
