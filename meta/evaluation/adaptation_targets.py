"""Does adapting inside a study act, and does it help? Per held-out study: start rule, adaptive run, CV oracle.

:func:`adaptation_rows` scores, on tasks a meta-model never saw, three
choices per held-out study and trial order: the **start** rule (what the
meta-learner recommends from meta-features; the rule adaptation starts
from), the **adaptive** run from it (:func:`~policy_store.meta.evaluation.adaptive.adaptive_scorer`)
and the **CV oracle** (the grid rule best on the task's *other* studies:
:func:`~policy_store.meta.evaluation.baselines.cv_oracle_choices`).
:func:`adaptation_targets` summarises them per corpus, per study (mean over
orders), as issue 20 states its targets:

- ``switch_rate_far``: share of studies whose start rule is worse than the CV
  oracle by more than ``far`` utility in which the adaptive run switched;
- ``gain``: mean utility of the adaptive run minus the start rule's;
- ``killed_cut``: relative drop of the killed-best rate, on the studies where
  the start rule was the riskier (its killed-best rate above the CV oracle's);
- ``worse_share``: share of studies made worse by more than ``worse``.

>>> import pandas as pd
>>> rows = pd.DataFrame({"corpus": ["x"] * 4, "task": ["a", "a", "b", "b"], "study": ["s", "s", "t", "t"],
...                      "order_seed": [0, 1, 0, 1], "u_start": [0.1, 0.1, 0.5, 0.5],
...                      "u_adapt": [0.3, 0.2, 0.5, 0.3], "u_cv": [0.4, 0.4, 0.5, 0.5],
...                      "killed_start": [1, 1, 0, 0], "killed_adapt": [0, 1, 0, 0], "killed_cv": [0, 0, 0, 0],
...                      "switches": [1, 1, 0, 1]})
>>> t = adaptation_targets(rows).iloc[0]
>>> float(t["switch_rate_far"]), round(float(t["gain"]), 3), float(t["killed_cut"]), float(t["worse_share"])
(1.0, 0.025, 0.5, 0.5)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from policy_store.meta.evaluation.baselines import cv_oracle_choices
from policy_store.meta.evaluation.evaluate import _lookup, _realise, probe_outcomes, study_means
from policy_store.meta.learner.model import fit_meta_model
from policy_store.meta.learner.prediction import select
from policy_store.meta.learner.training_data import TrainingData, task_parts


def _utility(frame: pd.DataFrame, lam: float) -> pd.Series:
    return frame["compute_saved"] - lam * frame["regret"].fillna(0.0)


def adaptation_rows(data: TrainingData, splits: Sequence[tuple[Sequence[str], Sequence[str]]],
                    adapt: Callable[..., dict[str, Any]] | dict[str, Callable[..., dict[str, Any]]], *,
                    lam: float = 20.0, orders: Sequence[int] | None = None, n_estimators: int = 100, seed: int = 0,
                    progress: bool = False) -> pd.DataFrame:
    """One row per (held-out task, study, order[, variant]): the start rule's, the adaptive run's and the CV oracle's.

    ``splits``: (training tasks, test tasks) pairs; a model is fitted on each
    training part. ``adapt``: :func:`~policy_store.meta.evaluation.adaptive.adaptive_scorer`'s
    function, or several by variant name (column ``variant``). ``orders``: trial orders scored
    (default: the data's).
    """
    adapters = adapt if isinstance(adapt, dict) else {"default": adapt}
    from tqdm.auto import tqdm

    orders = list(data.orders if orders is None else orders)
    probes = probe_outcomes(data)
    out = []
    for train, test in splits:
        sub = data.subset(list(train))
        model = fit_meta_model(sub, n_estimators=n_estimators, random_state=seed)
        cube = sub.outcome_cube()
        single = int(select(np.nanmean(cube[:, :, 0], 0)[None], np.nanmean(cube[:, :, 1], 0)[None], lam=lam)[0])
        for t in tqdm(list(test), desc="adaptation", unit="task", disable=not progress):
            e = model.expected(data.features.loc[[t]])
            start = int(select(e.saved[None], e.regret[None], lam=lam)[0])
            static = _realise(data, t, start, e.prior)
            studies, scored, means = study_means(data, probes, t)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                picks = cv_oracle_choices(means[..., 0], means[..., 1], scored, lam=lam)
            oracle = pd.concat([_lookup(data, t, single if c < 0 else c, studies[i]) for i, c in picks.items()])
            for c in data.curves[t]:
                for o, (variant, fn) in ((o, va) for o in orders for va in adapters.items()):
                    s = static[(static["study"] == c.study) & (static["order_seed"] == o)]
                    v = oracle[(oracle["study"] == c.study) & (oracle["order_seed"] == o)]
                    if s.empty or v.empty:
                        continue
                    a = fn(c, int(o), e, lam)
                    out.append({"variant": variant, "corpus": task_parts(t)["corpus"], "task": t, "study": c.study,
                                "order_seed": int(o),
                                "start": data.grid[start].name,
                                "u_start": float(_utility(s, lam).iloc[0]),
                                "u_adapt": a["compute_saved"] - lam * (0.0 if np.isnan(a["regret"]) else a["regret"]),
                                "u_cv": float(_utility(v, lam).iloc[0]),
                                "killed_start": float(s["killed_best"].iloc[0]),
                                "killed_adapt": float(a["killed_best"]),
                                "killed_cv": float(v["killed_best"].iloc[0]), "switches": int(a["switches"])})
    return pd.DataFrame(out)


def adaptation_targets(rows: pd.DataFrame, *, far: float = 0.1, worse: float = 0.05) -> pd.DataFrame:
    """Per corpus (and variant), per study (mean over its orders): the issue's four figures (see the module
    docstring)."""
    cols = ["u_start", "u_adapt", "u_cv", "killed_start", "killed_adapt", "killed_cv", "switches"]
    if "variant" not in rows:
        rows = rows.assign(variant="default")
    per = rows.groupby(["variant", "corpus", "task", "study"])[cols].mean().reset_index()
    out = []
    for (variant, corpus), g in per.groupby(["variant", "corpus"]):
        far_g = g[g["u_cv"] - g["u_start"] > far]
        risky = g[g["killed_start"] > g["killed_cv"]]
        k0 = float(risky["killed_start"].mean()) if len(risky) else float("nan")
        k1 = float(risky["killed_adapt"].mean()) if len(risky) else float("nan")
        delta = g["u_adapt"] - g["u_start"]
        out.append({"variant": variant, "corpus": corpus, "studies": len(g), "far_studies": len(far_g),
                    "switch_rate_far": float((far_g["switches"] > 0).mean()) if len(far_g) else float("nan"),
                    "switch_rate_all": float((g["switches"] > 0).mean()),
                    "u_start": float(g["u_start"].mean()), "u_adapt": float(g["u_adapt"].mean()),
                    "u_cv": float(g["u_cv"].mean()), "gain": float(delta.mean()),
                    "gain_far": float((far_g["u_adapt"] - far_g["u_start"]).mean()) if len(far_g) else float("nan"),
                    "risky_studies": len(risky), "killed_start_risky": k0, "killed_adapt_risky": k1,
                    "killed_cut": (k0 - k1) / k0 if k0 > 0 else float("nan"),
                    "killed_start": float(g["killed_start"].mean()), "killed_adapt": float(g["killed_adapt"].mean()),
                    "worse_share": float((delta < -worse).mean()), "better_share": float((delta > worse).mean())})
    return pd.DataFrame(out)
