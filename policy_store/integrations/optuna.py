"""``StorePruner``: a stored rule version applied live in Optuna, with an audit trail of every decision.

Decisions
---------
Every ``should_prune`` is decided by the rule's live decider
(:mod:`policy_store.integrations.deciders`): it reads what the strategy needs
from a thin view of the study that reads each trial list once per call, and
calls the strategy's one decision function -- the same one the replay kernels
run (:mod:`policy_store.rules.strategies`) -- which gives the verdict and the
numbers of its reason (threshold, reference-set size) together, even while
other workers finish trials. A study pruned by ``StorePruner`` makes the
decisions of the rule's plain Optuna pruner (``RuleSpec.to_optuna()``); the
parity tests check it.

Adapting inside the study
-------------------------
With ``recommend=True`` the pruner starts from the meta-learned rule and adapts
(:mod:`policy_store.meta.adaptation.selector`): ``should_prune`` counts the study's
ended trials (one read of the trial list) and, when one more ended, has a child
process re-score the grid on them (pruned ones continued by the forecaster) and
blend the result with the meta-learned prior, off the study's GIL
(:mod:`policy_store.integrations.adaptation`); each decision's reason carries the
adaptation's state ("no evidence yet" and why, until there is some).
A switch it decides takes effect at the next ``should_prune``: the new rule's
decider decides from then on; a pruned trial is never asked again, so
nothing already pruned is revived. The switch (from -> to, the evidence, the
completed-trial count, the first trial it decided) is spooled with the
decisions; absorbing it makes the new spec a version of the same rule (source
``meta-learner``, the switch as its reason) and gives the decisions it made
that version number, so ``policy-store explain`` names the version that decided
each trial and why the study switched to it. Adaptation is per process (each
worker re-scores on the study it reads); ``adapt={"background": False}``
re-scores inside ``should_prune`` (deterministic, slow calls at completions),
and ``adapt=False`` keeps the recommended rule for the whole study.

Many workers
------------
DuckDB allows one writing process per file, so ``should_prune`` never touches
the store. The rule version is resolved once, when the pruner is built (a short
read-only open, retried with backoff while another process holds the write
lock); the pruner is picklable and may be built once and shipped to workers.
Each decision is then appended as one JSON line to this process's own spool file
(:mod:`policy_store.integrations.spool`): one ``os.write``, a few microseconds.
The store takes the spooled decisions in one idempotent transaction when
:meth:`StorePruner.finish` runs, or with ``policy-store absorb SPOOL_DIR``.

Failure modes (details in :mod:`policy_store.integrations.spool`):

- a worker killed by SIGKILL loses at most the decision it was writing; every
  earlier one is in its spool file and lands at the next absorb;
- absorbing twice (or after a crash between commit and cleanup) adds nothing:
  decision ids are derived from (study, trial number, trial start, call index,
  spec hash);
- the store locked by another writer when the rule is resolved or when
  ``finish`` runs: bounded retry (``timeout``), then :class:`StoreError`;
- a rule made for the other direction than the study's raises
  :class:`DirectionMismatchError` at the first ``should_prune``;
- a decision that cannot be spooled (disk full) raises :class:`StoreError` in the
  objective: the trial fails rather than running on without its audit trail;
- state kept by a decider (successive halving's ``min_resource="auto"``,
  Hyperband's brackets, the audit wrapper's shadow prunes) is per process,
  exactly as with the plain Optuna pruner; rung values are written to the
  study's storage (``completed_rung_{r}``), as Optuna does, so every worker
  sees them.

Examples
--------
>>> import optuna, tempfile
>>> from policy_store import PolicyStore
>>> from policy_store.rules import add_rule_version
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> path = tempfile.mkdtemp() + "/store.duckdb"
>>> with PolicyStore(path) as store:
...     _ = add_rule_version(store, "median", {"strategy": "median", "params": {"n_startup_trials": 2}},
...                          created_by="doc")
>>> pruner = StorePruner(path, task="toy", rule="median@1")
>>> study = optuna.create_study(study_name="toy-1", pruner=pruner, sampler=optuna.samplers.RandomSampler(0))
>>> def objective(trial):
...     x = trial.suggest_float("x", 0, 1)
...     for step in range(4):
...         trial.report(x + 1 / (step + 1), step)
...         if trial.should_prune():
...             raise optuna.TrialPruned()
...     return x
>>> study.optimize(objective, n_trials=8)
>>> outcome = pruner.finish(study)
>>> with PolicyStore(path, read_only=True) as store:
...     store.scalar("SELECT count(*) FROM decisions WHERE study = 'toy-1'") == pruner.calls
True
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import tempfile
import threading
import time
from collections import defaultdict
from typing import Any

import optuna
from optuna.pruners import BasePruner

from policy_store.errors import InvalidInputError, StoreError
from policy_store.integrations.budget_guard import LiveBudget
from policy_store.integrations.deciders import Reason, decider_for
from policy_store.integrations.spool import SpoolWriter, decision_id
from policy_store.location import LakeLocation, parse_location
from policy_store.names import check_name
from policy_store.rules.versions import get_rule_version
from policy_store.store import PolicyStore, utcnow


def open_store_retrying(location: str, *, read_only: bool = False, timeout: float = 10.0) -> PolicyStore:
    """Open a store file, retrying with backoff while another process holds its lock.

    Raises :class:`StoreError` after ``timeout`` seconds, or at once for any other error.
    """
    deadline = time.monotonic() + timeout
    wait = 0.01
    while True:
        try:
            return PolicyStore(location, read_only=read_only)
        except StoreError as e:
            if "lock" not in str(e).lower() or time.monotonic() >= deadline:
                raise
        time.sleep(min(wait, max(deadline - time.monotonic(), 0.0)))
        wait = min(wait * 2, 0.5)


class _StudyView:
    """The study as the rule's pruner sees it during one call: each trial list read once.

    ``direction`` and ``best_trial`` are read once too (each is a storage round trip,
    a journal-file sync with ``JournalStorage``). Everything else is the real
    study's. Only ``deepcopy=False`` trial lists are shared (pruners never modify
    them; a deep copy is always fresh).
    """

    def __init__(self, study: optuna.Study) -> None:
        self._study = study
        self._trials: dict[Any, list[optuna.trial.FrozenTrial]] = {}

    @functools.cached_property
    def direction(self) -> optuna.study.StudyDirection:
        return self._study.direction

    @functools.cached_property
    def best_trial(self) -> optuna.trial.FrozenTrial:
        return self._study.best_trial

    def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[optuna.trial.FrozenTrial]:
        if deepcopy:
            return self._study.get_trials(deepcopy=True, states=states)
        key = None if states is None else tuple(states)
        if key not in self._trials:
            self._trials[key] = self._study.get_trials(deepcopy=False, states=states)
        return self._trials[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)


def _study_direction(study: Any, given: dict[str, Any] | None) -> str:
    """``"minimize"`` or ``"maximize"`` of an Optuna study, checked against a direction given alongside it."""

    direction = "minimize" if study.direction == optuna.study.StudyDirection.MINIMIZE else "maximize"
    said = (given or {}).get("direction")
    if said is not None and said != direction:
        raise InvalidInputError(f"recommend_with says direction {said!r}, but study {study.study_name!r} is "
                                f"{direction}d", field="direction")
    return direction


class StorePruner(BasePruner):
    """An Optuna pruner that applies a stored rule version and records every decision.

    Parameters
    ----------
    store:
        A :class:`PolicyStore`, or the path of a store file. With a path the store
        is opened only to resolve the rule (read-only) and in :meth:`finish`.
    task:
        The task the study runs on (recorded with its curves; used by ``recommend``).
    rule:
        ``"name"`` (latest version) or ``"name@N"``.
    recommend:
        Apply the meta-learner's recommendation for ``task`` instead of ``rule``,
        saved as a version of rule ``recommended-<task>``
        (:func:`policy_store.integrations.recommend.recommended_version`; opens the
        store for writing once). Build the pruner once and hand it to the workers.
    recommend_with:
        Extra arguments of :func:`policy_store.meta.recommend`: a ``dataset`` and
        ``target``, ``meta_features``, what is known about the study (``metric``,
        ``metric_kind``, ``family``, ``steps``, ``trials``, ``direction``), ``lam``,
        ``max_regret``, ...
    study:
        With ``recommend=True``: the Optuna study the pruner will serve; its
        direction is read from it (an explicit ``recommend_with["direction"]``
        must agree), e.g. ``study = optuna.create_study(direction="minimize");
        study.pruner = StorePruner(..., recommend=True, study=study)``.
    spool_dir:
        Where this pruner's processes spool decisions; default ``<store path>.spool``
        (a fresh temporary directory for an in-memory store; required for a DuckLake).
    fsync:
        Spool durability: ``"never"``, ``"close"`` (default) or ``"always"``.
    timeout:
        Seconds to keep retrying while another process holds the store's lock.
    adapt:
        With ``recommend=True``: adapt the rule inside the study (default ``True``; see
        the module docstring), or a dict of :class:`~policy_store.meta.adaptation.selector.AdaptiveSelector`
        options (``lam`` -- default ``recommend_with``'s --, ``min_trials``, ``every``, ``margin``,
        ``n_boot``, ``seed``, ``small_study``, ``forecaster`` -- a name of ``load_forecaster`` --,
        ``rank``, ``cooldown``, ``return_margin``, ``gate``, ``order_gate``) plus
        ``background``: ``"process"`` (default),
        ``"thread"`` or ``False``. Another name (the removed ``backtest`` too) raises
        :class:`InvalidInputError` before the store is opened.

    Attributes
    ----------
    version:
        The rule version the study started with.
    spec:
        The spec in force now (differs from ``version.spec`` after a switch).
    switches:
        ``(first trial number decided, Switch)`` for every switch this process made.
    adaptation:
        The :class:`~policy_store.integrations.adaptation.LiveAdaptation` (None without
        ``recommend=True`` or with ``adapt=False``): its ``selector`` holds every re-scoring,
        ``error`` why it stopped, ``wait_idle()`` waits for a running one.
    calls:
        ``should_prune`` calls recorded by this process.
    """

    def __init__(self, store: PolicyStore | str | os.PathLike[str], *, task: str | None = None,
                 rule: str | None = None, recommend: bool = False, recommend_with: dict[str, Any] | None = None,
                 spool_dir: str | os.PathLike[str] | None = None, fsync: str = "close", timeout: float = 10.0,
                 adapt: bool | dict[str, Any] = True, study: Any = None) -> None:
        if (rule is None) == (not recommend):
            raise InvalidInputError("give exactly one of rule='name[@version]' or recommend=True", field="rule")
        if recommend and not task:
            raise InvalidInputError("recommend=True needs the task the study runs on", field="task")
        if recommend and isinstance(adapt, dict):
            from policy_store.integrations.adaptation import check_options

            check_options(adapt)  # refused before the store is written and any worker starts
        if task is not None:
            check_name(task, "task")  # refused now, not after the study ran (file ingest's rule)
        self._store = store if isinstance(store, PolicyStore) else None
        self.location = store.location if isinstance(store, PolicyStore) else os.fspath(store)
        lake = store.is_lake if isinstance(store, PolicyStore) else isinstance(parse_location(self.location),
                                                                                 LakeLocation)
        if lake and spool_dir is None:
            raise InvalidInputError("a DuckLake store needs spool_dir=: a directory the workers of this host "
                                    "write to, absorbed by `policy-store absorb SPOOL_DIR`", field="spool_dir")
        if recommend and study is not None:
            recommend_with = {**(recommend_with or {}), "direction": _study_direction(study, recommend_with)}
        self.task = task
        self.timeout = timeout
        self._prior: Any = None
        self._adapt: dict[str, Any] = {}
        with self.open_store(read_only=not recommend) as s:
            if recommend:
                from policy_store.integrations.recommend import recommended_start

                self.version, prior = recommended_start(s, task, **(recommend_with or {}))
                if adapt:
                    self._adapt = {"lam": float((recommend_with or {}).get("lam", 20.0)),
                                   **(adapt if isinstance(adapt, dict) else {})}
                    self._prior = prior
            else:
                self.version = get_rule_version(s, rule)
        if spool_dir is None:
            spool_dir = (tempfile.mkdtemp(prefix="policy-store-spool-") if self.location == ":memory:"
                         else f"{self.location}.spool")
        self.spool_dir = os.fspath(spool_dir)
        self._writer = SpoolWriter(self.spool_dir, fsync=fsync)
        self._setup()

    def _setup(self) -> None:
        self._calls: dict[tuple[str, int], int] = defaultdict(int)
        self._checked: set[str] = set()
        self._lock = threading.Lock()
        self.calls = 0
        self.switches: list[tuple[int, Any]] = []
        self.spec_hashes = [self.version.spec_hash]
        self._use(self.version.spec, self.version.version)
        self.adaptation: Any = None
        if self._prior is not None:
            from policy_store.integrations.adaptation import LiveAdaptation

            self.adaptation = LiveAdaptation(self._prior, self._adapt)

    def _use(self, spec: Any, version: int | None) -> None:
        self.spec = spec
        self._spec_hash = spec.spec_hash
        self._version_no = version
        self._decider = decider_for(spec)
        self._budget = LiveBudget(spec, getattr(self, "_budget", None))

    def __getstate__(self) -> dict[str, Any]:
        # The store's connection and the decider's per-process state stay behind; so does adaptation's
        # (each process re-scores on the study it reads).
        return {"location": self.location, "task": self.task, "timeout": self.timeout, "version": self.version,
                "spool_dir": self.spool_dir, "_writer": self._writer, "_store": None, "_prior": self._prior,
                "_adapt": self._adapt}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup()

    def open_store(self, *, read_only: bool) -> Any:
        """The store as a context manager: the one given, or the path opened with retries while locked.

        Used to resolve the rule and by :meth:`finish`; ``StoreScheduler`` records its run through it.
        """
        if self._store is not None:
            from contextlib import nullcontext

            return nullcontext(self._store)
        return open_store_retrying(self.location, read_only=read_only, timeout=self.timeout)

    # -- the pruner ---------------------------------------------------------------------
    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        view = _StudyView(study)
        if self.adaptation is not None:
            sw = self.adaptation.poll(view, study.study_name, getattr(self._decider, "shadow_pruned", None))
            if sw is not None:
                self._switch(sw, study.study_name, trial.number)
        verdict, reason = self._budget.decide(study, view, trial, self.decide)  # memory, caps, then the rule
        if self.adaptation is not None:
            reason = self.adaptation.annotate(reason)
        self.record(study.study_name, trial, trial.last_step, verdict, reason)
        return verdict

    def decide(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> tuple[bool, Reason]:
        """The verdict of the spec in force on ``trial``'s last report, with its reason; nothing is recorded.

        The one decision entry point of the live integrations: :meth:`prune` records
        what it returns, and :class:`policy_store.integrations.ray.StoreScheduler`
        calls it on a mirror of the Tune run. It does not adapt the rule (that is
        :meth:`prune`'s). Pass a study (or a view of one) whose trial list is stable
        during the call.
        """
        view = study if isinstance(study, _StudyView) else _StudyView(study)
        spec = self.spec
        minimize = view.direction == optuna.study.StudyDirection.MINIMIZE
        if view.study_name not in self._checked:
            spec.check_direction("minimize" if minimize else "maximize", f"study {view.study_name!r}")
            self._checked.add(view.study_name)
        return self._decider.decide(view, trial, minimize)

    def record(self, study_name: str, trial: optuna.trial.FrozenTrial, step: int | None, verdict: bool,
               reason: Reason, trial_id: str | None = None) -> None:
        """Spool one decision (what :meth:`decide` returned) with this pruner's rule version.

        The record seam of the live integrations: :meth:`prune` calls it after
        :meth:`decide`, and so does :class:`policy_store.integrations.ray.StoreScheduler`
        (``trial_id``: the framework's own trial name, default the trial number).
        """
        value = trial.intermediate_values.get(step) if step is not None else None
        start = trial.datetime_start.isoformat() if trial.datetime_start else ""
        with self._lock:
            call = self._calls[(study_name, trial.number)]
            self._calls[(study_name, trial.number)] = call + 1
            self.calls += 1
        v = self.version
        record = {
            "decision_id": decision_id(study_name, trial.number, start, call, self._spec_hash),
            "study": study_name, "trial": trial_id or str(trial.number), "trial_number": trial.number, "step": step,
            "value": value if value is not None and math.isfinite(value) else None,
            "threshold": reason.threshold if reason.threshold is not None and math.isfinite(reason.threshold)
            else None,
            "ref_size": int(reason.ref_size), "verdict": "prune" if verdict else "continue", "reason": reason.text,
            "rule": v.rule, "version": self._version_no, "spec_hash": self._spec_hash,
            "decided_at": utcnow().isoformat(),
        }
        self._spool(record)

    def _spool(self, record: dict[str, Any]) -> None:
        try:
            self._writer.append(record)
        except OSError as e:
            raise StoreError(f"cannot spool a decision to {self.spool_dir!r}: {e}") from e

    # -- adaptation ---------------------------------------------------------------------
    def _switch(self, sw: Any, study_name: str, trial_number: int) -> None:
        spec = self._prior.specs[sw.to_index]
        key = f"{study_name}|{trial_number}|{self._spec_hash}|{spec.spec_hash}|{sw.n_completed}"
        self._spool({"kind": "switch", "switch_id": hashlib.sha256(key.encode()).hexdigest()[:24],
                     "study": study_name, "rule": self.version.rule,
                     "from_spec_hash": self._spec_hash, "spec_hash": spec.spec_hash, "spec": spec.canonical_json(),
                     "first_trial": trial_number, "n_completed": sw.n_completed, "reason": sw.reason,
                     "evidence": sw.to_dict(), "decided_at": utcnow().isoformat()})
        self._use(spec, None)
        if spec.spec_hash not in self.spec_hashes:
            self.spec_hashes.append(spec.spec_hash)
        self.switches.append((trial_number, sw))

    # -- end of study -------------------------------------------------------------------
    def close(self) -> None:
        """Close this process's spool file (a later decision opens a new one) and its re-scoring process."""
        self._writer.close()
        if self.adaptation is not None:
            self.adaptation.close()

    def finish(self, study: optuna.Study) -> dict[str, Any]:
        """Close the spool, then record the study's curves, its decisions and its live outcome.

        Runs in the process that owns the store (the coordinator, or any worker
        once the others are done); see :func:`policy_store.integrations.live.record_live_study`.

        Returns
        -------
        dict
            The live outcome row written (compute saved, regret and false-prune estimates, ...).
        """
        from policy_store.integrations.live import record_live_study

        self.close()
        with self.open_store(read_only=False) as store:
            return record_live_study(store, study, self.version, self.spool_dir, task=self.task,
                                     spec_hashes=self.spec_hashes)

