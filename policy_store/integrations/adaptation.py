"""A live study's adaptation: when to re-score, where, and the switch it hands back to ``StorePruner``.

:class:`LiveAdaptation` wraps an :class:`~policy_store.meta.adaptation.selector.AdaptiveSelector`
for one process of a live study. :meth:`LiveAdaptation.poll`, called at every
``should_prune``, returns a switch decided since the last call (if any) and,
when enough trials completed since the last re-scoring, starts one on their
curves (:func:`trial_curves`). Where it runs (``background``):

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

import threading
import time
from typing import Any

import numpy as np
import optuna

from policy_store.curves import StudyCurves

BACKGROUNDS = ("process", "thread", False)


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
        from policy_store.errors import InvalidInputError
        from policy_store.meta.adaptation.selector import AdaptiveSelector

        self.background = options.get("background", "process")
        if self.background is True:
            self.background = "process"
        if self.background not in BACKGROUNDS:
            raise InvalidInputError(f"adapt background must be one of {list(BACKGROUNDS)}, got {self.background!r}",
                                    field="adapt")
        opts = {k: v for k, v in options.items() if k != "background"}
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

    def poll(self, view: Any, study_name: str) -> Any:
        """The switch decided since the last call, if any; starts a re-scoring when one is due."""
        with self._lock:
            sw, self._pending = self._pending, None
        selector = self.selector  # a failed re-scoring sets it to None from its thread
        if sw is not None or self._busy or selector is None:
            return sw
        complete = view.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not selector.due(len(complete)):
            return None
        direction = "minimize" if view.direction == optuna.study.StudyDirection.MINIMIZE else "maximize"
        if not self.background:
            self._rescore(list(complete), study_name, direction)
            with self._lock:
                sw, self._pending = self._pending, None
            return sw
        self._busy = True
        threading.Thread(target=self._rescore, args=(list(complete), study_name, direction), daemon=True,
                         name="policy-store-rescore").start()
        return None

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
            tiny = StudyCurves.from_arrays("warm-up", [[1.0, 0.5], [0.9, 0.8], [1.2, 1.1]])
            self._worker(tiny, [s for s in prior.specs if s.direction in (None, "minimize")], n_boot=2)
        except Exception as e:  # the first re-scoring will fail the same way and stop the adaptation
            self.error = f"warm-up: {e!r}"
        finally:
            self._busy = False

    def _rescore(self, complete: list[optuna.trial.FrozenTrial], study_name: str, direction: str) -> None:
        try:
            sw = self.selector.observe(trial_curves(complete, study_name, direction))
            with self._lock:
                self._pending = sw if sw is not None else self._pending
        except Exception as e:  # adaptation never breaks the study: the rule in force stays
            self.error = repr(e)
            self.selector = None
        finally:
            self._busy = False
