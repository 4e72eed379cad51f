"""The contract of a live decider, the reason it returns, and what every strategy's decider shares.

A decider applies one strategy live: it reads the state the strategy needs from
the study snapshot the pruner was called with (one trial list per call, see
:class:`policy_store.integrations.optuna.StorePruner`), calls the strategy's one
decision function (the same one the replay kernels run, in
:mod:`policy_store.rules.strategies`) and formats the reason from what that
call returned. The verdict and its reason come from one computation; nothing is
re-derived afterwards.

>>> import optuna
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study()
>>> t = study.ask(); t.report(1.0, 0); t.report(2.0, 3)
>>> frozen = study._storage.get_trial(t._trial_id)
>>> last_report(frozen)
(3, 2.0, 0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from policy_store.rules.strategies._base import passes_gate


@dataclass(frozen=True)
class Reason:
    """The explanation of one decision: the threshold or statistic compared with, the reference-set size, one line."""

    threshold: float | None
    ref_size: int
    text: str


class Decider:
    """One strategy's live decisions. Subclasses set ``strategy`` and implement :meth:`decide`.

    A decider may keep per-process state (as Optuna's pruners do: successive
    halving's resolved ``min_resource``, the audit wrapper's shadow prunes).
    """

    strategy = ""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def decide(self, study: Any, trial: Any, minimize: bool) -> tuple[bool, Reason]:
        """The verdict on ``trial``'s last report in ``study`` (a snapshot view), with its reason."""
        raise NotImplementedError


def g(x: float) -> str:
    """A number in a reason: 6 significant digits."""
    return f"{x:.6g}"


def last_report(trial: Any) -> tuple[int | None, float, int]:
    """``(step, value, prev_step)`` of the trial's report under decision.

    ``step`` is Optuna's ``last_step`` (the largest reported step, None before
    any report), ``prev_step`` the largest *other* reported step (-1 if none).
    """
    step = trial.last_step
    if step is None:
        return None, math.nan, -1
    iv = trial.intermediate_values
    return step, iv[step], max((s for s in iv if s != step), default=-1)


def gate_reason(step: int | None, prev_step: int, w: int, k: int) -> str:
    """Why :func:`policy_store.rules.strategies._base.passes_gate` said no, in words."""
    if step is None:
        return "no value reported yet"
    if step < w:
        return f"warm-up: step {step} < n_warmup_steps={w}"
    return f"interval: step {step} is not the first report at or after checkpoint {(step - w) // k * k + w}"


def gated_report(trial: Any, params: dict[str, Any]) -> tuple[int | None, float, Reason | None]:
    """``(step, value, closed)`` of the report under decision; ``closed`` is the "continue" reason when the
    warm-up and interval gate (``n_warmup_steps``, ``interval_steps`` of ``params``) does not check it, else None.

    >>> import optuna
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> t = optuna.create_study().ask(); t.report(0.5, 1)
    >>> gated_report(t.study._storage.get_trial(t._trial_id), {"n_warmup_steps": 2, "interval_steps": 1})
    (1, 0.5, Reason(threshold=None, ref_size=0, text='warm-up: step 1 < n_warmup_steps=2'))
    """
    step, value, prev = last_report(trial)
    w, k = params["n_warmup_steps"], params["interval_steps"]
    if step is None or not passes_gate(step, prev, w, k):
        return step, value, Reason(None, 0, gate_reason(step, prev, w, k))
    return step, value, None


def complete_trials(study: Any) -> list[Any]:
    """The study's COMPLETE trials (the snapshot's list: read once per call)."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
