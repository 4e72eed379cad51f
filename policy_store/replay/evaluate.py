"""Evaluate rule versions on recorded studies: replay, measure, record.

:func:`replay_outcomes` is the pure part (curves in, one outcome row per
(spec, study, order) out, joblib-parallel across studies);
:func:`evaluate` loads curves from the store, checks every study's direction
against every spec *before* anything runs, replays and writes the outcomes
(and optionally per-trial decisions) idempotently: an outcome is keyed by
``sha256(spec_hash, study, order_seed, mode)`` and inserted once.

Examples
--------
>>> import pandas as pd
>>> from policy_store import PolicyStore
>>> from policy_store.ingest import ingest_frame
>>> from policy_store.rules import add_rule_version
>>> frame = pd.DataFrame({"task": "t", "study": "s", "trial": [0, 0, 1, 1, 2, 2],
...                       "step": [0, 1] * 3, "value": [1.0, 0.9, 1.2, 1.1, 0.5, 0.4]})
>>> with PolicyStore.memory() as store:
...     _ = ingest_frame(store, frame)
...     _ = add_rule_version(store, "m", {"strategy": "median", "params": {"n_startup_trials": 1}},
...                          created_by="doc")
...     ev = evaluate(store, "m", orders=2)
...     ev.inserted, round(float(ev.summary.loc[0, "compute_saved"]), 3)
(2, 0.167)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import pandas as pd

from policy_store.curves import StudyCurves, load_curves
from policy_store.errors import InvalidInputError
from policy_store.replay.engine import replay_many
from policy_store.replay.outcomes import OUTCOME_FIELDS, RESOURCE_FIELDS, outcome_arrays
from policy_store.rules.spec import RuleSpec
from policy_store.rules.versions import RuleVersion, get_rule_version
from policy_store.store import PolicyStore, utcnow

MODE = "replay"
MAX_ORDERS = 10_000
"""Most trial orders per study one call replays (each is a full replay of every study; 10,000 is hours)."""


def lib_versions() -> dict[str, str | None]:
    """Versions of the libraries that shape replay semantics (numpy, scipy, optuna)."""
    out: dict[str, str | None] = {}
    for name in ("numpy", "scipy", "optuna", "policy-store"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _chunk(curves: Sequence[StudyCurves], specs: Sequence[RuleSpec], order_seeds: Sequence[int],
           with_decisions: bool) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    frames, decisions = [], []
    for c, replays in zip(curves, replay_many(curves, specs, order_seeds), strict=True):
        o = outcome_arrays(c, replays)
        o["spec_index"] = np.repeat(np.arange(len(specs)), len(order_seeds))
        o["order_seed"] = np.tile(np.asarray(order_seeds, dtype=np.int64), len(specs))
        df = pd.DataFrame(o)
        df["study"] = c.study
        df["task"] = c.task
        frames.append(df)
        if with_decisions:
            for r, si in zip(replays, o["spec_index"], strict=True):
                d = r.decisions()
                d["spec_index"], d["order_seed"], d["study"] = si, r.order_seed, c.study
                decisions.append(d)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*OUTCOME_FIELDS])
    return out, (pd.concat(decisions, ignore_index=True) if decisions else None)


def replay_outcomes(curves: Sequence[StudyCurves], specs: Sequence[RuleSpec], order_seeds: Sequence[int] = (0,),
                    *, n_jobs: int = 1, chunk_size: int = 64, progress: bool = False,
                    with_decisions: bool = False) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Replay every spec x study x order; one outcome row each (plus per-trial decisions if asked).

    Directions are checked for every (spec, study) pair before any replay runs.
    """
    for c in curves:
        for s in specs:
            s.check_direction(c.direction, f"study {c.study!r}")
    chunks = [curves[k:k + chunk_size] for k in range(0, len(curves), chunk_size)]
    from tqdm.auto import tqdm

    bar = tqdm(total=len(curves), desc="replay", unit="study", disable=not progress)
    results = []
    if n_jobs == 1 or len(chunks) <= 1:
        for ch in chunks:
            results.append(_chunk(ch, specs, order_seeds, with_decisions))
            bar.update(len(ch))
    else:
        from joblib import Parallel, delayed

        gen = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_chunk)(ch, specs, order_seeds, with_decisions) for ch in chunks)
        for ch, res in zip(chunks, gen, strict=True):
            results.append(res)
            bar.update(len(ch))
    bar.close()
    outcomes = pd.concat([r[0] for r in results], ignore_index=True) if results else pd.DataFrame()
    dec = [r[1] for r in results if r[1] is not None]
    return outcomes, (pd.concat(dec, ignore_index=True) if dec else None)


def _key(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def write_outcomes(store: PolicyStore, outcomes: pd.DataFrame, versions: Sequence[RuleVersion],
                   decisions: pd.DataFrame | None = None) -> int:
    """Insert outcome rows (and decisions) not yet in the store, by id; returns how many outcomes were new.

    One fenced unit of work (:meth:`PolicyStore.run_atomic`): two hosts writing the same outcomes at once
    on a DuckLake cannot both insert them; the later commit is re-run and its anti-join skips the rows the
    other wrote. ``created_at`` is stamped inside the unit, so a re-run after a recalibration job committed
    is stamped after that job's watermark and is still seen by the next job.
    """
    if outcomes.empty:
        return 0
    vi = outcomes["spec_index"].to_numpy()
    rows = pd.DataFrame({
        "outcome_id": [_key(versions[i].spec_hash, s, o, MODE) for i, s, o in
                       zip(vi, outcomes["study"], outcomes["order_seed"], strict=True)],
        "rule": [versions[i].rule for i in vi], "version": [versions[i].version for i in vi],
        "spec_hash": [versions[i].spec_hash for i in vi], "study": outcomes["study"].astype(str),
        "task": outcomes["task"].astype(str), "order_seed": outcomes["order_seed"].astype("int64"), "mode": MODE,
        **{k: outcomes[k] for k in OUTCOME_FIELDS},
        "lib_versions": json.dumps(lib_versions(), sort_keys=True),
    })
    rows["killed_best"] = rows["killed_best"].astype(bool)
    res = _resource_rows(rows, outcomes)
    cols = ", ".join(rows.columns)
    dec = _decision_rows(decisions, versions) if decisions is not None and not decisions.empty else None

    def unit(s: PolicyStore) -> int:
        s.fence()
        now = utcnow()
        before = s.scalar("SELECT count(*) FROM outcomes")
        s.execute(
            f"INSERT INTO outcomes ({cols}, created_at) SELECT {cols}, ? FROM _new_outcomes n "  # noqa: S608 - constant columns
            "WHERE NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.outcome_id = n.outcome_id) "
            "QUALIFY row_number() OVER (PARTITION BY n.outcome_id) = 1", [now])
        if dec is not None:
            s.execute(
                f"INSERT INTO decisions ({', '.join(dec.columns)}, decided_at) "  # noqa: S608 - constant columns
                f"SELECT {', '.join(dec.columns)}, ? FROM _new_decisions n "
                "WHERE NOT EXISTS (SELECT 1 FROM decisions o WHERE o.decision_id = n.decision_id) "
                "QUALIFY row_number() OVER (PARTITION BY n.decision_id) = 1", [now])
        if res is not None:
            s.execute(
                f"INSERT INTO outcome_resources ({', '.join(res.columns)}) "  # noqa: S608 - constant columns
                f"SELECT {', '.join(res.columns)} FROM _new_resources n "
                "WHERE NOT EXISTS (SELECT 1 FROM outcome_resources o WHERE o.outcome_id = n.outcome_id) "
                "QUALIFY row_number() OVER (PARTITION BY n.outcome_id) = 1")
        return int(s.scalar("SELECT count(*) FROM outcomes") - before)

    store.register("_new_outcomes", rows)
    if res is not None:
        store.register("_new_resources", res)
    if dec is not None:
        store.register("_new_decisions", dec)
    try:
        return store.run_atomic(unit)
    finally:
        store.unregister("_new_outcomes")
        if res is not None:
            store.unregister("_new_resources")
        if dec is not None:
            store.unregister("_new_decisions")


def _resource_rows(rows: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame | None:
    """``outcome_resources`` rows of the outcomes that measured memory or ran under a budget (None: none did)."""
    if not set(RESOURCE_FIELDS) <= set(outcomes.columns):
        return None
    res = pd.DataFrame({"outcome_id": rows["outcome_id"].to_numpy(), "study": rows["study"].to_numpy(),
                        "peak_memory_mb": outcomes["peak_memory_mb"].astype(float).to_numpy(),
                        "trials_capped": outcomes["trials_capped"].astype("int64").to_numpy(),
                        "budget_stopped_at": outcomes["budget_stopped_at"].astype("Int64").to_numpy()})
    keep = res["peak_memory_mb"].notna() | (res["trials_capped"] > 0) | res["budget_stopped_at"].notna()
    return res[keep.to_numpy()] if keep.any() else None


def _decision_rows(d: pd.DataFrame, versions: Sequence[RuleVersion]) -> pd.DataFrame:
    vi = d["spec_index"].to_numpy()
    return pd.DataFrame({
        "decision_id": [_key(versions[i].spec_hash, s, o, t, MODE) for i, s, o, t in
                        zip(vi, d["study"], d["order_seed"], d["trial"], strict=True)],
        "study": d["study"].astype(str), "trial": d["trial"].astype(str),
        "trial_number": d["trial_number"].astype("int64"), "step": d["step"].astype("int64"),
        "value": d["value"].astype(float), "threshold": d["threshold"].astype(float),
        "ref_size": d["ref_size"].astype("int64"), "verdict": d["verdict"].astype(str),
        "reason": d["reason"].astype(str), "rule": [versions[i].rule for i in vi],
        "version": [versions[i].version for i in vi], "spec_hash": [versions[i].spec_hash for i in vi],
        "mode": MODE, "order_seed": d["order_seed"].astype("int64"),
    })


def summarize(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Mean outcomes per (rule, version, task), then one ``task = "(all)"`` row per rule version.

    With resources measured: ``compute_hours`` (mean compute spent per replay, in hours; NaN without
    costs) and ``peak_memory_mb`` (the most memory any replay let run).
    """
    if outcomes.empty:
        return pd.DataFrame()
    agg = {"studies": ("study", "nunique"), "replays": ("study", "size"),
           "compute_saved": ("compute_saved", "mean"), "regret": ("regret", "mean"),
           "killed_best_rate": ("killed_best", "mean"), "false_prune_rate": ("false_prune_rate", "mean"),
           "trials_pruned": ("trials_pruned", "mean")}
    if "peak_memory_mb" in outcomes.columns:
        outcomes = outcomes.assign(compute_hours=outcomes["cost_spent"] / 3600)
        agg |= {"compute_hours": ("compute_hours", "mean"), "peak_memory_mb": ("peak_memory_mb", "max")}
    keys = [k for k in ("rule", "version") if k in outcomes.columns]
    per = outcomes.groupby([*keys, "task"], sort=True).agg(**agg).reset_index()
    allrows = outcomes.groupby(keys, sort=True).agg(**agg).reset_index() if keys else \
        outcomes.agg(**agg).T.reset_index(drop=True)
    allrows["task"] = "(all)"
    return pd.concat([per, allrows], ignore_index=True)[[*keys, "task", *agg]]


@dataclass
class Evaluation:
    """What :func:`evaluate` did: the outcome rows, their summary and how many rows were new."""

    outcomes: pd.DataFrame
    summary: pd.DataFrame
    inserted: int


def evaluate(store: PolicyStore, rules: str | RuleVersion | Sequence[str | RuleVersion], *,
             tasks: Sequence[str] | None = None, studies: Sequence[str] | None = None, orders: int = 5,
             n_jobs: int = 1, record_decisions: bool = False, progress: bool = False,
             write: bool = True) -> Evaluation:
    """Replay rule versions on recorded studies and record their outcomes.

    Parameters
    ----------
    store:
        An open store.
    rules:
        ``"name"``, ``"name@N"`` or :class:`RuleVersion` (or a list of them).
    tasks, studies:
        Restrict to these tasks / studies (default: every study in the store).
    orders:
        Number of trial orders per study: seeds ``0..orders-1`` (0 = recorded order).
    n_jobs:
        joblib workers across studies.
    record_decisions:
        Also write one ``decisions`` row per trial and replay (mode ``replay``).
    progress:
        Show a progress bar.
    write:
        Record outcomes (False: only compute them).

    Raises
    ------
    NotFoundError
        Unknown rule, version, task or study.
    DirectionMismatchError
        A spec declares the other direction than one of the studies (nothing is written).
    """
    if not 1 <= orders <= MAX_ORDERS:
        raise InvalidInputError(f"orders must be between 1 and {MAX_ORDERS:,}, got {orders}", field="orders")
    items = [rules] if isinstance(rules, str | RuleVersion) else list(rules)
    versions = [r if isinstance(r, RuleVersion) else get_rule_version(store, r) for r in items]
    curves = load_curves(store, studies=studies, tasks=tasks)
    specs = [v.spec for v in versions]
    out, dec = replay_outcomes(curves, specs, list(range(orders)), n_jobs=n_jobs, progress=progress,
                               with_decisions=record_decisions)
    if out.empty:
        return Evaluation(out, pd.DataFrame(), 0)
    out.insert(0, "rule", [versions[i].rule for i in out["spec_index"]])
    out.insert(1, "version", [versions[i].version for i in out["spec_index"]])
    inserted = write_outcomes(store, out, versions, dec) if write else 0
    return Evaluation(out.drop(columns=["spec_index"]), summarize(out), inserted)
