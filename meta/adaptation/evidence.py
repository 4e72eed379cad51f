"""The evidence a study has about its own rule: every ended trial, pruned ones continued by the forecaster.

Re-scoring the candidate rules on the completed trials alone waits for
evidence that never comes (under an aggressive rule few trials complete) and
sees only the survivors. :class:`EndedTrials` holds every trial that has ended:

- a **completed** trial as it ran;
- a **pruned** trial up to the step it was cut at. :func:`continue_pruned`
  asks the forecaster (:func:`policy_store.meta.forecast.load_forecaster`), with
  the study's COMPLETE curves as its context (:func:`study_context`), for the
  quantiles of its final, pooled with the study's own step -> final relation at
  the cut step (:func:`_related`); each bootstrap replicate of the re-scoring draws
  one final from them (a split normal through the 10/50/90 % quantiles) and
  runs the curve on from its last value to that final (linearly, at the
  completed trials' median cost per step), so a lax candidate pays for the
  steps it would have let run and is credited with what they would have
  found;
- an **audited** trial (``audit_fraction``: never pruned) that the rule in
  force wanted to prune (a shadow prune) ran to the end anyway: an unbiased
  sample of what the rule kills. Each one is a check of the forecaster: its
  forecast from the prefix at the shadow prune against its real final. The
  checks' mean normalised miss (shrunk toward 0 by :data:`CHECK_PRIOR`
  pseudo-checks) shifts the forecasts of the pruned trials, so a study whose
  killed trials end better than forecast makes its rule look as harmful as it
  is. The audited trials also enter the re-scoring with their real curves.

The study's budget (the step its finals are reported at) is the furthest
column any ended trial reached; without a completed trial there is no known
budget and no evidence yet (:func:`evidence_gap`).

Columns no ended trial reached are dropped, so a live study (whose curves know
only the steps reported so far) and its offline replay (the study's full grid
of steps) build the same evidence.

>>> import numpy as np
>>> from policy_store.curves import StudyCurves
>>> from policy_store.meta.forecast import LastValueForecaster
>>> c = StudyCurves.from_arrays("s", [[0.9, 0.6, 0.4, 0.3], [1.2, 1.1, np.nan, np.nan], [0.8, 0.5, 0.35, 0.2]],
...                             present=[[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 1]], direction="minimize")
>>> ended = EndedTrials.build(c, pruned=[False, True, False], shadow=[-1, -1, 1])
>>> ended.n_completed, ended.n_pruned, ended.n_checks, ended.budget
(2, 1, 1, 4)
>>> cont = continue_pruned(ended, LastValueForecaster())
>>> full = cont.realise(np.zeros(3))          # every pruned trial at its forecast median
>>> bool(full.present.all()), round(float(full.values[1, -1]), 3) == round(float(cont.quantiles[1, 1]), 3)
(True, True)
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from policy_store.curves import StudyCurves, regret_scale
from policy_store.errors import InvalidInputError
from policy_store.rules.strategies.forecast import context_curves

#: Quantile levels asked of the forecaster.
LEVELS = (0.1, 0.5, 0.9)
#: z of the 90 % quantile of a normal.
_Z90 = 1.2816
#: Pseudo-checks at zero miss the audit checks' mean is shrunk with (a single check does not move the forecasts).
CHECK_PRIOR = 2.0


@dataclass(frozen=True, eq=False)
class EndedTrials:
    """The trials of a study that have ended, in the order they entered (see the module docstring)."""

    curves: StudyCurves
    """One row per ended trial; a pruned trial's row ends at its prune."""
    pruned: np.ndarray
    """Per row: ended by a prune."""
    shadow: np.ndarray
    """Per row: the column of an audited trial's shadow prune (it ran to the end), -1 for none."""

    @classmethod
    def build(cls, curves: StudyCurves, pruned: Sequence[bool] | np.ndarray,
              shadow: Sequence[int] | np.ndarray | None = None) -> EndedTrials:
        """From the ended trials' curves, dropping the columns none of them reached."""
        pruned = np.asarray(pruned, dtype=bool)
        shadow = np.full(len(pruned), -1, dtype=np.int64) if shadow is None else np.asarray(shadow, dtype=np.int64)
        if len(pruned) != curves.n_trials or len(shadow) != curves.n_trials:
            raise InvalidInputError(f"need one pruned flag and one shadow column per ended trial "
                                    f"({curves.n_trials}), got {len(pruned)} and {len(shadow)}", field="pruned")
        keep = curves.present.any(axis=0)
        if not keep.all():
            col = np.cumsum(keep) - 1
            shadow = np.where(shadow >= 0, col[np.maximum(shadow, 0)], -1)
            curves = StudyCurves(curves.study, curves.task, curves.direction, curves.trials, curves.trial_numbers,
                                 curves.steps[keep], curves.values[:, keep], curves.present[:, keep],
                                 curves.cost[:, keep])
        return cls(curves, pruned, np.where(pruned, -1, shadow))

    @property
    def n_trials(self) -> int:
        return self.curves.n_trials

    @property
    def n_completed(self) -> int:
        return int((~self.pruned).sum())

    @property
    def n_pruned(self) -> int:
        return int(self.pruned.sum())

    @property
    def n_checks(self) -> int:
        """Audited trials the rule shadow-pruned: unbiased checks of what it kills."""
        return int((self.shadow >= 0).sum())

    @property
    def budget(self) -> int:
        """Steps (columns) a full trial runs: the furthest any ended trial reached; 0 before any completed."""
        if self.n_completed == 0:
            return 0
        return int(self.curves.last_pos.max()) + 1

    def completed_curves(self) -> StudyCurves:
        """The rows of the trials that ran to the end (the audited ones included)."""
        c, rows = self.curves, np.flatnonzero(~self.pruned)
        return StudyCurves(c.study, c.task, c.direction, c.trials[rows], c.trial_numbers[rows], c.steps,
                           c.values[rows], c.present[rows], c.cost[rows])

    def regret_unit(self) -> float:
        """:func:`~policy_store.curves.regret_scale` of the completed trials (a pruned trial has no final)."""
        return regret_scale(self.completed_curves())

    def summary(self) -> str:
        """``N ended (C completed, P pruned, A audit checks)``."""
        return (f"{self.n_trials} ended trials ({self.n_completed} completed, {self.n_pruned} pruned, "
                f"{self.n_checks} audit checks)")


def evidence_gap(ended: EndedTrials, min_trials: int) -> str | None:
    """Why there is no evidence to re-score on yet, or None when there is.

    >>> from policy_store.curves import StudyCurves
    >>> c = StudyCurves.from_arrays("s", [[1.0, 0.5], [2.0, 1.0]], present=[[1, 0], [1, 0]])
    >>> evidence_gap(EndedTrials.build(c, [True, True]), 2)[:60]
    'no evidence yet: 2 ended trials (0 completed, 2 pruned, 0 au'
    >>> evidence_gap(EndedTrials.build(c, [True, True]), 3)[-31:]
    're-scoring needs 3 ended trials'
    """
    if ended.n_trials < min_trials:
        return f"no evidence yet: {ended.summary()}, re-scoring needs {min_trials} ended trials"
    if ended.n_completed == 0:
        return (f"no evidence yet: {ended.summary()}, none ran to the end (the budget a pruned trial is forecast "
                "to is unknown)")
    return None


def _prefixes(c: StudyCurves, rows: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows' values up to ``stop`` (inclusive), gaps (and non-finite reports) carried forward from the last finite
    value; a row with no finite value up to ``stop`` stays NaN (see :func:`continue_pruned`)."""
    width = int(stop.max()) + 1 if len(stop) else 1
    values = c.values[rows, :width].copy()
    present = c.present[rows, :width] & (np.arange(width)[None, :] <= stop[:, None]) & np.isfinite(values)
    first = np.argmax(present, axis=1)
    for j in range(width):                                  # forward fill (few columns; one pass)
        prev = values[:, j - 1] if j else values[np.arange(len(rows)), first]
        values[:, j] = np.where(present[:, j], values[:, j], prev)
    values[np.arange(width)[None, :] > stop[:, None]] = np.nan
    return values, stop + 1


def _reported(c: StudyCurves, rows: np.ndarray, s: int) -> np.ndarray:
    """Per row: a finite value was reported at or before column ``s``."""
    return (c.present[rows, :s + 1] & np.isfinite(c.values[rows, :s + 1])).any(axis=1)


@dataclass(frozen=True, eq=False)
class Continuations:
    """The ended trials with every pruned one's final forecast (what a re-scoring replays)."""

    ended: EndedTrials
    quantiles: np.ndarray
    """(n_trials, 3): the 10/50/90 % quantiles of each pruned trial's final (NaN for the others), audit-shifted."""
    shift: float
    """The audit checks' mean miss in forecast widths (positive = killed trials ended better than forecast)."""
    forecaster: str

    @property
    def budget(self) -> int:
        return self.ended.budget

    def finals(self, z: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Trials ``rows``' finals at standard-normal draws ``z`` (split normal through the quantiles)."""
        lo, mid, hi = self.quantiles[rows].T
        return mid + np.where(z < 0, (mid - lo), (hi - mid)) * z / _Z90

    @functools.cached_property
    def _runs(self) -> tuple[np.ndarray, ...]:
        """What every replicate shares: the pruned rows, their last values, ramps and the steps' typical cost."""
        c, budget = self.ended.curves, self.budget
        rows = np.flatnonzero(self.ended.pruned & np.isfinite(self.quantiles[:, 1]))
        stop = c.last_pos[rows]
        cols = np.arange(budget)[None, :]
        ramp = np.clip((cols - stop[:, None]) / np.maximum(budget - 1 - stop, 1)[:, None], 0.0, 1.0)
        after = cols > stop[:, None]
        done = ~self.ended.pruned
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)          # a step no completed trial has a cost for
            typical = np.nanmedian(np.where(c.present[done, :budget], c.cost[done, :budget], np.nan), axis=0)
        present = c.present[:, :budget].copy()
        cost = c.cost[:, :budget].copy()
        cost[rows] = np.where(after, typical[None, :], cost[rows])
        present[rows] = c.present[rows, :budget] | after
        return rows, c.values[rows, stop], ramp, after, present, np.where(present, cost, np.nan)

    def realise(self, z: np.ndarray) -> StudyCurves:
        """The ended trials' curves to the budget, pruned ones run on to their finals at draws ``z``."""
        c, budget = self.ended.curves, self.budget
        rows, last, ramp, after, present, cost = self._runs
        values = c.values[:, :budget].copy()
        if len(rows):
            final = self.finals(np.asarray(z, dtype=np.float64)[rows], rows)
            values[rows] = np.where(after, last[:, None] + ramp * (final - last)[:, None], values[rows])
        return StudyCurves(c.study, c.task, c.direction, c.trials, c.trial_numbers, c.steps[:budget],
                           np.where(present, values, np.nan), present, cost)

    def early_order(self) -> float:
        """How well the study's early values rank its finals: Spearman's correlation, over the trials that ran
        the whole budget (at least 4), between the value at a quarter of the budget and the final (ties share their
        mean rank; NaN if fewer, or if either side is constant)."""
        e = self.ended
        c = e.curves
        full = np.flatnonzero(~e.pruned & (c.last_pos == e.budget - 1))
        if len(full) < 4:
            return float("nan")
        s = max((e.budget - 1) // 4, 0)
        full = full[_reported(c, full, s)]
        if len(full) < 4:
            return float("nan")
        from policy_store.meta.features.curve import _spearman

        early, final = _prefixes(c, full, np.full(len(full), s))[0][:, s], c.final_values[full]
        if np.ptp(early) == 0 or np.ptp(final) == 0:
            return float("nan")
        return _spearman(early, final)

    def kill_risk(self) -> float:
        """Probability that the trials ended so far lost the best one to a prune (:func:`beat_probability`)."""
        return float(1.0 - np.prod(1.0 - beat_probability(self)))

    def to_dict(self) -> dict[str, Any]:
        """The figures a switch records about its evidence."""
        e = self.ended
        return {"ended": e.n_trials, "completed": e.n_completed, "pruned": e.n_pruned, "audit_checks": e.n_checks,
                "budget_steps": e.budget, "audit_shift": round(self.shift, 4), "forecaster": self.forecaster,
                "kill_risk": round(self.kill_risk(), 4),
                "early_order": None if math.isnan(order := self.early_order()) else round(order, 4)}


#: Pseudo-trials the forecaster's predictive counts as when pooled with the study's own step -> final relation.
RELATION_PRIOR = 4.0


def _related(ended: EndedTrials, rows: np.ndarray, q: np.ndarray, budget: int) -> np.ndarray:
    """``q`` of the pruned ``rows`` pooled with the study's own step -> final relation at their cut columns.

    For each column ``s`` a pruned trial was cut at, the trials that ran the
    whole budget (audited shadow prunes included: they are the kills the rule
    makes, run to the end) give pairs (value at ``s``, final); a least-squares
    line through them (slope >= 0: a better value at ``s`` never predicts a worse
    final) and its prediction error at the cut trial's value (residual spread
    inflated for a value far from theirs) are a normal predictive of the cut
    trial's final. It is mixed with the forecaster's predictive with weight
    ``k / (k + RELATION_PRIOR)`` for ``k`` such trials (at least 3). A
    study whose curves cross (a bad value at ``s`` says little of the final)
    gets a wide predictive, so its cut trials may well beat the incumbent; one
    whose curves keep their order gets a sharp one.
    """
    c = ended.curves
    full = np.flatnonzero(~ended.pruned & (c.last_pos == budget - 1))
    if len(full) < 3:
        return q
    stops = c.last_pos[rows]
    out = q.copy()
    for s in np.unique(stops[stops < budget - 1]):
        seen_s = full[_reported(c, full, s)]      # a trial whose first report came later has no prefix
        k = len(seen_s)
        if k < 3:
            continue
        w = k / (k + RELATION_PRIOR)
        y = c.final_values[seen_s]
        x = _prefixes(c, seen_s, np.full(k, s))[0][:, s]
        at = np.flatnonzero(stops == s)
        x0 = _prefixes(c, rows[at], np.full(len(at), s))[0][:, s]
        sxx = float(((x - x.mean()) ** 2).sum())
        slope = max(float(((x - x.mean()) * (y - y.mean())).sum()) / sxx, 0.0) if sxx > 0 else 0.0
        resid = y - y.mean() - slope * (x - x.mean())
        sd2 = float((resid ** 2).sum()) / (k - 2)
        pred_sd = np.sqrt(sd2 * (1 + 1 / k + ((x0 - x.mean()) ** 2 / sxx if sxx > 0 else 0.0)))
        pred = y.mean() + slope * (x0 - x.mean())
        out[at] = _mixture_quantiles(w, pred, np.maximum(pred_sd, 1e-12), q[at])
    return out


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF, elementwise (``scipy.special.ndtr``; SciPy imported here, where it is used).

    >>> _normal_cdf(np.array([-np.inf, 0.0, 1.2816])).round(4).tolist()
    [0.0, 0.5, 0.9]
    """
    from scipy.special import ndtr

    return ndtr(np.asarray(z, dtype=np.float64))


def _split_cdf(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """CDF at ``x`` of the split normals through each row's 10/50/90 % quantiles ``q``."""
    lo, mid, hi = q.T
    sd = np.maximum(np.where(x < mid, mid - lo, hi - mid), 1e-12) / _Z90
    return _normal_cdf((x - mid) / sd)


def _mixture_quantiles(w: float, mean: np.ndarray, sd: np.ndarray, q: np.ndarray) -> np.ndarray:
    """10/50/90 % quantiles of ``w`` x normal(``mean``, ``sd``) + (1 - ``w``) x the split normals of ``q`` (bisection).

    A mixture, not an average: where the study's relation and the forecaster disagree,
    the predictive keeps both, so a cut trial's chance of ending on top is not averaged away.
    """
    out = np.empty_like(q)
    low = np.minimum(mean - 4 * sd, q[:, 0] - 4 * (q[:, 1] - q[:, 0]) - 1e-9)
    high = np.maximum(mean + 4 * sd, q[:, 2] + 4 * (q[:, 2] - q[:, 1]) + 1e-9)
    for j, level in enumerate(LEVELS):
        a, b = low.copy(), high.copy()
        for _ in range(40):
            x = 0.5 * (a + b)
            cdf = w * _normal_cdf((x - mean) / sd) + (1 - w) * _split_cdf(x, q)
            a, b = np.where(cdf < level, x, a), np.where(cdf < level, b, x)
        out[:, j] = 0.5 * (a + b)
    return np.maximum.accumulate(out, axis=1)


def beat_probability(cont: Continuations) -> np.ndarray:
    """Per ended trial: the probability that its final beats the best final of the trials that completed unaudited.

    A pruned trial's from its forecast (the split normal of :meth:`Continuations.finals`);
    an audited shadow prune's is 1 or 0 (its real final); others 0. The rule in
    force killed the best trial so far with probability ``1 - prod(1 - p)`` over
    the trials it ended (:meth:`Continuations.kill_risk`).
    """
    e = cont.ended
    c = e.curves
    sign = 1.0 if c.direction == "maximize" else -1.0
    plain = ~e.pruned & (e.shadow < 0) & (c.last_pos == e.budget - 1)
    p = np.zeros(c.n_trials)
    if not plain.any():
        return p
    best = float(np.max(sign * c.final_values[plain]))
    rows = np.flatnonzero(e.pruned & np.isfinite(cont.quantiles[:, 1]))
    if len(rows):
        lo, mid, hi = (sign * cont.quantiles[rows].T)
        lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)   # a minimised metric's 10 % is its signed 90 %
        sd = np.where(mid < best, hi - mid, mid - lo) / _Z90
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sd > 0, (mid - best) / sd, np.where(mid > best, np.inf, -np.inf))
        p[rows] = _normal_cdf(z)
    checks = np.flatnonzero(e.shadow >= 0)
    p[checks] = (sign * c.final_values[checks] > best).astype(float)
    return p


def resolve_forecaster(forecaster: Any = None) -> Any:
    """A forecaster object as is; None or a name: :func:`policy_store.meta.forecast.load_forecaster`'s (cached)."""
    if forecaster is None or isinstance(forecaster, str):
        from policy_store.meta.forecast import load_forecaster

        return load_forecaster(*([forecaster] if forecaster else []))
    return forecaster


def study_context(ended: EndedTrials) -> tuple[np.ndarray, np.ndarray]:
    """The study's COMPLETE curves as the forecaster's ``context``, and their rows in ``ended``.

    Every trial that ran to the end (audited ones included), in the order of
    their rows in ``ended`` (trial-number order live, the replay's order offline:
    the order the forecast rule's context has in each), built by the forecast
    rule's own :func:`~policy_store.rules.strategies.forecast.context_curves`:
    each row's finite reports left-packed in step order, NaN after them (a trial
    that skipped steps or reported NaN is not filled in, so its row is shorter
    than the budget and it is no complete curve to the forecaster), as wide as
    the longest row (at least 1), as :func:`~policy_store.rules.strategies.forecast.optuna_inputs`
    gives it live.

    >>> c = StudyCurves.from_arrays("s", [[0.9, 0.6, 0.4, 0.3], [np.nan, np.nan, 0.6, 0.9], [1.2, 1.1, 1.0, 0.8]],
    ...                             present=[[1, 1, 1, 1], [0, 0, 1, 1], [1, 1, 1, 0]])
    >>> ctx, done = study_context(EndedTrials.build(c, pruned=[False, False, True]))
    >>> ctx.tolist(), done.tolist()
    ([[0.9, 0.6, 0.4, 0.3], [0.6, 0.9, nan, nan]], [0, 1])
    """
    c = ended.curves
    done = np.flatnonzero(~ended.pruned)
    ctx = context_curves(c.values[done], c.present[done])
    return ctx[:, :max(int(np.isfinite(ctx).sum(axis=1).max(initial=0)), 1)], done


def continue_pruned(ended: EndedTrials, forecaster: Any, *, rank: bool = True) -> Continuations:
    """Forecast every pruned trial's final from the study's COMPLETE curves, corrected by the audit checks.

    ``ended`` must have a completed trial (:func:`evidence_gap`); the forecaster
    follows :class:`policy_store.meta.forecast.Forecaster` and sees the study's COMPLETE
    curves as its ``context``, built as the forecast rule builds its own (:func:`study_context`;
    an audit check's own curve left out of its forecast's): the learned forecaster places each cut
    prefix among them and rescales its interval by its misses on them.
    ``rank``: pool with the study's own step -> final relation at the cut step (:func:`_related`).
    """
    budget = ended.budget
    if budget == 0:
        raise InvalidInputError("no completed trial: the budget to forecast to is unknown", field="ended")
    c = ended.curves
    maximize = c.direction == "maximize"
    sign = 1.0 if maximize else -1.0
    q = np.full((c.n_trials, len(LEVELS)), np.nan)
    checks = np.flatnonzero(ended.shadow >= 0)
    checks = checks[[bool(_reported(c, checks[k:k + 1], int(ended.shadow[r]))[0]) for k, r in enumerate(checks)]] \
        if len(checks) else checks
    ctx, done = study_context(ended)
    shift = 0.0
    if len(checks):                           # a check is a COMPLETE trial: its own curve is not its context
        vals, seen = _prefixes(c, checks, ended.shadow[checks])
        qc = np.vstack([forecaster.quantiles(vals[k:k + 1], seen[k:k + 1], budget, maximize, levels=LEVELS,
                                             context=ctx[done != r]) for k, r in enumerate(checks)])
        width = np.maximum(qc[:, 2] - qc[:, 0], 1e-12)
        miss = sign * (c.final_values[checks] - qc[:, 1]) / width
        shift = float(np.clip(np.nansum(miss) / (len(checks) + CHECK_PRIOR), -3.0, 3.0))
    # a pruned trial that reported no finite value before its prune keeps NaN quantiles: the draws leave it
    # where it was cut (no final to forecast from nothing)
    rows = np.flatnonzero(ended.pruned)
    rows = rows[_reported(c, rows, int(c.n_steps) - 1)] if len(rows) else rows
    if len(rows):
        vals, seen = _prefixes(c, rows, c.last_pos[rows])
        qp = forecaster.quantiles(vals, seen, budget, maximize, levels=LEVELS, context=ctx)
        qp = qp + sign * shift * np.maximum(qp[:, 2:3] - qp[:, 0:1], 0.0)
        if rank:
            qp = _related(ended, rows, qp, budget)
        q[rows] = qp
    return Continuations(ended, q, shift, str(getattr(forecaster, "name", type(forecaster).__name__)))
