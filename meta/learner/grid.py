"""The candidate grid: the rule specs the meta-learner chooses among.

Every candidate is a named rule spec. ``posterior`` candidates are templates: their
prior (``prior_mean``, ``prior_beta``) is filled in per task, from the task's own
first study when its outcomes are measured, and from the nearest past tasks when
the meta-learner recommends it for a new task (:meth:`Candidate.spec`).

==================  ===============================================================  ====
family              values                                                           n
==================  ===============================================================  ====
median/percentile   percentile 25, 50 (``median``), 75, 90 x warm-up 0, 2, 4, 6       32
                    x startup trials 2, 5
successive halving  ``SuccessiveHalvingPruner()`` + reduction 2, 3, 4 x min 1, 2, 4     10
hyperband           ``HyperbandPruner()`` + reduction 2, 4 + min resource 2             4
posterior           alpha 0.01, 0.05, 0.1, 0.2 x warm-up 0, 2 (prior per task)           8
forecast            alpha 0.02, 0.05, 0.1, 0.2, 0.4 x warm-up 0, 2 (opt-in)         10
==================  ===============================================================  ====

The ``forecast`` family (the learned forecaster's probability of beating the
incumbent, :mod:`policy_store.rules.strategies.forecast`) joins the grid with
``candidate_grid(forecast=True)``; the default grid leaves it out until the shipped
knowledge is rebuilt with its outcomes (the knowledge is refused for another grid).

The three Optuna defaults are in the grid under the names of :data:`OPTUNA_DEFAULTS`.

>>> grid = candidate_grid()
>>> len(grid), grid[0].name, grid[0].spec().strategy
(54, 'percentile-25-w0-s2', 'percentile')
>>> c = next(c for c in grid if c.needs_prior)
>>> c.spec({"prior_mean": 0.05, "prior_beta": 0.002}).params["prior_mean"]
0.05
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policy_store.errors import InvalidInputError
from policy_store.rules.spec import RuleSpec

#: Name of each Optuna default pruner's candidate.
OPTUNA_DEFAULTS: dict[str, str] = {
    "MedianPruner()": "median-w0-s5",
    "SuccessiveHalvingPruner()": "sha-default",
    "HyperbandPruner()": "hyperband-default",
}

#: The prior a ``posterior`` candidate gets when nothing is known about the task
#: (the strategy's own defaults).
DEFAULT_PRIOR: dict[str, float] = {"prior_mean": 0.0, "prior_beta": 0.01}


@dataclass(frozen=True)
class Candidate:
    """One grid entry: a name and a spec (a template when ``needs_prior``)."""

    name: str
    strategy: str
    params: dict[str, Any] = field(hash=False)

    @property
    def needs_prior(self) -> bool:
        """True for ``posterior`` candidates, whose prior is set per task."""
        return self.strategy == "posterior"

    def spec(self, prior: Mapping[str, float] | None = None, direction: str | None = None) -> RuleSpec:
        """The validated spec.

        ``prior`` (``prior_mean``, ``prior_beta``) fills a posterior template, which
        then declares ``direction`` (its prior mean is signed); other candidates ignore both.
        """
        params = dict(self.params)
        if not self.needs_prior:
            return RuleSpec.parse({"strategy": self.strategy, "params": params})
        params.update(DEFAULT_PRIOR)
        params.update({k: float(v) for k, v in (prior or {}).items() if k in DEFAULT_PRIOR})
        return RuleSpec.parse({"strategy": self.strategy, "params": params, "direction": direction})


def _percentile() -> list[Candidate]:
    out = []
    for p in (25, 50, 75, 90):
        for w in (0, 2, 4, 6):
            for s in (2, 5):
                gate = {"n_warmup_steps": w, "n_startup_trials": s}
                if p == 50:
                    out.append(Candidate(f"median-w{w}-s{s}", "median", gate))
                else:
                    out.append(Candidate(f"percentile-{p}-w{w}-s{s}", "percentile", {"percentile": p, **gate}))
    return out


def _halving() -> list[Candidate]:
    out = [Candidate("sha-default", "successive_halving", {})]
    for eta in (2, 3, 4):
        for mr in (1, 2, 4):
            out.append(Candidate(f"sha-eta{eta}-min{mr}", "successive_halving",
                                 {"reduction_factor": eta, "min_resource": mr}))
    out.append(Candidate("hyperband-default", "hyperband", {}))
    out += [Candidate(f"hyperband-eta{eta}", "hyperband", {"reduction_factor": eta}) for eta in (2, 4)]
    out.append(Candidate("hyperband-min2", "hyperband", {"min_resource": 2}))
    return out


def _posterior() -> list[Candidate]:
    return [Candidate(f"posterior-a{a}-w{w}", "posterior",
                      {"alpha": a, "n_warmup_steps": w, "n_startup_trials": 2, "prior_kappa": 1.0,
                       "prior_alpha": 2.0, "min_observations": 0})
            for a in (0.01, 0.05, 0.1, 0.2) for w in (0, 2)]


def _forecast() -> list[Candidate]:
    return [Candidate(f"forecast-a{a}-w{w}", "forecast", {"alpha": a, "n_warmup_steps": w, "n_startup_trials": 1})
            for a in (0.02, 0.05, 0.1, 0.2, 0.4) for w in (0, 2)]


def candidate_grid(forecast: bool = False) -> list[Candidate]:
    """The grid, in a fixed order (see the module docstring); ``forecast`` adds the ``forecast`` family at the end.

    >>> len(candidate_grid(forecast=True)), candidate_grid(forecast=True)[-1].name
    (64, 'forecast-a0.4-w2')
    """
    return _percentile() + _halving() + _posterior() + (_forecast() if forecast else [])


def grid_hash(grid: list[Candidate]) -> str:
    """sha256 of the grid's names and spec templates: identifies the grid a model was trained on.

    >>> len(grid_hash(candidate_grid()))
    64
    """
    payload = json.dumps([[c.name, c.strategy, c.params] for c in grid], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def find_candidate(grid: list[Candidate], name: str) -> Candidate:
    """The candidate called ``name``.

    >>> find_candidate(candidate_grid(), "sha-default").strategy
    'successive_halving'
    """
    for c in grid:
        if c.name == name:
            return c
    raise InvalidInputError(f"no candidate called {name!r} in the grid", field="candidate")
