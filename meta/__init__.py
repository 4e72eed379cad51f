"""Meta-features of tasks and the meta-learner that recommends pruning rules.

The public names below load their module on first use (PEP 562), so
``policy-store recommend`` imports the recommendation's path only, not the
adaptation's or the evaluation's (scipy, the landmarkers' estimators).
"""

from __future__ import annotations

import importlib
from typing import Any

# Eager: importing the submodule ``policy_store.meta.recommend`` would otherwise bind the package attribute
# ``recommend`` to the module instead of the function.
from policy_store.meta.recommend import COLD_START_SPEC, Recommendation, recommend, save_recommendation

_WHERE: dict[str, str] = {
    "AdaptiveOutcome": "policy_store.meta.adaptation.replay",
    "AdaptiveSelector": "policy_store.meta.adaptation.selector",
    "Advice": "policy_store.meta.adaptation.advice",
    "Candidate": "policy_store.meta.learner.grid",
    "FitResult": "policy_store.meta.learner.store_records",
    "MetaModel": "policy_store.meta.learner.model",
    "OPTUNA_DEFAULTS": "policy_store.meta.learner.grid",
    "Prior": "policy_store.meta.adaptation.selector",
    "PruningMetaLearner": "policy_store.meta.learner.estimator",
    "Switch": "policy_store.meta.adaptation.selector",
    "TrainingData": "policy_store.meta.learner.training_data",
    "adaptive_replay": "policy_store.meta.adaptation.replay",
    "advise": "policy_store.meta.adaptation.advice",
    "build_training_data": "policy_store.meta.learner.training_data",
    "candidate_grid": "policy_store.meta.learner.grid",
    "cross_validate": "policy_store.meta.evaluation.evaluate",
    "curve_meta_features": "policy_store.meta.features.curve",
    "dataset_meta_features": "policy_store.meta.features.dataset",
    "fit_from_store": "policy_store.meta.learner.store_records",
    "fit_meta_model": "policy_store.meta.learner.model",
    "load_artifact": "policy_store.meta.learner.artifacts",
    "load_meta_features": "policy_store.meta.features.store",
    "meta_features_from_csv": "policy_store.meta.features.dataset",
    "recommend_for_holdout": "policy_store.meta.learner.store_records",
    "save_artifact": "policy_store.meta.learner.artifacts",
    "save_meta_features": "policy_store.meta.features.store",
    "save_meta_features_frame": "policy_store.meta.features.store",
    "save_task_curve_features": "policy_store.meta.features.curve",
    "score_candidates": "policy_store.meta.adaptation.selector",
    "study_curve_features": "policy_store.meta.features.curve",
    "task_prior": "policy_store.meta.learner.training_data",
    "training_data_from_lcdb": "policy_store.meta.learner.sources",
    "training_data_from_store": "policy_store.meta.learner.sources",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "COLD_START_SPEC",
    "AdaptiveOutcome",
    "AdaptiveSelector",
    "Advice",
    "Candidate",
    "FitResult",
    "MetaModel",
    "OPTUNA_DEFAULTS",
    "Prior",
    "PruningMetaLearner",
    "Recommendation",
    "Switch",
    "adaptive_replay",
    "advise",
    "TrainingData",
    "build_training_data",
    "candidate_grid",
    "cross_validate",
    "curve_meta_features",
    "dataset_meta_features",
    "fit_from_store",
    "fit_meta_model",
    "load_artifact",
    "load_meta_features",
    "meta_features_from_csv",
    "recommend",
    "recommend_for_holdout",
    "save_artifact",
    "save_meta_features",
    "save_meta_features_frame",
    "save_recommendation",
    "save_task_curve_features",
    "score_candidates",
    "study_curve_features",
    "task_prior",
    "training_data_from_lcdb",
    "training_data_from_store",
]
