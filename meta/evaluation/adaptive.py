"""Scoring ``meta-learner + adaptation`` in the evaluation: the study adapts to itself.

The held-out study starts from the rule the meta-learner recommends from
meta-features alone and re-scores the candidates on its own completed trials
(:func:`policy_store.meta.adaptation.replay.adaptive_replay`), in the same trial
orders as every other method; every trial's cost counts under the rule that
decided it, early trials included. The study it adapts in is the study it is
scored on.

Regret is kept in the evaluation's units (:func:`~policy_store.curves.regret_scale`):
a minimised metric's curves (and the posterior prior) are divided by the
study's scale before the replay, which changes no pruning decision, so the
selector's evidence and the meta-learned prior are in the same units.

>>> from policy_store import PolicyStore
>>> from policy_store.datasets import ingest_bundled
>>> from policy_store.meta.learner.model import fit_meta_model
>>> from policy_store.meta.learner.sources import training_data_from_store
>>> with PolicyStore.memory() as store:
...     _ = ingest_bundled(store)
...     data = training_data_from_store(store, orders=1, tasks=["sklearn/iris/sgd/accuracy",
...                                                             "sklearn/wine/sgd/accuracy"])
>>> model = fit_meta_model(data, n_estimators=5)
>>> c = data.curves["sklearn/wine/sgd/accuracy"][0]
>>> out = adaptive_scorer(model.grid)(c, 0, model.expected(data.features.iloc[[1]]), 20.0)
>>> sorted(out), 0.0 <= out["compute_saved"] <= 1.0
(['compute_saved', 'killed_best', 'killed_step', 'regret', 'switches'], True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from policy_store.meta.adaptation.replay import adaptive_replay
from policy_store.meta.adaptation.selector import Prior
from policy_store.meta.learner.grid import Candidate
from policy_store.meta.learner.model import Expected

from policy_store.curves import StudyCurves, regret_scale
from policy_store.rules.spec import RuleSpec


def scaled(c: StudyCurves, scale: float) -> StudyCurves:
    """``c`` with its values divided by ``scale`` (> 0): the same decisions, regret in units of ``scale``."""
    if scale == 1.0:
        return c
    return StudyCurves(c.study, c.task, c.direction, c.trials, c.trial_numbers, c.steps, c.values / scale,
                       c.present, c.cost)


def audited(spec: RuleSpec, fraction: float, seed: int = 0) -> RuleSpec:
    """``spec`` with ``fraction`` of its trials audited (never pruned; their shadow prunes are evidence).

    >>> audited(RuleSpec.parse({"strategy": "median"}), 0.1).audit_fraction
    0.1
    """
    return RuleSpec.parse({**spec.to_dict(), "safeguards": {"audit_fraction": fraction, "audit_seed": seed}})


def adaptive_scorer(grid: Sequence[Candidate], **options: Any):
    """``adapt(curves, order_seed, expected, lam)`` for :func:`~policy_store.meta.evaluation.evaluate.cross_validate`.

    ``options`` go to :func:`~policy_store.meta.adaptation.replay.adaptive_replay`
    (``min_trials``, ``every``, ``margin``, ``n_boot``, ``seed``, ``forecaster``, ...), plus
    ``audit_fraction``: every candidate audits that share of its trials (they run to the end
    and check what the rule in force kills, at their compute cost). The result has no
    killed step (the adaptive replay does not report it): NaN.
    """
    grid = list(grid)
    audit = float(options.pop("audit_fraction", 0.0))

    def adapt(c: StudyCurves, order: int, expected: Expected, lam: float) -> dict[str, Any]:
        s = regret_scale(c)
        prior = {"prior_mean": expected.prior["prior_mean"] / s, "prior_beta": expected.prior["prior_beta"] / s ** 2}
        start = Prior.from_expected(dataclasses.replace(expected, prior=prior), grid, c.direction)
        if audit > 0:
            start = dataclasses.replace(start, specs=tuple(audited(sp, audit) for sp in start.specs))
        out = adaptive_replay(scaled(c, s), order, start, lam=lam, **options)
        return {"compute_saved": out.compute_saved, "regret": out.regret, "killed_best": bool(out.killed_best),
                "killed_step": float("nan"), "switches": len(out.switches)}

    return adapt
