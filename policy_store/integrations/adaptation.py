"""A live study's adaptation: when to re-score, where, and the switch it hands back to ``StorePruner``.

:class:`LiveAdaptation` wraps an :class:`~policy_store.meta.adaptation.selector.AdaptiveSelector`
for one process of a live study. :meth:`LiveAdaptation.poll`, called at every
``should_prune``, returns a switch decided since the last call (if any) and,
when a trial ended (completed or pruned) since the last re-scoring, starts one on
the ended trials (:func:`ended_trials`: pruned ones up to their prune, audited
ones with the step of their shadow prune), the pruned ones continued by the
forecaster. :meth:`LiveAdaptation.annotate` adds the adaptation's state to each
decision's reason (the audit trail): "no evidence yet" and why, or what the last
re-scoring said. Where it runs (``background``):

- ``"process"`` (default): a background thread has a child process re-score
  (:class:`~policy_store.meta.adaptation.worker.RescoreProcess`, started and
  warmed up when the adaptation is built); the study's calls never wait for it;
- ``"thread"``: in the background thread itself (its Python parts then hold the
  GIL that the study's calls wait for);
- ``False``: inside the call that sees the completion (deterministic: a switch
  lands at the completion that caused it; that call is slow).

A re-scoring that fails records :attr:`LiveAdaptation.error` and stops the
adaptation; the rule in force stays.

>>> import optuna
>>> t = optuna.trial.create_trial(value=0.5, intermediate_values={0: 0.9, 2: 0.5})
>>> c = trial_curves([t], "s", "minimize")
>>> c.steps.tolist(), c.values.tolist()
([0, 2], [[0.9, 0.5]])
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import numpy as np
import optuna

from policy_store.curves import StudyCurves
from policy_store.errors import InvalidInputError

BACKGROUNDS = ("process", "thread", False)
_ENDED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
#: Options a release took, and why they are gone (a study passing one is told, not handed a TypeError).
REMOVED_OPTIONS = {"backtest": "was removed: the forecaster now uses the study's COMPLETE curves as its context "
                               "(and rescales its intervals by its misses on them), which replaced the back-test"}


def check_options(options: dict[str, Any]) -> None:
    """Refuse an option that is neither an :class:`~policy_store.meta.adaptation.selector.AdaptiveSelector`
    parameter nor ``background`` (a removed one with why it went), before anything starts.

    >>> check_options({"min_trials": 6, "background": False})
    >>> try:
    ...     check_options({"backtest": False})
    ... except InvalidInputError as e:
    ...     print(e.field, "|", e.reason[:35])
    adapt.backtest | adapt option 'backtest' was removed

    Raises
    ------
    InvalidInputError
        An unknown option (its field is ``adapt.<name>``; the message lists the known ones).
    """
    from policy_store.meta.adaptation.selector import AdaptiveSelector

    known = sorted({f.name for f in dataclasses.fields(AdaptiveSelector) if f.init} - {"prior"} | {"background"})
    for name in options:
        if name in REMOVED_OPTIONS:
            raise InvalidInputError(f"adapt option {name!r} {REMOVED_OPTIONS[name]}; drop it", field=f"adapt.{name}")
        if name not in known:
            raise InvalidInputError(f"unknown adapt option {name!r}; known: {known}", field=f"adapt.{name}")


def trial_curves(trials: list[optuna.trial.FrozenTrial], study: str, direction: str) -> StudyCurves:
    """The curves (intermediate values by step) of Optuna trials that reported any, in trial-number order."""
    trials = sorted((t for t in trials if t.intermediate_values), key=lambda t: t.number)
    steps = sorted({s for t in trials for s in t.intermediate_values})
    col = {s: j for j, s in enumerate(steps)}
    values = np.full((len(trials), len(steps)), np.nan)
    present = np.zeros(values.shape, dtype=bool)
    for i, t in enumerate(trials):
        for s, v in t.intermediate_values.items():
            values[i, col[s]] = v
            present[i, col[s]] = True
    return StudyCurves.from_arrays(study, values, steps=steps, present=present, direction=direction,
                                   trials=[str(t.number) for t in trials])


def ended_trials(trials: list[optuna.trial.FrozenTrial], study: str, direction: str,
                 shadow: dict[int, int] | None = None) -> Any:
    """The ended (COMPLETE or PRUNED) trials as :class:`~policy_store.meta.adaptation.evidence.EndedTrials`.

    ``shadow``: trial number -> step of an audited trial's shadow prune.

    >>> t = optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, intermediate_values={0: 0.9})
    >>> ended_trials([t], "s", "minimize").n_pruned
    1
    """
    from policy_store.meta.adaptation.evidence import EndedTrials

    trials = sorted((t for t in trials if t.intermediate_values), key=lambda t: t.number)
    curves = trial_curves(trials, study, direction)
    col = {int(s): j for j, s in enumerate(curves.steps)}
    shadow = shadow or {}
    return EndedTrials.build(curves, [t.state == optuna.trial.TrialState.PRUNED for t in trials],
                             [col.get(int(shadow[t.number]), -1) if t.number in shadow else -1 for t in trials])


class LiveAdaptation:
    """Re-scoring for one process of a live study (see the module docstring).

    Parameters
    ----------
    prior:
        The candidates and the meta-learned expectation (:class:`~policy_store.meta.adaptation.selector.Prior`).
    options:
        :class:`~policy_store.meta.adaptation.selector.AdaptiveSelector` options plus ``background``.
    """

    def __init__(self, prior: Any, options: dict[str, Any]) -> None:
        from policy_store.meta.adaptation.selector import AdaptiveSelector

        check_options(options)  # before the worker process starts
        self.background = options.get("background", "process")
        if self.background is True:
            self.background = "process"
        if self.background not in BACKGROUNDS:
            raise InvalidInputError(f"adapt background must be one of {list(BACKGROUNDS)}, got {self.background!r}",
                                    field="adapt")
        opts = {k: v for k, v in options.items() if k != "background"}
        self.selector_options = opts
        self.error: str | None = None
        self._pending: Any = None
        self._lock = threading.Lock()
        self._busy = False
        self._worker: Any = None
        if self.background == "process":
            from policy_store.meta.adaptation.worker import RescoreProcess

            opts["scorer"] = self._worker = RescoreProcess()
            # start the child and load its compiled kernels now, not when the first trials complete
            self._busy = True
            threading.Thread(target=self._warm_up, args=(prior,), daemon=True, name="policy-store-rescore").start()
        self.selector: Any = AdaptiveSelector(prior, **opts)
        self._shadow: dict[int, int] = {}
        self._n_ended = 0

    def poll(self, view: Any, study_name: str, shadow: dict[int, int] | None = None) -> Any:
        """The switch decided since the last call, if any; starts a re-scoring when one is due.

        ``shadow``: the audit pruner's shadow prunes so far (trial number -> step).
        """
        if shadow:
            self._shadow.update(shadow)
        with self._lock:
            sw, self._pending = self._pending, None
        selector = self.selector  # a failed re-scoring sets it to None from its thread
        if sw is not None or self._busy or selector is None:
            return sw
        ended = view.get_trials(deepcopy=False, states=_ENDED)
        self._n_ended = len(ended)
        if not selector.due(len(ended)):
            return None
        direction = "minimize" if view.direction == optuna.study.StudyDirection.MINIMIZE else "maximize"
        args = (list(ended), study_name, direction, dict(self._shadow))
        if not self.background:
            self._rescore(*args)
            with self._lock:
                sw, self._pending = self._pending, None
            return sw
        self._busy = True
        threading.Thread(target=self._rescore, args=args, daemon=True, name="policy-store-rescore").start()
        return None

    @property
    def status(self) -> str:
        """One line on the evidence: none yet (and why), or what the last re-scoring said."""
        if self.selector is None:
            return f"stopped ({self.error})"
        if not self.selector.evidence and self._n_ended < self.selector.min_trials:
            return (f"no evidence yet: {self._n_ended} ended trials, re-scoring needs "
                    f"{self.selector.min_trials}")
        return self.selector.status

    def annotate(self, reason: Any) -> Any:
        """``reason`` (a :class:`~policy_store.integrations.deciders.Reason`) with the adaptation's state appended."""
        return dataclasses.replace(reason, text=f"{reason.text} | adaptation: {self.status}")

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no re-scoring runs (the child process's start-up included); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._busy:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        """End the re-scoring child process, if any."""
        if self._worker is not None:
            self._worker.close()

    def _warm_up(self, prior: Any) -> None:
        try:
            from policy_store.meta.adaptation.evidence import EndedTrials

            tiny = StudyCurves.from_arrays("warm-up", [[1.0, 0.5], [0.9, 0.8], [1.2, np.nan]],
                                           present=[[1, 1], [1, 1], [1, 0]])
            self._worker(EndedTrials.build(tiny, [False, False, True]),       # the forecaster loads here too
                         [s for s in prior.specs if s.direction in (None, "minimize")], n_boot=2,
                         forecaster=self.selector_options.get("forecaster"))
        except Exception as e:  # the first re-scoring will fail the same way and stop the adaptation
            self.error = f"warm-up: {e!r}"
        finally:
            self._busy = False

    def _rescore(self, ended: list[optuna.trial.FrozenTrial], study_name: str, direction: str,
                 shadow: dict[int, int]) -> None:
        try:
            sw = self.selector.observe(ended_trials(ended, study_name, direction, shadow))
            with self._lock:
                self._pending = sw if sw is not None else self._pending
        except Exception as e:  # adaptation never breaks the study: the rule in force stays
            self.error = repr(e)
            self.selector = None
        finally:
            self._busy = False
