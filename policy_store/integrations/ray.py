"""``StoreScheduler``: a stored rule version applied live in Ray Tune, with an audit trail of every decision.

A real :class:`ray.tune.schedulers.TrialScheduler` (a ``FIFOScheduler`` that
stops trials): every ``on_trial_result`` is decided by the store's rule, not by
one of Ray's schedulers, so any strategy works (``posterior``, ``wilcoxon``,
``patient`` have no Ray counterpart) and ``audit_fraction`` is honoured.

Decisions
---------
The scheduler keeps a mirror of the run as an in-memory Optuna study: each Tune
trial becomes an Optuna trial at its first result (so mirror numbers are the
order of first results, the order the curves are recorded in), each result is
reported at step ``time_attr`` (default ``training_iteration``), a stopped trial
is told PRUNED, a finished one is told its last value, an errored or removed one
FAIL. Each result is then decided by :meth:`StorePruner.decide
<policy_store.integrations.optuna.StorePruner.decide>` -- the very entry point
``StorePruner`` decides with in Optuna -- and spooled with its reason under the
Tune ``trial_id``. A "prune" becomes ``TrialScheduler.STOP``.

Ray repeats a finished trial's last result (``done=True``); a step already
decided for a trial is not decided again (``duplicates`` counts them), and a
result without the metric is not a point (as in ``datasets ingest raytune``).

Tune runs trials concurrently; each decision sees the trials COMPLETE at that
moment, exactly as ``StorePruner`` with several workers. With
``max_concurrent_trials=1`` the recorded curves, replayed in their recorded
order, give the same decisions.

End of the run
--------------
:meth:`StoreScheduler.finish` (or the callback of :meth:`StoreScheduler.callback`
in ``RunConfig(callbacks=...)``) records, in one transaction, the spooled
decisions, the run's curves (trial = Tune ``trial_id``, step, metric,
``time_this_iter_s`` as cost, a result's ``peak_memory_mb`` as its memory, the config as params) and the
live outcome
(:func:`policy_store.integrations.live.record_live_run`).

Examples
--------
>>> import tempfile
>>> from policy_store import PolicyStore
>>> from policy_store.rules import add_rule_version
>>> path = tempfile.mkdtemp() + "/store.duckdb"
>>> with PolicyStore(path) as store:
...     _ = add_rule_version(store, "median", {"strategy": "median", "params": {"n_startup_trials": 2}},
...                          created_by="doc")
>>> scheduler = StoreScheduler(path, task="toy", rule="median@1", metric="loss", mode="min", study="toy-1")
>>> scheduler.version.rule, scheduler.version.version
('median', 1)
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd
from ray.tune import Callback
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from policy_store.errors import InvalidInputError
from policy_store.integrations.optuna import StorePruner
from policy_store.rules.versions import RuleVersion
from policy_store.trial_resources import number_or_nan

_MODES = {"min": "minimize", "max": "maximize"}


@dataclass
class _Mirror:
    """One Tune trial as the rule sees it."""

    trial: optuna.Trial
    number: int
    params: str
    points: list[tuple[int, float, float]] = field(default_factory=list)
    state: str = "RUNNING"
    memory: dict[int, float] = field(default_factory=dict)  # step -> the result's ``peak_memory_mb`` (NaN: none)


class StoreScheduler(FIFOScheduler):
    """A Ray Tune scheduler that applies a stored rule version and records every decision.

    Parameters
    ----------
    store:
        A :class:`PolicyStore`, or the path of a store file (opened to resolve the
        rule and in :meth:`finish`).
    task:
        The task the run is on (recorded with its curves).
    rule:
        ``"name"`` (latest version) or ``"name@N"``.
    recommend, recommend_with:
        Apply the meta-learner's recommendation for ``task`` instead (as
        :class:`~policy_store.integrations.optuna.StorePruner`; not adapted during the run).
    metric, mode:
        The reported metric and ``"min"``/``"max"``; default the ``TuneConfig``'s.
    time_attr:
        The result field used as the step.
    study:
        The study name (default ``raytune/<experiment folder>``, the name
        ``datasets ingest raytune`` gives the same directory).
    spool_dir, fsync, timeout:
        As for ``StorePruner``.

    Attributes
    ----------
    version:
        The rule version deciding.
    calls:
        Decisions spooled.
    duplicates:
        Results not decided because their step was already decided (Ray's repeated last result).
    """

    def __init__(self, store: Any, *, task: str, rule: str | None = None, recommend: bool = False,
                 recommend_with: dict[str, Any] | None = None, metric: str | None = None, mode: str | None = None,
                 time_attr: str = "training_iteration", study: str | None = None,
                 spool_dir: str | os.PathLike[str] | None = None, fsync: str = "close",
                 timeout: float = 10.0) -> None:
        super().__init__()
        if mode is not None and mode not in _MODES:
            raise InvalidInputError(f"mode must be 'min' or 'max', got {mode!r}", field="mode")
        self._pruner = StorePruner(store, task=task, rule=rule, recommend=recommend, recommend_with=recommend_with,
                                   spool_dir=spool_dir, fsync=fsync, timeout=timeout, adapt=False)
        self._metric, self._mode = metric, mode
        self.time_attr = time_attr
        self.study_name = study
        self.duplicates = 0
        self._study: optuna.Study | None = None
        self._mirrors: dict[str, _Mirror] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its scheduler with the experiment state (``tuner.pkl``); the mirror study and
        # the lock stay behind, so a restored run starts a fresh mirror.
        return {**self.__dict__, "_study": None, "_mirrors": {}, "_lock": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def version(self) -> RuleVersion:
        """The rule version deciding."""
        return self._pruner.version

    @property
    def calls(self) -> int:
        """Decisions spooled."""
        return self._pruner.calls

    @property
    def spool_dir(self) -> str:
        """Where the decisions are spooled until :meth:`finish`."""
        return self._pruner.spool_dir

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Take ``metric``/``mode`` from the ``TuneConfig`` unless given; False on a conflict."""
        if (self._metric and metric and metric != self._metric) or (self._mode and mode and mode != self._mode):
            return False
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        return True

    # -- the mirror ---------------------------------------------------------------------
    def _mirror_study(self, trial: Any) -> optuna.Study:
        if self._study is None:
            if self.study_name is None:
                self.study_name = f"raytune/{trial.experiment_dir_name}"
            optuna.logging.set_verbosity(optuna.logging.ERROR)
            self._study = optuna.create_study(study_name=self.study_name, direction=_MODES[self._mode],
                                              sampler=optuna.samplers.RandomSampler(seed=0))
        return self._study

    def _mirror(self, trial: Any) -> _Mirror:
        mirror = self._mirrors.get(trial.trial_id)
        if mirror is None:
            otrial = self._mirror_study(trial).ask()
            params = json.dumps(trial.config, sort_keys=True, default=str)
            mirror = self._mirrors[trial.trial_id] = _Mirror(otrial, otrial.number, params)
        return mirror

    def _end(self, trial: Any, state: str) -> None:
        mirror = self._mirrors.get(trial.trial_id)
        if mirror is None or mirror.state != "RUNNING" or self._study is None:
            return
        mirror.state = state
        if state == "COMPLETE":
            self._study.tell(mirror.trial, mirror.points[-1][1])
        else:
            self._study.tell(mirror.trial, state=optuna.trial.TrialState[state])

    # -- the scheduler ------------------------------------------------------------------
    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        """Decide one result with the rule; spool the decision; STOP on "prune"."""
        if self._metric is None or self._mode not in _MODES:
            raise InvalidInputError("StoreScheduler needs metric= and mode='min'|'max' (here or in TuneConfig)",
                                    field="metric" if self._metric is None else "mode")
        value = result.get(self._metric)
        if value is None or self.time_attr not in result:
            return TrialScheduler.CONTINUE
        step, value = int(result[self.time_attr]), float(value)
        with self._lock:
            mirror = self._mirror(trial)
            if mirror.state != "RUNNING":
                return TrialScheduler.STOP if mirror.state == "PRUNED" else TrialScheduler.CONTINUE
            if any(s == step for s, _, _ in mirror.points):
                self.duplicates += 1
                return TrialScheduler.CONTINUE
            cost = result.get("time_this_iter_s")
            mirror.points.append((step, value, float(cost) if cost is not None else math.nan))
            mirror.memory[step] = number_or_nan(result.get("peak_memory_mb"))
            mirror.trial.report(value, step)
            study = self._mirror_study(trial)
            frozen = study._storage.get_trial(mirror.trial._trial_id)
            verdict, reason = self._pruner.decide(study, frozen)
            self._pruner.record(study.study_name, frozen, step, verdict, reason, trial_id=trial.trial_id)
            if verdict:
                self._end(trial, "PRUNED")
                return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        """A trial that ran to its end (a stopped one is already PRUNED)."""
        with self._lock:
            self._end(trial, "COMPLETE")

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        """A trial that raised: FAIL."""
        with self._lock:
            self._end(trial, "FAIL")

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        """A trial removed before its end: FAIL."""
        with self._lock:
            self._end(trial, "FAIL")

    def debug_string(self) -> str:
        """One line for Tune's status table."""
        v = self.version
        return f"Using StoreScheduler: rule {v.rule}@{v.version}, {self.calls} decisions spooled."

    # -- end of run ---------------------------------------------------------------------
    def curves_frame(self) -> pd.DataFrame:
        """The run's learning curves in the long format, trials in mirror order."""
        rows = [{"task": self._pruner.task, "study": self.study_name, "trial": trial_id, "step": step,
                 "value": value, "cost_seconds": cost, "params": m.params, "state": m.state,
                 "metric": self._metric, "direction": _MODES[self._mode],
                 "peak_memory_mb": m.memory.get(step, math.nan)}
                for trial_id, m in sorted(self._mirrors.items(), key=lambda kv: kv[1].number)
                for step, value, cost in m.points]
        if not rows:
            raise InvalidInputError(f"no result reported {self._metric!r}; nothing to record", field="metric")
        return pd.DataFrame(rows)

    def finish(self) -> dict[str, Any]:
        """Close the spool, then record the run's curves, its decisions and its live outcome.

        Call it after ``Tuner.fit()`` returns (or use :meth:`callback`).

        Returns
        -------
        dict
            The live outcome row written (plus ``decisions_absorbed``).
        """
        from policy_store.ingest import ingest_frame
        from policy_store.integrations.live import record_live_run

        frame = self.curves_frame()
        self._pruner.close()
        with self._pruner.open_store(read_only=False) as store:
            return record_live_run(
                store, self.study_name,
                lambda s: ingest_frame(s, frame, source=f"raytune-live:{self.study_name}", replace=True),
                self.version, self.spool_dir)

    def callback(self) -> Callback:
        """A Tune callback that calls :meth:`finish` when the experiment ends; its ``outcome`` is the result."""
        return _FinishCallback(self)


class _FinishCallback(Callback):
    def __init__(self, scheduler: StoreScheduler) -> None:
        self.scheduler = scheduler
        self.outcome: dict[str, Any] | None = None

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        self.outcome = self.scheduler.finish()
