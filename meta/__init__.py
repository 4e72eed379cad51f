"""Meta-features of tasks and the meta-learner that recommends pruning rules."""

from policy_store.meta.artifacts import load_artifact, save_artifact
from policy_store.meta.grid import OPTUNA_DEFAULTS, Candidate, candidate_grid
from policy_store.meta.learner import PruningMetaLearner
from policy_store.meta.learner_data import TrainingData, build_training_data, task_prior
from policy_store.meta.learner_model import MetaModel, fit_meta_model
from policy_store.meta.learner_sources import training_data_from_lcdb, training_data_from_store
from policy_store.meta.learner_store import FitResult, fit_from_store, recommend_for_holdout
from policy_store.meta.recommend import COLD_START_SPEC, Recommendation, recommend, save_recommendation

__all__ = [
    "COLD_START_SPEC",
    "OPTUNA_DEFAULTS",
    "Candidate",
    "FitResult",
    "MetaModel",
    "PruningMetaLearner",
    "Recommendation",
    "TrainingData",
    "build_training_data",
    "candidate_grid",
    "fit_from_store",
    "fit_meta_model",
    "load_artifact",
    "recommend",
    "recommend_for_holdout",
    "save_artifact",
    "save_recommendation",
    "task_prior",
    "training_data_from_lcdb",
    "training_data_from_store",
]
