"""Offline advice from a new task's first trials, re-scored as an adaptive study would (``recommend --curves``).

:func:`advise` takes the curves of trials that ran to the end on the new task,
asks the meta-learner for its expectation of every candidate from the
meta-features alone (the task's dataset features if given, plus the curves'
own shape features), and re-scores the candidates on those trials exactly as
:class:`~policy_store.meta.adaptation.selector.AdaptiveSelector` does inside a live study:
the replay engine on bootstrap replicates, blended with the prior by their
uncertainties. It says which rule the evidence favours, whether the margin
for a switch away from the meta-learned rule is met, and why.

>>> import numpy as np
>>> from policy_store import PolicyStore
>>> from policy_store.curves import StudyCurves
>>> rng = np.random.default_rng(0)
>>> finals = rng.uniform(0.5, 0.9, 30)
>>> c = StudyCurves.from_arrays("first", finals[:, None] * (1 - 0.5 ** np.arange(1, 9))[None, :]
...                             + rng.normal(0, 0.01, (30, 8)), direction="maximize")
>>> with PolicyStore.memory() as store:
...     advice = advise(store, c)
>>> advice.start, advice.n_trials, advice.cold_start, len(advice.table)
('sha-eta2-min4', 30, True, 5)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from policy_store.meta.adaptation.selector import AdaptiveSelector, Evidence, Prior, Switch, start_prior

from policy_store.curves import StudyCurves
from policy_store.store import PolicyStore


@dataclass
class Advice:
    """Which rule a new task's first trials favour, against the meta-learned one."""

    start: str
    favoured: str
    n_trials: int
    switch: Switch | None
    cold_start: bool
    table: list[dict[str, Any]] = field(default_factory=list)
    """The best candidates by blended utility, with their prior, own-trials and blended figures."""
    note: str = ""
    regret_unit: float = 1.0
    """The table's regret is in these metric units (1 for a maximised metric, the median final loss otherwise)."""

    @property
    def line(self) -> str:
        """One sentence for people."""
        if self.switch is not None:
            return f"the evidence favours {self.favoured}: {self.switch.reason}"
        return f"keep {self.start}: {self.note}"

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "favoured": self.favoured, "n_trials": self.n_trials,
                "cold_start": self.cold_start, "switch": self.switch.to_dict() if self.switch else None,
                "table": self.table, "regret_unit": self.regret_unit, "line": self.line}


def _table(prior: Prior, sel: AdaptiveSelector, ev: Evidence, top: int) -> list[dict[str, Any]]:
    mean, var = prior.utility(sel.lam)
    order = np.argsort(-ev.post_mean, kind="stable")[:top]
    return [{"candidate": prior.names[k], "prior": round(float(mean[k]), 4),
             "prior_sd": round(float(np.sqrt(var[k])), 4),
             "own_trials": round(float(ev.data_mean[k]), 4), "own_sd": round(float(np.sqrt(ev.data_var[k])), 4),
             "blended": round(float(ev.post_mean[k]), 4), "blended_sd": round(float(np.sqrt(ev.post_var[k])), 4),
             "saved": round(float(ev.saved[k]), 4), "regret": round(float(ev.regret[k]), 5)} for k in order]


def advise(store: PolicyStore, curves: StudyCurves, *, meta_features: Mapping[str, float] | None = None,
           dataset: Any = None, target: str | None = None, lam: float = 20.0, model_id: str | None = None,
           min_trials: int = 8, margin: float = 1.0, n_boot: int = 16, seed: int = 0, top: int = 5) -> Advice:
    """Re-score the candidates on a new task's first trials (see the module docstring).

    Parameters
    ----------
    store:
        Holds the meta-model (the latest unless ``model_id``); none = cold start,
        an uninformative prior from the documented default rule.
    curves:
        Trials of the new task that ran to the end, in the order they ran.
    meta_features, dataset, target:
        What else is known about the task (as for :func:`policy_store.meta.recommend`).
    lam, min_trials, margin, n_boot, seed:
        Of :class:`~policy_store.meta.adaptation.selector.AdaptiveSelector`.
    top:
        Candidates listed in :attr:`Advice.table`.
    """
    from policy_store.meta.features.curve import curve_meta_features
    from policy_store.meta.learner.artifacts import latest_model_id, load_artifact
    from policy_store.meta.learner.training_data import curves_frame
    from policy_store.meta.recommend import recommend

    direction = curves.direction
    model_id = model_id or latest_model_id(store)
    model = load_artifact(store, model_id) if model_id is not None else None
    rec = None
    if model is not None:
        features = {**curve_meta_features(curves_frame(curves), direction=direction), **(meta_features or {})}
        rec = recommend(store, dataset=dataset, target=target, meta_features=features, direction=direction, lam=lam,
                        model=model, model_id=model_id, record=False)
    prior = start_prior(model, direction, rec)
    sel = AdaptiveSelector(prior, lam=lam, min_trials=max(2, min_trials), every=1, margin=margin, n_boot=n_boot,
                           seed=seed)
    start_name = sel.incumbent_name
    if curves.n_trials >= sel.min_trials:
        switch = sel.observe(curves)
        ev = sel.evidence[-1]
    else:
        switch, ev = None, sel.rescore(curves)
    best = int(np.argmax(ev.post_mean))
    i = prior.names.index(start_name)
    if switch is None:
        if curves.n_trials < sel.min_trials:
            note = f"{curves.n_trials} trials are fewer than the {sel.min_trials} a switch needs"
        elif best == i:
            note = f"it has the best blended utility on {curves.n_trials} trials ({ev.post_mean[i]:.4f})"
        else:
            se = float(np.sqrt(ev.post_var[best] + ev.post_var[i]))
            note = (f"{prior.names[best]} leads by {ev.post_mean[best] - ev.post_mean[i]:.4f}, within "
                    f"{margin:g} x se {se:.4f} of it, on {curves.n_trials} trials")
    else:
        note = ""
    return Advice(start_name, prior.names[best], curves.n_trials, switch, model is None, _table(prior, sel, ev, top),
                  note, ev.regret_unit)
