"""Within-study adaptation: the first study on a new task is its own probe.

A study starts from the meta-learned rule. Each time a trial ends,
:class:`AdaptiveSelector` re-scores every candidate of the grid on the ended
trials so far (:class:`~.evidence.EndedTrials`: completed ones as they ran,
pruned ones continued to a final drawn from the forecaster's predictive,
audited ones as checks of the forecaster; see :mod:`.evidence`) with the
replay engine, and blends that evidence with the meta-learned prior by their
uncertainties:

- **prior**, per candidate: the model's expected utility ``saved - lam * regret``
  (:class:`Prior`), its variance from the forest's 10-90 % spread over trees
  (read as a normal's: sd = width / 2.563; saved and regret taken independent);
- **data**, per candidate: the mean utility over ``n_boot`` bootstrap
  replicates of the ended trials (resampled with replacement, each pruned
  trial's final drawn afresh), its variance the replicates' variance plus
  ``small_study / n``: a few trials' outcome is a biased estimate of a whole
  study's (startup gates, fewer trials to beat), not only a noisy one;
- **gain** of each candidate over the rule in force: the same blend applied to
  the paired difference (both replayed on the same replicates, so what they
  share cancels), prior ``m_c - m_i`` with variance ``v_c + v_i``.

The selector switches only when the evidence's lower bound says so: the
candidate with the largest lower bound ``gain - margin * se`` takes over if that
bound is above 0 (a rule that kills too much loses to a safer one; a timid one
to a more aggressive one; :attr:`Switch.direction` says which). Re-scoring waits
for ``min_trials`` ended trials, one of them completed (the budget the pruned
ones are forecast to); until then :attr:`AdaptiveSelector.status` says "no
evidence yet" and why. It is deterministic: replicate ``b`` at ``n`` ended
trials draws from ``numpy.random.default_rng([seed, n])``.

Regret is measured in units of the completed trials' own scale
(:func:`~policy_store.curves.regret_scale`: 1 for a maximised
metric, the median final loss for a minimised one), the units the meta-model
was trained and evaluated in, so the prior and the study's evidence are
blended in one currency (a loss of 800 is not 800 times an accuracy point).

A switch only changes the rule for decisions still to come: what was pruned
stays pruned (the caller never asks again about a trial it stopped), and the
new rule decides with the study's real history behind it.

Examples
--------
>>> import numpy as np
>>> from policy_store.curves import StudyCurves
>>> from policy_store.rules import RuleSpec
>>> rng = np.random.default_rng(0)
>>> finals = rng.uniform(0.5, 0.9, 30)
>>> c = StudyCurves.from_arrays("s", finals[:, None] * (1 - 0.5 ** np.arange(1, 9))[None, :]
...                             + rng.normal(0, 0.02, (30, 8)), direction="maximize")
>>> specs = [RuleSpec.parse({"strategy": "median", "params": {"n_warmup_steps": w}}) for w in (0, 6)]
>>> prior = Prior(("w0", "w6"), tuple(specs), saved=np.array([0.1, 0.6]), regret=np.array([0.0, 0.0]),
...               saved_sd=np.array([0.1, 0.1]), regret_sd=np.array([0.001, 0.001]))
>>> sel = AdaptiveSelector(prior, min_trials=10, seed=0)
>>> sel.incumbent_name
'w6'
>>> switch = sel.observe(c)             # on its own trials, waiting 6 steps saves far less than 0.6
>>> switch is None or switch.to_name == "w0"
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from policy_store.meta.adaptation.evidence import (
    Continuations,
    EndedTrials,
    continue_pruned,
    evidence_gap,
    resolve_forecaster,
)

from policy_store.curves import StudyCurves, regret_scale
from policy_store.errors import InvalidInputError
from policy_store.replay.engine import replay_many
from policy_store.replay.outcomes import outcome_arrays
from policy_store.rules.spec import RuleSpec

#: Width of a normal's 10-90 % interval in standard deviations (2 x 1.2816).
_WIDTH_SD = 2.5631
#: Variance floor of a utility estimate: a spread of exactly zero is a tiny sample, not certainty.
VAR_FLOOR = 1e-4


@dataclass(frozen=True, eq=False)
class Prior:
    """The meta-learned expectation of every candidate: its spec, expected saved/regret and their spread."""

    names: tuple[str, ...]
    specs: tuple[RuleSpec, ...]
    saved: np.ndarray
    regret: np.ndarray
    saved_sd: np.ndarray
    regret_sd: np.ndarray
    killed: np.ndarray | None = None
    start: int | None = None
    """The candidate to start from (default: the best prior utility)."""

    def __post_init__(self) -> None:
        n = len(self.names)
        if n == 0 or len(self.specs) != n:
            raise InvalidInputError(f"a prior needs one spec per candidate name ({n} names, {len(self.specs)} specs)",
                                    field="specs")
        for name in ("saved", "regret", "saved_sd", "regret_sd"):
            if np.shape(getattr(self, name)) != (n,):
                raise InvalidInputError(f"{name} must have one value per candidate ({n})", field=name)
        if self.start is not None and not 0 <= self.start < n:
            raise InvalidInputError(f"start must index a candidate (0..{n - 1}), got {self.start}", field="start")

    @classmethod
    def from_expected(cls, expected: Any, grid: Sequence[Any], direction: str, *, start: int | None = None) -> Prior:
        """From :meth:`MetaModel.expected` over the model's ``grid`` (posterior candidates get its prior).

        The spread is the larger of the trees' disagreement on this task and the model's typical
        error on tasks it did not see (``expected.residual_sd``, out-of-bag): trees that agree on a
        wrong answer must not make the prior outweigh the study's own trials.
        """
        sd = (np.asarray(expected.high, float) - np.asarray(expected.low, float)) / _WIDTH_SD
        if getattr(expected, "residual_sd", None) is not None:
            sd = np.maximum(sd, np.asarray(expected.residual_sd, float))
        return cls(tuple(g.name for g in grid), tuple(g.spec(expected.prior, direction) for g in grid),
                   np.asarray(expected.saved, float), np.asarray(expected.regret, float),
                   sd[:, 0], sd[:, 1], np.asarray(expected.killed, float), start)

    @classmethod
    def uninformative(cls, grid: Sequence[Any], direction: str, start: int, *, sd: float = 1.0) -> Prior:
        """No model (cold start): equal expectations, wide spread; only the study's own evidence counts."""
        n = len(grid)
        return cls(tuple(g.name for g in grid), tuple(g.spec(None, direction) for g in grid), np.zeros(n),
                   np.zeros(n), np.full(n, sd), np.zeros(n), None, start)

    def utility(self, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of ``saved - lam * regret`` per candidate."""
        var = np.nan_to_num(self.saved_sd ** 2 + (lam * self.regret_sd) ** 2, nan=1.0)
        return (np.nan_to_num(self.saved - lam * self.regret, nan=-np.inf), np.maximum(var, VAR_FLOOR))


def start_prior(model: Any, direction: str, rec: Any = None, *, curves: Sequence[StudyCurves] = ()) -> Prior:
    """The prior a study adapts from, starting at recommendation ``rec`` of ``model``.

    No model, or a cold-start recommendation (or no ``rec`` and no model): an
    uninformative prior over the grid, starting at ``rec``'s rule (default: the
    documented cold-start rule, :data:`~policy_store.meta.recommend.COLD_START_SPEC`).
    Else the model's expectation for ``rec``'s meta-features (and ``curves``).

    >>> prior = start_prior(None, "maximize")
    >>> prior.names[prior.start], float(prior.saved_sd[0])
    ('sha-eta2-min4', 1.0)
    """
    from policy_store.meta.learner.grid import candidate_grid
    from policy_store.meta.recommend import COLD_START_SPEC

    if model is None or rec is None or rec.cold_start:
        grid = candidate_grid()
        wanted = rec.spec.spec_hash if rec is not None else RuleSpec.parse(COLD_START_SPEC).spec_hash
        start = next(i for i, g in enumerate(grid) if g.spec(None, direction).spec_hash == wanted)
        return Prior.uninformative(grid, direction, start)
    exp = model.expected(rec.inputs["meta_features"], curves=curves, direction=direction)
    return Prior.from_expected(exp, model.grid, direction, start=[g.name for g in model.grid].index(rec.candidate))


@dataclass(frozen=True, eq=False)
class Evidence:
    """One re-scoring on ``n_ended`` trials (arrays over candidates)."""

    n_completed: int
    regret_unit: float
    """What a regret of 1 is in the metric's units (:func:`~policy_store.curves.regret_scale`)."""
    saved: np.ndarray
    regret: np.ndarray
    killed: np.ndarray
    data_mean: np.ndarray
    data_var: np.ndarray
    post_mean: np.ndarray
    post_var: np.ndarray
    n_ended: int = 0
    basis: dict[str, Any] = field(default_factory=dict)
    """What the re-scoring stood on (:meth:`~.evidence.Continuations.to_dict`)."""
    diff_mean: np.ndarray | None = None
    """Blended utility of each candidate minus the incumbent's, from paired replicates."""
    diff_var: np.ndarray | None = None


@dataclass(frozen=True)
class Switch:
    """A change of rule, with the evidence behind it."""

    from_index: int
    to_index: int
    from_name: str
    to_name: str
    n_completed: int
    incumbent: dict[str, float]
    challenger: dict[str, float]
    margin: float
    basis: dict[str, Any] = field(default_factory=dict)
    """The evidence re-scored: ended / completed / pruned trials, audit checks, the forecaster."""
    gain: float = float("nan")
    """Blended utility gain of the challenger over the incumbent (paired replicates)."""
    gain_se: float = float("nan")
    returning: bool = False
    """The challenger is a rule the study left before (its bound stood ``return_margin`` more se below its gain)."""
    since_last: int | None = None
    """Ended trials since the previous switch (None for the first)."""

    @property
    def direction(self) -> str:
        """``safer`` (the challenger kills less: lower replayed regret) or ``more aggressive`` (saves more)."""
        return "safer" if self.challenger["saved"] < self.incumbent["saved"] else "more aggressive"

    @property
    def reason(self) -> str:
        """One line: from -> to, which way, the evidence it stood on, the utilities and the lower bound."""
        i, c, b = self.incumbent, self.challenger, self.basis
        on = (f"{b.get('ended', self.n_completed)} ended trials ({self.n_completed} completed, "
              f"{b.get('pruned', 0)} pruned with forecast finals, {b.get('audit_checks', 0)} audit checks"
              + (f", forecaster {b['forecaster']}, audit shift {b['audit_shift']:+.2f}" if "forecaster" in b else "")
              + (f", kill risk {b['kill_risk']:.2f}" if "kill_risk" in b else "")
              + (f", early order {b['early_order']:.2f}" if b.get("early_order") is not None else "")
              + ")")
        why = ("the rule in force kills too much" if self.direction == "safer" else "the rule in force is too timid")
        return (f"adaptive switch {self.from_name} -> {self.to_name} ({self.direction}: {why}) after {on}: "
                f"utility gain +{self.gain:.4f}, lower bound {self.gain - self.margin * self.gain_se:+.4f} "
                f"({self.margin:g} x se {self.gain_se:.4f}); replayed saved {c['saved']:.3f} vs {i['saved']:.3f}, "
                f"regret {c['regret']:.4f} vs {i['regret']:.4f}, killed best {c['killed_best']:.2f} vs "
                f"{i['killed_best']:.2f}; own trials {c['data_mean']:.4f} vs {i['data_mean']:.4f}, "
                f"prior {c['prior_mean']:.4f} vs {i['prior_mean']:.4f}"
                + ("; back to a rule it left, on a wider bound" if self.returning else "")
                + (f"; {self.since_last} ended trials since the last switch" if self.since_last is not None else ""))

    @property
    def se_diff(self) -> float:
        return self.gain_se

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.from_name, "to": self.to_name, "n_completed": self.n_completed,
                "direction": self.direction, "evidence": self.basis, "gain": self.gain, "gain_se": self.gain_se,
                "incumbent": self.incumbent, "challenger": self.challenger, "margin": self.margin,
                "returning": self.returning, "since_last": self.since_last, "reason": self.reason}


def _resampled(c: StudyCurves, rows: np.ndarray, b: int) -> StudyCurves:
    return StudyCurves(c.study, c.task, c.direction, np.array([f"{b}:{r}" for r in rows], dtype=object),
                       np.arange(len(rows)), c.steps, c.values[rows], c.present[rows], c.cost[rows])


def score_candidates(completed: StudyCurves | EndedTrials | Continuations, specs: Sequence[RuleSpec], *,
                     lam: float = 20.0, n_boot: int = 16, seed: int = 0, regret_unit: float = 1.0,
                     forecaster: Any = None, rank: bool = True) -> dict[str, Any]:
    """Every spec replayed on bootstrap replicates of a study's completed trials (or of its ended trials).

    Returns ``saved``, ``regret`` (divided by ``regret_unit``), ``killed`` (means
    over replicates), the utility's ``mean`` and ``var`` over replicates, one
    value per spec, and the replicates' utilities ``u`` (n_boot, n_specs).
    Given :class:`~.evidence.EndedTrials`, the pruned trials' finals are forecast first
    (:func:`~.evidence.continue_pruned` with ``forecaster`` -- an object or a name of
    :func:`policy_store.meta.forecast.load_forecaster` -- and ``rank``; here, so a
    re-scoring child process forecasts too) and ``basis`` says what the evidence held;
    each replicate resamples the ended trials and draws every pruned trial's final
    from its forecast.

    >>> c = StudyCurves.from_arrays("s", [[3.0, 2.0, 1.0], [3.5, 3.0, 2.5], [2.0, 1.5, 0.5], [4.0, 3.9, 3.8]])
    >>> specs = [RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 1}}),
    ...          RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 1, "n_warmup_steps": 2}})]
    >>> s = score_candidates(c, specs, n_boot=8, seed=1)
    >>> bool(s["saved"][0] > s["saved"][1]), s["mean"].shape
    (True, (2,))
    """
    if isinstance(completed, EndedTrials):
        completed = continue_pruned(completed, resolve_forecaster(forecaster), rank=rank)
    cont = completed if isinstance(completed, Continuations) else None
    base = cont.ended.curves if cont is not None else completed
    n = base.n_trials
    if n == 0:
        raise InvalidInputError("no completed trial to score the candidates on", field="curves")
    rng = np.random.default_rng([int(seed), n])
    subs = []
    for b in range(n_boot):
        rows = rng.integers(0, n, n)
        subs.append(_resampled(cont.realise(rng.standard_normal(n)) if cont is not None else base, rows, b))
    per_study = replay_many(subs, list(specs), (0,), study_names=[base.study] * n_boot)
    outs = [outcome_arrays(s, r) for s, r in zip(subs, per_study, strict=True)]
    saved = np.stack([o["compute_saved"] for o in outs])           # (n_boot, n_specs)
    regret = np.stack([o["regret"] for o in outs]) / regret_unit
    killed = np.stack([o["killed_best"] for o in outs]).astype(float)
    # a replicate where a rule let nothing finish: the worst regret any rule had there
    worst = np.nanmax(np.where(np.isnan(regret), -np.inf, regret), axis=1, keepdims=True)
    regret = np.where(np.isnan(regret), np.maximum(worst, 0.0), regret)
    u = saved - lam * regret
    return {"saved": saved.mean(0), "regret": regret.mean(0), "killed": killed.mean(0), "mean": u.mean(0),
            "var": u.var(0, ddof=1) if n_boot > 1 else np.zeros(u.shape[1]), "u": u,
            "basis": cont.to_dict() if cont is not None else {"ended": n}}


@dataclass
class AdaptiveSelector:
    """Choose the rule of one study from the meta-learned prior and the study's own ended trials.

    Parameters
    ----------
    prior:
        Every candidate's spec and meta-learned expectation (:class:`Prior`).
    lam:
        The trade-off: utility = ``saved - lam * regret``.
    min_trials:
        Ended trials (completed or pruned) before a re-scoring; one of them must have completed.
    every:
        Re-score at every ``every``-th ended trial.
    margin:
        How many standard errors the lower bound of the challenger's gain stands below its mean.
    n_boot:
        Bootstrap replicates per re-scoring.
    seed:
        Seed of the replicates.
    small_study:
        Extra data variance ``small_study / n_ended`` (see the module docstring; 0.1 chosen on the grouped
        CV of benchmarks/adaptive_cv.py over 0.25 and 0.05, with the gates on).
    scorer:
        What re-scores (default :func:`score_candidates`; a live study runs it in a child
        process: :class:`~policy_store.meta.adaptation.worker.RescoreProcess`).
    forecaster:
        Forecasts the finals of pruned trials: a :class:`~policy_store.meta.forecast.Forecaster`,
        or the name :func:`policy_store.meta.forecast.load_forecaster` takes (default: the shipped one).
    rank:
        Pool the forecasts with the study's own step -> final relation at each cut step
        (:func:`~.evidence.continue_pruned`).
    cooldown:
        Ended trials after a switch before the next re-scoring (no A -> B -> A flapping on
        the same few trials).
    return_margin:
        A rule the study left before takes over again only if its gain's lower bound with
        ``margin + return_margin`` standard errors is above 0.
    gate:
        A switch must agree with the evidence about kills: a safer challenger only if the
        re-scoring sees the rule in force kill the best trial more often than it; a more
        aggressive one only if the study's early values rank its finals
        (:meth:`~.evidence.Continuations.early_order` >= ``order_gate``) or the regret its extra
        kills cost in the re-scoring is at most half the compute it saves.

    Attributes
    ----------
    incumbent:
        Index of the candidate in force.
    switches, evidence:
        Every switch made and every re-scoring, in order.
    status:
        One line on the evidence so far: why there is none yet, or what the last re-scoring said.
    """

    prior: Prior
    lam: float = 20.0
    min_trials: int = 4
    every: int = 1
    margin: float = 1.0
    n_boot: int = 16
    seed: int = 0
    small_study: float = 0.1
    scorer: Callable[..., dict[str, np.ndarray]] = field(default=score_candidates, repr=False, compare=False)
    forecaster: Any = field(default=None, repr=False, compare=False)
    rank: bool = True
    cooldown: int = 4
    return_margin: float = 1.0
    gate: bool = True
    order_gate: float = 0.5
    incumbent: int = field(init=False)
    switches: list[Switch] = field(init=False, default_factory=list)
    evidence: list[Evidence] = field(init=False, default_factory=list)
    status: str = field(init=False, default="")
    _scored_at: int = field(init=False, default=0)
    _switched_at: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if (self.min_trials < 2 or self.every < 1 or self.n_boot < 2 or not self.margin >= 0
                or not self.small_study >= 0 or self.cooldown < 0 or not self.return_margin >= 0):
            raise InvalidInputError("need min_trials >= 2, every >= 1, n_boot >= 2, margin >= 0, small_study >= 0, "
                                    "cooldown >= 0 and return_margin >= 0", field="min_trials")
        self._prior_mean, self._prior_var = self.prior.utility(self.lam)
        self.incumbent = (int(np.argmax(self._prior_mean)) if self.prior.start is None else int(self.prior.start))
        self.status = f"no evidence yet: no trial has ended, re-scoring needs {self.min_trials} ended trials"

    @property
    def spec(self) -> RuleSpec:
        """The spec in force."""
        return self.prior.specs[self.incumbent]

    @property
    def incumbent_name(self) -> str:
        return self.prior.names[self.incumbent]

    def due(self, n_ended: int) -> bool:
        """Would :meth:`observe` re-score with this many ended trials (cheap; no replay)?"""
        return (n_ended >= self.min_trials and n_ended - self._scored_at >= self.every
                and (not self.switches or n_ended - self._switched_at >= self.cooldown))

    def rescore(self, ended: EndedTrials | StudyCurves) -> Evidence:
        """Blend the candidates' utility on ``ended`` with the prior (no switch; recorded in :attr:`evidence`).

        ``ended`` as :class:`~.evidence.EndedTrials` (pruned trials continued by the
        forecaster), or plain curves of completed trials. A candidate declared for
        the other direction than the study's (a ``posterior`` prior signed for it) is
        not scored and never chosen.
        """
        if isinstance(ended, StudyCurves):
            n, n_done, unit, direction = ended.n_trials, ended.n_trials, regret_scale(ended), ended.direction
        else:
            n, n_done, unit, direction = ended.n_trials, ended.n_completed, ended.regret_unit(), ended.curves.direction
        ok = np.array([sp.direction in (None, direction) for sp in self.prior.specs])
        part = self.scorer(ended, [sp for sp, k in zip(self.prior.specs, ok, strict=True) if k], lam=self.lam,
                           n_boot=self.n_boot, seed=self.seed, regret_unit=unit, forecaster=self.forecaster,
                           rank=self.rank)
        basis = dict(part.get("basis") or {"ended": n})
        s = {}
        for key in ("saved", "regret", "killed", "mean", "var"):
            s[key] = np.full(len(ok), np.nan)
            s[key][ok] = part[key]
        u = np.full((self.n_boot, len(ok)), np.nan)
        u[:, ok] = part["u"]
        v_d = np.maximum(np.nan_to_num(s["var"], nan=1.0) + self.small_study / n, VAR_FLOOR)
        w_p, w_d = 1.0 / self._prior_var, 1.0 / v_d
        finite = np.isfinite(self._prior_mean) & ok
        post_var = 1.0 / (w_p + w_d)
        post_mean = np.where(finite, (np.where(finite, self._prior_mean, 0.0) * w_p + s["mean"] * w_d) * post_var,
                             -np.inf)
        # the gain over the incumbent from paired replicates: both replayed on the same trials and draws
        i = self.incumbent
        d = u - u[:, [i]]
        dv_d = np.maximum(np.nan_to_num(d.var(0, ddof=1), nan=1.0) + self.small_study / n, VAR_FLOOR)
        dv_p = self._prior_var + self._prior_var[i]
        dm_p = np.where(finite, self._prior_mean, 0.0) - (self._prior_mean[i] if finite[i] else 0.0)
        diff_var = 1.0 / (1.0 / dv_p + 1.0 / dv_d)
        diff_mean = np.where(finite, (dm_p / dv_p + np.nan_to_num(d.mean(0), nan=0.0) / dv_d) * diff_var, -np.inf)
        ev = Evidence(n_done, unit, s["saved"], s["regret"], s["killed"], s["mean"], v_d, post_mean, post_var, n,
                      basis, diff_mean, diff_var)
        self.evidence.append(ev)
        self._scored_at = n
        return ev

    def _barred(self, ev: Evidence, basis: dict[str, Any]) -> np.ndarray:
        """Candidates the kill evidence bars (``gate``): see the class docstring."""
        i = self.incumbent
        safer = ev.saved < ev.saved[i]
        killed = np.nan_to_num(ev.killed, nan=1.0)
        order = basis.get("early_order")
        ordered = order >= self.order_gate if order is not None else "early_order" not in basis
        cheap = self.lam * (ev.regret - ev.regret[i]) <= 0.5 * (ev.saved - ev.saved[i])
        return np.where(safer, ~(killed < killed[i]), ~(ordered | cheap))

    def observe(self, ended: EndedTrials | StudyCurves) -> Switch | None:
        """Take the study's ended trials so far (in the order they entered); maybe switch rule.

        Returns the :class:`Switch` made, or None (not due, no evidence yet, or no
        candidate's gain has a lower bound above 0). :attr:`status` says which.
        """
        n = ended.n_trials
        if isinstance(ended, EndedTrials):
            gap = evidence_gap(ended, self.min_trials)
            if gap is not None:
                self.status = gap
                return None
        if not self.due(n):
            if self.switches and n - self._switched_at < self.cooldown and n >= self.min_trials:
                self.status = (f"kept {self.incumbent_name}: {n - self._switched_at} ended trials since the switch, "
                               f"re-scoring waits for {self.cooldown}")
            return None
        ev = self.rescore(ended)
        i = self.incumbent
        sd = np.sqrt(ev.diff_var)
        left = np.zeros(len(sd), dtype=bool)
        left[[s.from_index for s in self.switches]] = True
        low = ev.diff_mean - (self.margin + np.where(left, self.return_margin, 0.0)) * sd
        low[i] = -np.inf
        basis = ev.basis or {"ended": n}
        barred = self._barred(ev, basis) if self.gate else np.zeros(len(low), dtype=bool)
        c = int(np.argmax(np.where(barred, -np.inf, low)))
        on = (f"{basis.get('ended', n)} ended trials ({ev.n_completed} completed, {basis.get('pruned', 0)} pruned, "
              f"{basis.get('audit_checks', 0)} audit checks)")
        if not low[c] > 0 or barred[c]:
            best = int(np.argmax(low)) if np.isfinite(low).any() else i
            why = (" (the kill evidence bars it)" if barred[best] and low[best] > 0 else "")
            self.status = (f"kept {self.incumbent_name} on {on}: best challenger {self.prior.names[best]} "
                           f"gains {ev.diff_mean[best]:+.4f}, lower bound {low[best]:+.4f}"
                           + (why or " <= 0"))
            return None

        def figures(k: int) -> dict[str, float]:
            return {"post_mean": float(ev.post_mean[k]), "post_var": float(ev.post_var[k]),
                    "data_mean": float(ev.data_mean[k]), "data_var": float(ev.data_var[k]),
                    "prior_mean": float(self._prior_mean[k]), "prior_var": float(self._prior_var[k]),
                    "saved": float(ev.saved[k]), "regret": float(ev.regret[k]), "regret_unit": ev.regret_unit,
                    "killed_best": float(ev.killed[k])}

        sw = Switch(i, c, self.prior.names[i], self.prior.names[c], ev.n_completed, figures(i), figures(c),
                    self.margin + (self.return_margin if left[c] else 0.0), dict(basis), float(ev.diff_mean[c]),
                    float(sd[c]), bool(left[c]), n - self._switched_at if self.switches else None)
        self.incumbent = c
        self._switched_at = n
        self.switches.append(sw)
        self.status = f"switched {sw.from_name} -> {sw.to_name} ({sw.direction}) on {on}"
        return sw
