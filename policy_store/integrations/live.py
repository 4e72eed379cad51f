"""End of a live study: its curves, its decisions and its live outcome, in one transaction.

A live study only shows each pruned trial up to the step it was pruned at, so
its outcome is measured where it can be and estimated where it cannot:

- ``compute_saved`` = 1 - spent / full, where *spent* is what actually ran
  (cost seconds when every point has one, else reported steps) and *full*
  extrapolates each pruned trial at its own per-step cost to the longest
  COMPLETE trial's number of steps.
- ``regret``, ``killed_best``, ``false_prune_rate`` are estimated from the audit
  trials (``audit_fraction``): over the trials that ran to the end, the audited
  trials the rule wanted to prune (shadow prunes) are treated as pruned and the
  replay's own outcome function (:func:`policy_store.replay.outcome_arrays`)
  measures them. Without audit trials (or without a shadow prune, for the
  false-prune rates) there is no unbiased estimate and they are left empty.

Re-ingesting the finished study (``replace=True``) keeps its live decisions:
they are what happened, not something derived from the curves.

>>> import numpy as np
>>> from policy_store.curves import StudyCurves
>>> from policy_store.rules import RuleSpec
>>> c = StudyCurves.from_arrays("s", [[1.0, 0.9, 0.8], [1.5, 0.0, 0.0], [0.7, 0.6, 0.5]],
...                             present=[[1, 1, 1], [1, 0, 0], [1, 1, 1]])
>>> spec = RuleSpec.parse({"strategy": "median", "safeguards": {"audit_fraction": 0.5}})
>>> o = live_outcome(c, spec, np.array([True, False, True]), {1: 0}, {0: 1})
>>> round(o["compute_saved"], 3), o["trials_pruned"], o["regret"], o["false_prune_rate"]
(0.222, 1, 0.0, 0.0)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from policy_store.curves import StudyCurves, load_study_curves
from policy_store.errors import InvalidInputError, NotFoundError
from policy_store.integrations.spool import MODE, AbsorbReport, absorb_spool, remove_absorbed
from policy_store.replay.engine import Replay
from policy_store.replay.evaluate import lib_versions
from policy_store.replay.outcomes import RESOURCE_FIELDS, outcome_arrays
from policy_store.rules.spec import RuleSpec
from policy_store.rules.versions import RuleVersion, get_rule_version
from policy_store.store import PolicyStore, utcnow


def live_outcome(curves: StudyCurves, spec: RuleSpec, complete: np.ndarray, pruned_at: dict[int, int],
                 shadow_at: dict[int, int]) -> dict[str, Any]:
    """The live outcome of one study (see the module docstring).

    Parameters
    ----------
    curves:
        The study's recorded curves (pruned trials end where they were pruned).
    spec:
        The applied spec.
    complete:
        Per trial (curve row): did it end COMPLETE.
    pruned_at, shadow_at:
        Curve row -> column of ``curves.steps`` where the rule pruned it / where it
        shadow-pruned an audited trial.
    """
    present = curves.present
    unit = np.where(present, curves.cost, 0.0) if curves.cost_known else present.astype(float)
    spent_i = unit.sum(1)
    n_i = present.sum(1)
    longest = int(n_i[complete].max()) if complete.any() else int(n_i.max())
    pruned = np.zeros(curves.n_trials, dtype=bool)
    pruned[list(pruned_at)] = True
    full_i = np.where(pruned, spent_i / np.maximum(n_i, 1) * np.maximum(longest, n_i), spent_i)
    spent, full = float(spent_i.sum()), float(full_i.sum())
    out: dict[str, Any] = {
        "compute_saved": 1.0 - spent / full if full > 0 else 0.0, "regret": None, "killed_best": None,
        "false_prune_rate": None, "audit_false_prune_rate": None, "trials_pruned": int(pruned.sum()),
        "n_trials": curves.n_trials, "steps_run": int(n_i.sum()),
        "cost_spent": spent if curves.cost_known else None, "cost_full": full if curves.cost_known else None,
    }
    rows = np.flatnonzero(complete)
    if spec.audit_fraction > 0 and len(rows):
        sub = StudyCurves(curves.study, curves.task, curves.direction, curves.trials[rows],
                          curves.trial_numbers[rows], curves.steps, curves.values[rows], present[rows],
                          curves.cost[rows])
        col = np.array([shadow_at.get(int(r), -1) for r in rows], dtype=np.int64)
        k = len(rows)
        replay = Replay(spec, sub, 0, np.arange(k), col, np.zeros(k, dtype=bool), np.full(k, np.nan),
                        np.zeros(k, dtype=np.int64))
        o = outcome_arrays(sub, [replay])
        regret = float(o["regret"][0])
        out["regret"] = None if math.isnan(regret) else regret
        out["killed_best"] = bool(o["killed_best"][0])
        if (col >= 0).any():
            out["false_prune_rate"] = out["audit_false_prune_rate"] = float(o["false_prune_rate"][0])
    return out


def outcome_id(spec_hash: str, study: str) -> str:
    """The outcome key of a live study (the replay's key with no trial order, mode ``live``)."""
    return hashlib.sha256(f"{spec_hash}|{study}|None|{MODE}".encode()).hexdigest()


def record_live_study(store: PolicyStore, study: Any, version: RuleVersion, spool_dir: str | None, *,
                      task: str | None = None, spec_hashes: Sequence[str] | None = None) -> dict[str, Any]:
    """Absorb the spool, (re)record the study's curves and write its live outcome, atomically.

    Parameters
    ----------
    store:
        The store, open for writing.
    study:
        The ``optuna.Study``.
    version:
        The rule version the study ran with.
    spool_dir:
        The spool directory of the study's workers (None: already absorbed).
    task:
        Task name (default: the study name, as for ``ingest_optuna``).
    spec_hashes:
        Every spec that decided in the study (an adaptive study switches rule);
        default ``version``'s. The outcome is recorded under ``version``, the one
        the study started with.

    Returns
    -------
    dict
        The outcome row (plus ``decisions_absorbed``).
    """
    from policy_store.ingest.optuna_source import ingest_optuna

    return record_live_run(store, study.study_name, lambda s: ingest_optuna(s, study, task=task, replace=True),
                           version, spool_dir, spec_hashes=spec_hashes)


def record_live_run(store: PolicyStore, name: str, ingest: Callable[[PolicyStore], Any], version: RuleVersion,
                    spool_dir: str | None, *, spec_hashes: Sequence[str] | None = None) -> dict[str, Any]:
    """:func:`record_live_study` for any framework: ``ingest(store)`` (re)records study ``name``'s curves.

    ``ingest`` runs inside the transaction, after the spool is absorbed, and must
    replace the study (``replace=True``), which keeps its live decisions; the
    trials table's ``state`` tells which trials were PRUNED.
    """

    def unit(store: PolicyStore) -> tuple[AbsorbReport, dict[str, Any]]:
        store.fence()
        absorbed = absorb_spool(store, spool_dir, remove=False) if spool_dir is not None else AbsorbReport()
        ingest(store)  # keeps the study's live decisions
        curves = load_study_curves(store, name)
        trials = store.fetch_df("SELECT trial_number, state FROM trials WHERE study = ?", [name])
        state = dict(zip(trials["trial_number"], trials["state"], strict=True))
        row_of = {int(n): i for i, n in enumerate(curves.trial_numbers)}
        dec = store.fetch_df(
            "SELECT trial_number, step, verdict, reason FROM decisions WHERE study = ? AND mode = ? "
            "AND list_contains(?, spec_hash) AND (verdict = 'prune' OR starts_with(reason, 'audit: would prune')) "
            "ORDER BY decided_at, step", [name, MODE, list(spec_hashes or [version.spec_hash])])
        pruned_at: dict[int, int] = {}
        shadow_at: dict[int, int] = {}
        for d in dec.itertuples(index=False):
            r = row_of.get(int(d.trial_number))
            # A "prune" the objective ignored (the trial ran on) saved nothing.
            if r is None or (d.verdict == "prune" and state.get(int(d.trial_number)) != "PRUNED"):
                continue
            col = int(np.searchsorted(curves.steps, d.step))
            (pruned_at if d.verdict == "prune" else shadow_at).setdefault(r, col)
        complete = np.array([state.get(int(n)) == "COMPLETE" for n in curves.trial_numbers])
        out = live_outcome(curves, version.spec, complete, pruned_at, shadow_at)
        row = {"outcome_id": outcome_id(version.spec_hash, name), "rule": version.rule, "version": version.version,
               "spec_hash": version.spec_hash, "study": name, "task": curves.task, "order_seed": None,
               "mode": MODE, **out, "lib_versions": json.dumps(lib_versions(), sort_keys=True),
               "created_at": utcnow()}
        store.execute("DELETE FROM outcomes WHERE outcome_id = ?", [row["outcome_id"]])
        cols = list(row)
        store.execute(f"INSERT INTO outcomes ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",  # noqa: S608
                      [row[c] for c in cols])
        resources = _live_resources(store, name, curves, list(spec_hashes or [version.spec_hash]))
        store.execute("DELETE FROM outcome_resources WHERE outcome_id = ?", [row["outcome_id"]])
        store.execute("INSERT INTO outcome_resources (outcome_id, study, peak_memory_mb, trials_capped, "
                      "budget_stopped_at) VALUES (?, ?, ?, ?, ?)",
                      [row["outcome_id"], name, *(resources[k] for k in RESOURCE_FIELDS)])
        return absorbed, {**row, **resources}

    absorbed, row = store.run_atomic(unit)
    remove_absorbed(absorbed)
    return {**row, "decisions_absorbed": absorbed.inserted}


def _live_resources(store: PolicyStore, name: str, curves: StudyCurves, hashes: list[str]) -> dict[str, Any]:
    """Peak memory of what ran, and what the budget decided, from the live decisions' reasons."""
    peak = float(np.nanmax(curves.memory)) if not np.isnan(curves.memory).all() else None
    capped, stopped = store.execute(
        "SELECT count(DISTINCT trial_number) FILTER (WHERE verdict = 'prune' "
        "AND starts_with(reason, 'budget: trial_')), "
        "max(trial_number) FILTER (WHERE contains(reason, 'budget: study_budget_seconds')) + 1 "
        "FROM decisions WHERE study = ? AND mode = ? AND list_contains(?, spec_hash)", [name, MODE, hashes]
    ).fetchone()
    return {"peak_memory_mb": peak, "trials_capped": int(capped), "budget_stopped_at": stopped}


def study_version(store: PolicyStore, study: str) -> RuleVersion:
    """The one rule version whose live decisions a study holds.

    Raises
    ------
    NotFoundError
        The study has no live decision.
    InvalidInputError
        It has decisions of several versions (name the one to measure).
    """
    rows = store.fetch_dicts("SELECT DISTINCT rule, version FROM decisions WHERE study = ? AND mode = ? "
                             "ORDER BY rule, version", [study, MODE])
    if not rows:
        raise NotFoundError(f"no live decision recorded for study {study!r}; absorb its spool first")
    if len({r["rule"] for r in rows}) > 1:
        refs = ", ".join(f"{r['rule']}@{r['version']}" for r in rows)
        raise InvalidInputError(f"study {study!r} ran with several rules ({refs}); name one", field="rule")
    # versions of one rule: an adaptive study that switched; it is measured under the version it started with
    return get_rule_version(store, rows[0]["rule"], rows[0]["version"])


def record_live_storage(store: PolicyStore, storage: str, study_name: str, *, spool_dir: str | None = None,
                        rule: str | None = None, task: str | None = None) -> dict[str, Any]:
    """:func:`record_live_study` for a study in an Optuna storage URL, after its workers are done.

    Absorbs ``spool_dir`` first (if given); the rule version is ``rule`` or the
    one the study's live decisions name (:func:`study_version`).
    """
    from policy_store.ingest.optuna_source import load_optuna_studies

    (study,) = load_optuna_studies(storage, study_name)
    absorbed = absorb_spool(store, spool_dir) if spool_dir is not None else AbsorbReport()
    version = get_rule_version(store, rule) if rule else study_version(store, study_name)
    hashes = [r["spec_hash"] for r in store.fetch_dicts(
        "SELECT DISTINCT spec_hash FROM decisions WHERE study = ? AND mode = ? AND rule = ?",
        [study_name, MODE, version.rule])] if not rule else None
    return {**record_live_study(store, study, version, None, task=task, spec_hashes=hashes),
            "decisions_absorbed": absorbed.inserted}
