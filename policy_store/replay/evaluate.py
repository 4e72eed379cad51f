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

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

from policy_store.binding import pandas_unimported
from policy_store.curves import StudyCurves, load_curves
from policy_store.errors import InvalidInputError
from policy_store.grouped import group_means
from policy_store.replay.engine import replay_many
from policy_store.replay.outcomes import OUTCOME_FIELDS, RESOURCE_FIELDS, outcome_arrays
from policy_store.rules.spec import RuleSpec
from policy_store.rules.versions import RuleVersion, get_rule_version
from policy_store.store import PolicyStore, utcnow

if TYPE_CHECKING:
    import pandas as pd

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
           with_decisions: bool) -> tuple[dict[str, np.ndarray], pd.DataFrame | None]:
    parts, decisions = [], []
    for c, replays in zip(curves, replay_many(curves, specs, order_seeds), strict=True):
        o = outcome_arrays(c, replays)
        o["spec_index"] = np.repeat(np.arange(len(specs)), len(order_seeds))
        o["order_seed"] = np.tile(np.asarray(order_seeds, dtype=np.int64), len(specs))
        o["study"] = np.full(len(replays), c.study, dtype=object)
        o["task"] = np.full(len(replays), c.task, dtype=object)
        parts.append(o)
        if with_decisions:
            for r, si in zip(replays, o["spec_index"], strict=True):
                d = r.decisions()
                d["spec_index"], d["order_seed"], d["study"] = si, r.order_seed, c.study
                decisions.append(d)
    dec = None
    if decisions:
        import pandas as pd

        dec = pd.concat(decisions, ignore_index=True)
    return _concat(parts), dec


def _concat(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Columns of several column tables, one after the other ({} for none)."""
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}


def outcome_columns(curves: Sequence[StudyCurves], specs: Sequence[RuleSpec], order_seeds: Sequence[int] = (0,),
                    *, n_jobs: int = 1, chunk_size: int = 64, progress: bool = False,
                    with_decisions: bool = False) -> tuple[dict[str, np.ndarray], pd.DataFrame | None]:
    """:func:`replay_outcomes` as numpy columns (name -> one entry per outcome row; {} without studies).

    The outcome rows without pandas: a command that only records and summarises them
    never imports it (the decisions, when asked for, are a DataFrame).
    """
    for c in curves:
        for s in specs:
            s.check_direction(c.direction, f"study {c.study!r}")
    chunks = [curves[k:k + chunk_size] for k in range(0, len(curves), chunk_size)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(curves), desc="replay", unit="study")
    results = []
    if n_jobs == 1 or len(chunks) <= 1:
        for ch in chunks:
            results.append(_chunk(ch, specs, order_seeds, with_decisions))
            if bar is not None:
                bar.update(len(ch))
    else:
        from joblib import Parallel, delayed

        gen = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_chunk)(ch, specs, order_seeds, with_decisions) for ch in chunks)
        for ch, res in zip(chunks, gen, strict=True):
            results.append(res)
            if bar is not None:
                bar.update(len(ch))
    if bar is not None:
        bar.close()
    dec = [r[1] for r in results if r[1] is not None]
    if dec:
        import pandas as pd

        return _concat([r[0] for r in results]), pd.concat(dec, ignore_index=True)
    return _concat([r[0] for r in results]), None


def replay_outcomes(curves: Sequence[StudyCurves], specs: Sequence[RuleSpec], order_seeds: Sequence[int] = (0,),
                    *, n_jobs: int = 1, chunk_size: int = 64, progress: bool = False,
                    with_decisions: bool = False) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Replay every spec x study x order; one outcome row each (plus per-trial decisions if asked).

    Directions are checked for every (spec, study) pair before any replay runs.
    """
    import pandas as pd

    columns, dec = outcome_columns(curves, specs, order_seeds, n_jobs=n_jobs, chunk_size=chunk_size,
                                   progress=progress, with_decisions=with_decisions)
    return pd.DataFrame(columns), dec


def _key(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def write_outcomes(store: PolicyStore, outcomes: pd.DataFrame | Mapping[str, np.ndarray],
                   versions: Sequence[RuleVersion], decisions: pd.DataFrame | None = None) -> int:
    """Insert outcome rows (and decisions) not yet in the store, by id; returns how many outcomes were new.

    ``outcomes`` is a frame of :func:`replay_outcomes` or the columns of :func:`outcome_columns`.
    One fenced unit of work (:meth:`PolicyStore.run_atomic`): two hosts writing the same outcomes at once
    on a DuckLake cannot both insert them; the later commit is re-run and its anti-join skips the rows the
    other wrote. ``created_at`` is stamped inside the unit, so a re-run after a recalibration job committed
    is stamped after that job's watermark and is still seen by the next job.
    """
    cols = {str(k): np.asarray(outcomes[k]) for k in outcomes}  # a DataFrame iterates over its column names
    if len(cols.get("study", ())) == 0:
        return 0
    vi = cols["spec_index"].astype(np.int64)
    n = len(vi)
    rows = {
        "outcome_id": np.array([_key(versions[i].spec_hash, s, o, MODE) for i, s, o in
                                zip(vi, cols["study"], cols["order_seed"], strict=True)], dtype=object),
        "rule": np.array([versions[i].rule for i in vi], dtype=object),
        "version": np.array([versions[i].version for i in vi], dtype=np.int64),
        "spec_hash": np.array([versions[i].spec_hash for i in vi], dtype=object),
        "study": cols["study"].astype(str).astype(object), "task": cols["task"].astype(str).astype(object),
        "order_seed": cols["order_seed"].astype(np.int64), "mode": np.full(n, MODE, dtype=object),
        **{k: cols[k] for k in OUTCOME_FIELDS},
        "lib_versions": np.full(n, json.dumps(lib_versions(), sort_keys=True), dtype=object),
    }
    rows["killed_best"] = rows["killed_best"].astype(bool)
    res = _resource_rows(rows, cols)
    names = ", ".join(rows)
    dec = _decision_rows(decisions, versions) if decisions is not None and not decisions.empty else None

    def unit(s: PolicyStore) -> int:
        s.fence()
        now = utcnow()
        before = s.scalar("SELECT count(*) FROM outcomes")
        s.execute(
            f"INSERT INTO outcomes ({names}, created_at) SELECT {names}, ? FROM _new_outcomes n "  # noqa: S608 - constant columns
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
                f"INSERT INTO outcome_resources ({', '.join(res)}) "  # noqa: S608 - constant columns
                f"SELECT {', '.join(res)} FROM _new_resources n "
                "WHERE NOT EXISTS (SELECT 1 FROM outcome_resources o WHERE o.outcome_id = n.outcome_id) "
                "QUALIFY row_number() OVER (PARTITION BY n.outcome_id) = 1")
        return int(s.scalar("SELECT count(*) FROM outcomes") - before)

    # DuckDB's client scans the numpy columns after asking whether they hold pandas objects, importing
    # pandas to ask (policy_store.binding): without pandas imported they cannot, so it is not imported
    with pandas_unimported():
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


def _resource_rows(rows: Mapping[str, np.ndarray], cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """``outcome_resources`` rows of the outcomes that measured memory or ran under a budget (None: none did)."""
    if not set(RESOURCE_FIELDS) <= set(cols):
        return None
    peak = cols["peak_memory_mb"].astype(float)
    capped = cols["trials_capped"].astype(np.int64)
    stopped = cols["budget_stopped_at"].astype(float)  # NaN (never stopped) is bound as NULL
    keep = ~np.isnan(peak) | (capped > 0) | ~np.isnan(stopped)
    if not keep.any():
        return None
    return {"outcome_id": rows["outcome_id"][keep], "study": rows["study"][keep], "peak_memory_mb": peak[keep],
            "trials_capped": capped[keep], "budget_stopped_at": stopped[keep]}


def _decision_rows(d: pd.DataFrame, versions: Sequence[RuleVersion]) -> pd.DataFrame:
    import pandas as pd

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


_MEANS = (("compute_saved", "compute_saved"), ("regret", "regret"), ("killed_best_rate", "killed_best"),
          ("false_prune_rate", "false_prune_rate"), ("trials_pruned", "trials_pruned"))


def summary_rows(outcomes: pd.DataFrame | Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """:func:`summarize` as plain records (one dict per row), computed with numpy alone."""
    cols = {str(k): np.asarray(outcomes[k]) for k in outcomes}
    if len(cols.get("study", ())) == 0:
        return []
    keys = [k for k in ("rule", "version") if k in cols]
    resources = "peak_memory_mb" in cols
    values = {name: cols[col].astype(float) for name, col in _MEANS}
    if resources:
        values["compute_hours"] = cols["cost_spent"].astype(float) / 3600
    per = _group_means([cols[k] for k in (*keys, "task")], cols["study"], values, cols, resources)
    whole = _group_means([cols[k] for k in keys], cols["study"], values, cols, resources)
    names = [*keys, "task", "studies", "replays", *(name for name, _ in _MEANS),
             *(("compute_hours", "peak_memory_mb") if resources else ())]
    out = [dict(zip(names, (*labels, *measures), strict=True)) for labels, measures in per]
    out += [dict(zip(names, (*labels, "(all)", *measures), strict=True)) for labels, measures in whole]
    return out


def _group_means(by: Sequence[np.ndarray], study: np.ndarray, values: Mapping[str, np.ndarray],
                 cols: Mapping[str, np.ndarray], resources: bool) -> list[tuple[tuple, tuple]]:
    """Per group of equal ``by`` values (sorted): its labels, then studies, replays, the NaN-skipping means
    of ``values`` (in order) and, with ``resources``, the largest peak memory."""
    uniques, codes = zip(*(np.unique(b, return_inverse=True) for b in by), strict=True) if by else ((), ())
    flat = np.ravel_multi_index([c.ravel() for c in codes], [len(u) for u in uniques]) if by else \
        np.zeros(len(study), dtype=np.int64)
    first, group = np.unique(flat, return_inverse=True)
    group = group.ravel()
    size = len(first)
    labels = list(zip(*(u[i] for u, i in zip(uniques, np.unravel_index(first, [len(u) for u in uniques]),
                                              strict=True)), strict=True)) if by else [()]
    study_codes = np.unique(study, return_inverse=True)[1].ravel()
    studies = np.bincount(np.unique(np.stack([group, study_codes]), axis=1)[0], minlength=size)
    replays = np.bincount(group, minlength=size)
    columns: list[np.ndarray] = [studies, replays]
    columns += [group_means(group, x, size) for x in values.values()]
    if resources:
        peak = np.full(size, np.nan)
        np.fmax.at(peak, group, cols["peak_memory_mb"].astype(float))
        columns.append(peak)
    measures = list(zip(*(c.tolist() for c in columns), strict=True))
    return [(tuple(v.item() if isinstance(v, np.generic) else v for v in lab), m)
            for lab, m in zip(labels, measures, strict=True)]


def summarize(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Mean outcomes per (rule, version, task), then one ``task = "(all)"`` row per rule version.

    With resources measured: ``compute_hours`` (mean compute spent per replay, in hours; NaN without
    costs) and ``peak_memory_mb`` (the most memory any replay let run).
    """
    import pandas as pd

    return pd.DataFrame(summary_rows(outcomes))


class Evaluation:
    """What :func:`evaluate` did: the outcome rows, their summary and how many rows were new.

    Returned by :func:`evaluate`, not built by callers: the constructor, ``(columns, inserted)``, is its own
    and may change (it was a dataclass of ``(outcomes, summary, inserted)`` before the outcomes became numpy
    columns; nothing public built one). Read :attr:`outcomes`, :attr:`summary`, :attr:`inserted`,
    :attr:`n_outcomes`, :attr:`columns` or :meth:`summary_rows`.

    The outcomes are kept as numpy columns; :attr:`outcomes` and :attr:`summary` are pandas
    frames made when first asked for (:attr:`columns` and :meth:`summary_rows` need no pandas).

    >>> import pandas as pd
    >>> from policy_store import PolicyStore
    >>> from policy_store.ingest import ingest_frame
    >>> from policy_store.rules import add_rule_version
    >>> with PolicyStore.memory() as store:
    ...     _ = ingest_frame(store, pd.DataFrame({"task": "t", "study": "s", "trial": [0, 0, 1, 1],
    ...                                           "step": [0, 1] * 2, "value": [1.0, 0.9, 1.2, 1.1]}))
    ...     _ = add_rule_version(store, "m", {"strategy": "median"}, created_by="doc")
    ...     ev = evaluate(store, "m", orders=3)
    >>> ev, ev.summary_rows()[0]["replays"]
    (Evaluation(n_outcomes=3, inserted=3), 3)
    """

    def __init__(self, columns: Mapping[str, np.ndarray], inserted: int) -> None:
        self.columns = {k: v for k, v in columns.items() if k != "spec_index"}
        self.inserted = inserted

    def __repr__(self) -> str:
        return f"Evaluation(n_outcomes={self.n_outcomes}, inserted={self.inserted})"

    @property
    def n_outcomes(self) -> int:
        """Number of outcome rows (one per rule version, study and order)."""
        return len(self.columns.get("study", ()))

    def summary_rows(self) -> list[dict[str, Any]]:
        """The summary as plain records (see :func:`summary_rows`)."""
        return summary_rows(self.columns)

    @functools.cached_property
    def outcomes(self) -> pd.DataFrame:
        """One row per replay: rule, version, the outcome fields, order_seed, study, task."""
        import pandas as pd

        return pd.DataFrame(self.columns)

    @functools.cached_property
    def summary(self) -> pd.DataFrame:
        """:func:`summarize` of the outcomes."""
        import pandas as pd

        return pd.DataFrame(self.summary_rows())


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
    out, dec = outcome_columns(curves, specs, list(range(orders)), n_jobs=n_jobs, progress=progress,
                               with_decisions=record_decisions)
    if len(out.get("study", ())) == 0:
        return Evaluation({}, 0)
    vi = out["spec_index"]
    out = {"rule": np.array([versions[i].rule for i in vi], dtype=object),
           "version": np.array([versions[i].version for i in vi], dtype=np.int64), **out}
    inserted = write_outcomes(store, out, versions, dec) if write else 0
    return Evaluation(out, inserted)
