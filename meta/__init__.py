"""Meta-features of tasks and the meta-learner that recommends pruning rules."""

from policy_store.meta.adaptation.advice import Advice, advise
from policy_store.meta.adaptation.replay import AdaptiveOutcome, adaptive_replay
from policy_store.meta.adaptation.selector import AdaptiveSelector, Prior, Switch, score_candidates
from policy_store.meta.evaluation.evaluate import cross_validate
from policy_store.meta.features.curve import curve_meta_features, save_task_curve_features, study_curve_features
from policy_store.meta.features.dataset import dataset_meta_features, meta_features_from_csv
from policy_store.meta.features.store import load_meta_features, save_meta_features, save_meta_features_frame
from policy_store.meta.learner.artifacts import load_artifact, save_artifact
from policy_store.meta.learner.estimator import PruningMetaLearner
from policy_store.meta.learner.grid import OPTUNA_DEFAULTS, Candidate, candidate_grid
from policy_store.meta.learner.model import MetaModel, fit_meta_model
from policy_store.meta.learner.sources import training_data_from_lcdb, training_data_from_store
from policy_store.meta.learner.store_records import FitResult, fit_from_store, recommend_for_holdout
from policy_store.meta.learner.training_data import TrainingData, build_training_data, task_prior
from policy_store.meta.recommend import COLD_START_SPEC, Recommendation, recommend, save_recommendation

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
