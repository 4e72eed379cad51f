"""Fit the meta-learner on a store's tasks and save it as a verified artifact.

:func:`fit_from_store` is what ``policy-store meta fit`` runs.
:func:`recommend_for_holdout` is the README main job's meta-learning step: on
the bundled real curves (4 scikit-learn datasets x 3 model families) it fits on
every dataset but one and recommends a rule for the held-out dataset from its
data alone, then replays that rule on the held-out tasks' recorded curves next
to Optuna's ``MedianPruner()`` so the user sees how the recommendation fared.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from policy_store.meta.features.store import save_meta_features
from policy_store.meta.learner.artifacts import save_artifact
from policy_store.meta.learner.model import N_TREES, MetaModel, fit_meta_model
from policy_store.meta.learner.sources import training_data_from_store
from policy_store.meta.recommend import Recommendation, recommend, save_recommendation

from policy_store.errors import InvalidInputError
from policy_store.store import PolicyStore

#: Weight of each of the store's own tasks against one shipped task when ``meta fit`` combines them.
OWN_WEIGHT = 3.0


@dataclass
class FitResult:
    """A fitted, saved meta-model."""

    model_id: str
    model: MetaModel
    seconds: float

    def summary(self) -> str:
        s = self.model.snapshot
        corpora = ", ".join(f"{k} {v}" for k, v in s.get("corpora", {}).items())
        return (f"meta-model {self.model_id}: {s['tasks']} tasks ({corpora}), {s['studies']} studies x "
                f"{s['orders']} orders, "
                f"{len(self.model.grid)} candidate rules, {s['features']} meta-features; {self.seconds:.1f} s")


def fit_from_store(store: PolicyStore, *, tasks: Sequence[str] | None = None, orders: int = 5,
                   n_jobs: int = 1, directory: str | os.PathLike[str] | None = None, n_estimators: int = N_TREES,
                   random_state: int = 0, progress: bool = False, knowledge: bool = False,
                   own_weight: float = OWN_WEIGHT) -> FitResult:
    """Replay the grid on the store's tasks, fit, save the artifact and record it in ``meta_models``.

    Parameters
    ----------
    store:
        An open store with studies (and ideally meta-features) of at least two tasks.
    tasks:
        Learn from these tasks only (default: all).
    orders:
        Trial orders replayed per study.
    n_jobs:
        joblib workers for the replay.
    directory:
        Where the artifact goes (default: ``policy-store-artifacts/`` beside the store).
    n_estimators, random_state:
        Of the forest.
    progress:
        Show a progress bar.
    knowledge, own_weight:
        Also learn from the knowledge shipped in the package (``policy-store meta fit`` does)
        (:mod:`~policy_store.meta.learner.knowledge`; a shipped task the store also
        has is left out), each of the store's tasks weighing ``own_weight`` shipped
        ones. The model is calibrated for the safety floor when the tasks span 3+ datasets.
    """
    started = time.perf_counter()
    data = training_data_from_store(store, orders=orders, tasks=tasks, n_jobs=n_jobs, progress=progress)
    own = list(data.tasks)
    shipped = None
    if knowledge:
        from policy_store.meta.learner.knowledge import knowledge_shipped, knowledge_training_data

        if knowledge_shipped():
            shipped = knowledge_training_data()
    if shipped is not None:
        from policy_store.meta.learner.training_data import concat_training_data

        shipped = shipped.subset([t for t in shipped.tasks if t not in set(own)])
        shipped.orders = data.orders
        data = concat_training_data([data, shipped]) if own else shipped
    if len(data.tasks) < 2:
        raise InvalidInputError(f"the meta-learner needs studies of at least 2 tasks with >= 5 trials; "
                                f"the store has {len(data.tasks)}", field="tasks")
    datasets = {t.split("/")[1] if t.count("/") >= 2 else t for t in data.tasks}
    model = fit_meta_model(data, n_estimators=n_estimators, random_state=random_state, calibrate=len(datasets) >= 3,
                           sample_weight=dict.fromkeys(own, own_weight) if shipped is not None else None,
                           snapshot={"store": store.location, "task_ids": own, "own_tasks": len(own),
                                     "shipped_tasks": 0 if shipped is None else len(shipped.tasks),
                                     "own_weight": own_weight if shipped is not None else 1.0})
    params = {**model.learner.get_params(), "evidence_weight": model.evidence_weight, "grid_hash": model.grid_hash}
    model_id = save_artifact(store, model, directory=directory, params=params, training_snapshot=model.snapshot)
    return FitResult(model_id, model, time.perf_counter() - started)


def _bundled_datasets(store: PolicyStore) -> dict[str, list[str]]:
    tasks = [r["task"] for r in store.fetch_dicts("SELECT task FROM tasks WHERE task LIKE 'sklearn/%' ORDER BY task")]
    out: dict[str, list[str]] = {}
    for t in tasks:
        out.setdefault(t.split("/")[1], []).append(t)
    return out


def _frame(dataset: str) -> pd.DataFrame:
    from policy_store.datasets import load_xy

    _, X, y = load_xy(dataset)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["target"] = y
    return frame


def recommend_for_holdout(store: PolicyStore, *, holdout: str = "wine", orders: int = 5,
                          echo: Callable[[str], Any] = print, directory: str | os.PathLike[str] | None = None,
                          progress: bool = False) -> dict[str, Any]:
    """Fit on the bundled tasks of every dataset but ``holdout``; recommend for ``holdout`` from its data.

    Ingests the bundled curves if the store lacks them and saves each bundled
    dataset's meta-features (source ``dataset``, no landmarkers) for its tasks.
    Records one recommendation per held-out task, saves it as rule
    ``recommended-<holdout>`` (source ``meta-learner``) unless that rule exists,
    and records that rule's outcomes on the held-out tasks. About 10 s on one core.

    Returns
    -------
    dict
        model_id, the recommendation, and the replayed outcome of the recommended
        rule and of ``MedianPruner()`` on the held-out tasks.
    """
    from policy_store.datasets import ingest_bundled
    from policy_store.meta.features.dataset import dataset_meta_features

    from policy_store.curves import load_curves
    from policy_store.replay.evaluate import evaluate, replay_outcomes
    from policy_store.rules import RuleSpec, list_rules

    if not _bundled_datasets(store):
        ingest_bundled(store, progress=progress)
    by_dataset = _bundled_datasets(store)
    if holdout not in by_dataset:
        raise InvalidInputError(f"holdout must be one of {sorted(by_dataset)}, got {holdout!r}", field="holdout")
    for name, tasks in by_dataset.items():
        feats = dataset_meta_features(_frame(name), "target", landmarkers=False)
        for t in tasks:
            save_meta_features(store, t, feats, "dataset")
    train = [t for name, ts in by_dataset.items() if name != holdout for t in ts]
    echo(f"== meta-learner: fit on {len(train)} bundled tasks ({', '.join(sorted(set(by_dataset) - {holdout}))}), "
         f"recommend for the unseen dataset {holdout!r}")
    fit = fit_from_store(store, tasks=train, orders=orders, directory=directory, progress=progress)
    echo(fit.summary())
    # One recorded recommendation per held-out task, so the report can set each against what was observed.
    recs: list[Recommendation] = [recommend(store, dataset=_frame(holdout), target="target", model_id=fit.model_id,
                                            task=t) for t in by_dataset[holdout]]
    rec = recs[0]
    echo(f"recommended {rec.candidate}: {rec.spec.canonical_json()}")
    e = rec.expected
    echo(f"expected compute saved {e['compute_saved']['mean']:.3f} "
         f"[{e['compute_saved']['low']:.3f}, {e['compute_saved']['high']:.3f}], regret {e['regret']['mean']:.4f} "
         f"[{e['regret']['low']:.4f}, {e['regret']['high']:.4f}]; similar tasks: "
         + ", ".join(f"{n['task']} ({n['best_rule']})" for n in rec.neighbours[:3]))
    # Saved once as a meta-learner rule version (a rerun must not revert what recalibration made of it), then
    # replayed on the held-out studies with its outcomes recorded, beside Optuna's MedianPruner().
    rule = f"recommended-{holdout}"
    if rule not in {r["rule"] for r in list_rules(store)}:
        save_recommendation(store, rec, rule)
    evaluation = evaluate(store, rule, tasks=by_dataset[holdout], orders=orders)
    median, _ = replay_outcomes(load_curves(store, tasks=by_dataset[holdout]), [RuleSpec.parse({"strategy": "median"})],
                                list(range(orders)))
    realised = {label: {"compute_saved": float(o["compute_saved"].mean()), "regret": float(np.nanmean(o["regret"]))}
                for label, o in (("recommended", evaluation.outcomes), ("MedianPruner()", median))}
    for label, r in realised.items():
        echo(f"replayed on {holdout}'s {len(by_dataset[holdout])} tasks x {orders} orders: "
             f"{rule if label == 'recommended' else label:<16} "
             f"saved {r['compute_saved']:.3f}, regret {r['regret']:.4f}")
    return {"model_id": fit.model_id, "recommendation": rec.to_dict(), "realised": realised}
