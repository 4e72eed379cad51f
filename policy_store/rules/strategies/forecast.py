"""``forecast``: prune when the learned forecast says the trial will probably not beat the incumbent.

At each report with a finite value at step ``s``, the trial's prefix is its
finite reported values in step order, ``seen`` their count. The study state is
the incumbent (best final among COMPLETE trials), their count, the budget
``n_steps`` (the most finite reports of any COMPLETE trial) and the COMPLETE
trials' curves (their finite reports in step order, in trial-number order). The
shipped forecaster (:func:`policy_store.meta.forecast.load_forecaster`) gives
quantiles of the trial's final, with those curves as the study's context (where
the prefix stands among them and how they continued); :func:`prob_beats` reads from them the probability
``P`` that the final beats the incumbent (piecewise-linear CDF between the
quantiles, exponential tails beyond them). Prune iff ``P < alpha`` (default 0.1: the one alpha at or
above Optuna's ``MedianPruner()`` on both corpora it was chosen on, LCDB and the HPO corpus, each with the
forecaster held out by source; ``benchmarks/forecast_rule.py``). Never prune
with fewer than ``n_startup_trials`` COMPLETE trials (at least 1: an incumbent is
needed), before ``n_warmup_steps``, at a non-finite value, once the trial has
reached the budget (its forecast is then its value), or, with ``calibrated_only``
(the default), while fewer than :data:`~policy_store.meta.forecast.calibration.MIN_CURVES`
COMPLETE curves reach the budget: until then the forecaster cannot calibrate its
intervals on the study (:mod:`policy_store.meta.forecast.calibration`), and a
model trained on other sources can be too narrow in the upper tail the rule reads
(held out by source on LCDB the rule then killed the best trial in 47 % of studies).
Like Optuna's ``n_startup_trials``, the study runs unpruned meanwhile. :func:`gate`
says which reason applies. A spec without ``calibrated_only`` gets it on; specs
stored before the parameter existed (forecaster ``cc4d08d9f527`` and earlier,
refused by :func:`check_model` anyway) pruned from the first incumbent on, as
``calibrated_only: false`` does.

:func:`gate` and :func:`forecast_prob` are the whole rule: :func:`decide` applies
them to one report and returns the gate's code with ``P``; the replay kernel
(:mod:`policy_store.replay.kernels.forecast`) applies them to a batch, and the live
decider (:class:`policy_store.integrations.deciders.forecast.ForecastDecider`)
calls :func:`decide` and words its reason from what it returned, so replay and
live agree bit for bit and the reason is the decision's own.

The decisions depend on the forecaster model, so the model is part of the rule:
``params.model`` is the model's version (:func:`policy_store.meta.forecast.shipped_model_id`,
filled in when the spec is parsed without it), and a rule whose model is not the
installed one is refused wherever it would decide (:func:`check_model`).

Examples
--------
>>> import numpy as np
>>> state = StudyState(incumbent=0.95, n_complete=3, n_steps=20)
>>> params = {"alpha": 0.05, "n_startup_trials": 1, "n_warmup_steps": 0, "calibrated_only": False}
>>> decide(np.array([0.3, 0.35, 0.37, 0.38]), 3, state, params, maximize=True).prune
True
>>> d = decide(np.array([0.80, 0.88, 0.92, 0.94]), 3, state, params, maximize=True)
>>> d.prune, d.code == LOOK, d.prob > 0.05
(False, True, True)
>>> decide(np.array([0.3]), 0, StudyState(0.95, 0, 20), params, maximize=True).code == STARTUP
True
>>> gated = {**params, "calibrated_only": True}     # 3 COMPLETE curves, none given: no calibration yet
>>> decide(np.array([0.3, 0.35, 0.37, 0.38]), 3, state, gated, maximize=True).code == UNCALIBRATED
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from policy_store.errors import ForecasterMismatchError, InvalidSpecError
from policy_store.rules.strategies._base import Param, Strategy

#: The forecast levels the probability is read from.
LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)

#: :func:`gate` codes: the rule looks (forecasts), or why it does not.
LOOK, WARMUP, NOT_FINITE, STARTUP, BUDGET, UNCALIBRATED = 0, 1, 2, 3, 4, 5


@dataclass(frozen=True)
class StudyState:
    """What the rule needs of the study: the incumbent, the COMPLETE trials' count, the budget in reports and
    the COMPLETE trials' curves (finite reports in step order, one NaN-padded row per trial in trial-number
    order; None: forecast without the study's context)."""

    incumbent: float
    n_complete: int
    n_steps: int
    context: np.ndarray | None = field(default=None, compare=False)

    @property
    def n_calibrating(self) -> int:
        """The context curves that reach the budget: those the forecaster calibrates on (none without context)."""
        from policy_store.meta.forecast.calibration import reaches_budget

        return 0 if self.context is None else int(reaches_budget(self.context, self.n_steps).sum())


def prob_beats(q_better: np.ndarray, incumbent_better: np.ndarray) -> np.ndarray:
    """``P(final > incumbent)`` per row from quantiles at :data:`LEVELS` in "better is larger" units.

    Between quantiles the CDF is linear; beyond the outer ones each tail decays
    exponentially at the rate that joins the 5 % and 25 % (75 % and 95 %) quantiles.
    A row whose quantiles are all equal is a point mass: ``P`` is 1 above the incumbent, else 0.
    """
    levels = np.asarray(LEVELS)
    q = np.asarray(q_better, dtype=np.float64)
    inc = np.asarray(incumbent_better, dtype=np.float64)
    k = np.count_nonzero(q <= inc[:, None], axis=1)
    rows = np.arange(len(q))
    lo_i, hi_i = np.clip(k - 1, 0, len(levels) - 1), np.clip(k, 0, len(levels) - 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        width = q[rows, hi_i] - q[rows, lo_i]
        inner = levels[lo_i] + (levels[hi_i] - levels[lo_i]) * (inc - q[rows, lo_i]) / width
        t_lo = (q[:, 2] - q[:, 0]) / np.log(levels[2] / levels[0])
        t_hi = (q[:, -1] - q[:, -3]) / np.log((1 - levels[-3]) / (1 - levels[-1]))
        below = levels[0] * np.exp(-(q[:, 0] - inc) / t_lo)
        above = 1.0 - (1 - levels[-1]) * np.exp(-(inc - q[:, -1]) / t_hi)
    cdf = np.where(k == 0, np.where(t_lo > 0, below, 0.0),
                   np.where(k == len(levels), np.where(t_hi > 0, above, 1.0), inner))
    return np.clip(1.0 - np.nan_to_num(cdf, nan=1.0), 0.0, 1.0)


def forecast_prob(values: np.ndarray, seen: np.ndarray, n_steps: int, incumbent: np.ndarray,
                  maximize: bool, context: np.ndarray | None = None) -> np.ndarray:
    """``P(final beats incumbent)`` for a batch of prefixes of one study (NaN-padded rows, ``seen`` each),
    ``context``: the study's COMPLETE curves (see :class:`StudyState`)."""
    from policy_store.meta.forecast import load_forecaster

    q = load_forecaster().quantiles(values, seen, n_steps, maximize, LEVELS, context=context)
    if maximize:
        return prob_beats(q, np.asarray(incumbent, dtype=np.float64))
    return prob_beats(-q[:, ::-1], -np.asarray(incumbent, dtype=np.float64))


def gate(step: Any, finite: Any, seen: Any, n_complete: Any, n_steps: Any, n_warmup_steps: Any,
         n_startup_trials: Any, n_calibrating: Any, calibrated_only: Any) -> Any:
    """Whether the rule forecasts a report (:data:`LOOK`) or why not, elementwise over arrays or scalars.

    ``finite``: the report's value is finite; ``seen``: the trial's finite reports so far (this one included);
    ``n_calibrating``: the COMPLETE curves that reach the budget (:attr:`StudyState.n_calibrating`).
    The first reason that applies wins, in the order :data:`WARMUP`, :data:`NOT_FINITE`, :data:`STARTUP`,
    :data:`UNCALIBRATED` (only with ``calibrated_only``), :data:`BUDGET`.

    >>> int(gate(3, True, 4, 2, 10, 0, 1, 2, False)), int(gate(3, True, 10, 2, 10, 0, 1, 2, False)) == BUDGET
    (0, True)
    >>> int(gate(3, True, 4, 2, 10, 0, 1, 2, True)) == UNCALIBRATED, int(gate(3, True, 4, 4, 10, 0, 1, 4, True))
    (True, 0)
    """
    from policy_store.meta.forecast.calibration import MIN_CURVES

    uncalibrated = np.logical_and(calibrated_only, np.less(n_calibrating, MIN_CURVES))
    return np.select([np.less(step, n_warmup_steps), np.logical_not(finite), np.less(n_complete, n_startup_trials),
                      uncalibrated, np.greater_equal(seen, n_steps)],
                     [WARMUP, NOT_FINITE, STARTUP, UNCALIBRATED, BUDGET], LOOK)


class Decision(NamedTuple):
    """One report's decision: the verdict, ``P`` (NaN where the rule did not look) and the :func:`gate` code."""

    prune: bool
    prob: float
    code: int


def decide(prefix: np.ndarray, step: int, state: StudyState, params: dict[str, Any],
           maximize: bool) -> Decision:
    """The rule on one report (see :class:`Decision`).

    ``prefix`` holds the trial's reported values in step order (non-finite ones are skipped), the last
    being the value at ``step``.
    """
    prefix = np.asarray(prefix, dtype=np.float64)
    finite = prefix[np.isfinite(prefix)]
    code = int(gate(step, len(prefix) > 0 and np.isfinite(prefix[-1]), len(finite), state.n_complete,
                    state.n_steps, params["n_warmup_steps"], params["n_startup_trials"], state.n_calibrating,
                    params["calibrated_only"]))
    if code != LOOK:
        return Decision(False, float("nan"), code)
    p = forecast_prob(finite[None, :], np.array([len(finite)]), state.n_steps, np.array([state.incumbent]),
                      maximize, state.context)[0]
    return Decision(bool(p < params["alpha"]), float(p), code)


def check_model(params: dict[str, Any], where: str = "params") -> None:
    """Refuse a rule made with another forecaster than the installed one.

    Raises
    ------
    ForecasterMismatchError
        ``params["model"]`` is not :func:`policy_store.meta.forecast.shipped_model_id`: the rule's decisions (and
        the outcomes stored under it) came from another model, which this installation cannot reproduce.
    """
    from policy_store.meta.forecast import shipped_model_id

    installed = shipped_model_id()
    if params["model"] != installed:
        raise ForecasterMismatchError(
            f"the rule was made with forecaster {params['model']}, the installed one is {installed}: its decisions "
            "cannot be reproduced here; install the policy-store release that shipped that forecaster, or add a new "
            "version of the rule without params.model (it then records the installed one)",
            field=f"{where}.model")


def context_curves(values: np.ndarray, reported: np.ndarray) -> np.ndarray:
    """The rule's context rows of curves on a grid of steps: each row's finite reports (``reported`` and
    finite) left-packed in step order, NaN after them (over the last axis; any leading axes).

    The replay kernel builds its context with it, the adaptation its forecasts of cut trials
    (:func:`policy_store.meta.adaptation.evidence.study_context`); :func:`optuna_inputs` packs an Optuna
    study's trials the same way. A trial that skipped steps or reported NaN has its finite reports moved
    left, never filled in: its row is as long as its finite reports.

    >>> nan = np.nan
    >>> context_curves(np.array([[nan, nan, 0.6, 0.9], [1.0, nan, 0.5, 0.4]]),
    ...                np.array([[0, 0, 1, 1], [1, 1, 1, 1]], dtype=bool)).tolist()
    [[0.6, 0.9, nan, nan], [1.0, 0.5, 0.4, nan]]
    """
    finite = reported & np.isfinite(values)
    packed = np.take_along_axis(values, np.argsort(~finite, axis=-1, kind="stable"), axis=-1)
    return np.where(np.arange(values.shape[-1]) < finite.sum(axis=-1)[..., None], packed, np.nan)


def optuna_inputs(study: Any, trial: Any) -> tuple[np.ndarray, int | None, StudyState, bool]:
    """``(prefix, step, state, maximize)`` of an Optuna study and trial, as :func:`decide` takes them
    (shared by the live pruner and its explanation); the context as :func:`context_curves` packs it, as wide
    as the longest row (at least 1)."""
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    complete = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number)
    maximize = study.direction != StudyDirection.MINIMIZE
    best, budget = (complete[0].value if complete else float("nan")), 0
    curves = []
    for t in complete:
        best = max(best, t.value) if maximize else min(best, t.value)
        curves.append([v for _, v in sorted(t.intermediate_values.items()) if math.isfinite(v)])
        budget = max(budget, len(curves[-1]))
    context = np.full((len(curves), max(budget, 1)), np.nan)
    for r, c in enumerate(curves):
        context[r, :len(c)] = c
    prefix = np.array([v for _, v in sorted(trial.intermediate_values.items())], dtype=np.float64)
    step = trial.last_step
    state = StudyState(float(best), len(complete), budget, context)
    return prefix, (None if step is None else int(step)), state, maximize


class Forecast(Strategy):
    """Prune when the forecast's probability of beating the incumbent falls below ``alpha``."""

    name = "forecast"
    kernel = "forecast"
    optuna_backed = False
    params = (
        Param("alpha", "float", 0.1, low=0.0, high=1.0, low_open=True, high_open=True),
        Param("n_startup_trials", "int", 1, low=1),
        Param("n_warmup_steps", "int", 0, low=0),
    )

    def validate(self, params: Any, prefix: str = "params") -> dict[str, Any]:
        """The numeric parameters as every strategy's, plus ``model``: the forecaster version the rule decides
        with, the installed one's unless given (then 12 lowercase hex digits), and ``calibrated_only``: a
        boolean, true unless given (see the module)."""
        from policy_store.meta.forecast import MODEL_ID_LENGTH, shipped_model_id

        rest = dict(params) if isinstance(params, Mapping) else params
        model = rest.pop("model", None) if isinstance(rest, dict) else None
        calibrated_only = rest.pop("calibrated_only", True) if isinstance(rest, dict) else True
        known = [p.name for p in self.params]
        unknown = sorted(set(rest) - set(known)) if isinstance(rest, dict) else []
        if unknown:
            raise InvalidSpecError(f"unknown parameter for strategy {self.name!r}; allowed: "
                                   f"{sorted([*known, 'calibrated_only', 'model'])}", field=f"{prefix}.{unknown[0]}")
        if not isinstance(calibrated_only, bool):
            raise InvalidSpecError(f"must be true or false, got {calibrated_only!r}", field=f"{prefix}.calibrated_only")
        out = super().validate(rest, prefix)
        out["calibrated_only"] = calibrated_only
        if model is None:
            model = shipped_model_id()
        elif not (isinstance(model, str) and len(model) == MODEL_ID_LENGTH
                  and all(c in "0123456789abcdef" for c in model)):
            raise InvalidSpecError(f"must be a forecaster version ({MODEL_ID_LENGTH} lowercase hex digits of its "
                                   f"sha256), got {model!r}", field=f"{prefix}.model")
        out["model"] = model
        return out

    def to_optuna(self, params: dict[str, Any]) -> Any:
        from policy_store.rules._optuna import ForecastPruner

        return ForecastPruner(params)

    def to_ray_tune(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "scheduler": "FIFOScheduler",
            "kwargs": {},
            "differences": [
                "Ray Tune has no forecast-based scheduler; wrap this rule in a custom TrialScheduler "
                "(on_trial_result returning STOP when decide() says prune) to reproduce it.",
            ],
        }
