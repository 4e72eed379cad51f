"""Model families of the HPO corpus: their search spaces and one trial's training, step by step.

============  ==========================================  ==========================================
family        estimators (classification / regression)    one step
============  ==========================================  ==========================================
``sgd``       ``SGDClassifier`` / ``SGDRegressor``        one ``partial_fit`` epoch
``mlp``       ``MLPClassifier`` / ``MLPRegressor``        one ``partial_fit`` epoch
``hgb``       ``HistGradientBoosting*``                   :data:`HGB_ROUNDS` more boosting rounds
                                                          (``warm_start``, :data:`HGB_BINS` bins)
``forest``    ``ExtraTrees*``                             :data:`FOREST_TREES` more trees
                                                          (``warm_start``)
``lightgbm``  ``lightgbm.Booster`` (binary, multiclass,   ``BOOSTER_ROUNDS`` more rounds
              regression objectives)                      (:mod:`~policy_store.datasets.hpo_boosters`)
``xgboost``   ``xgboost.Booster`` (``hist``; logistic,    ``BOOSTER_ROUNDS`` more rounds
              softprob, squared-error objectives)         (:mod:`~policy_store.datasets.hpo_boosters`)
============  ==========================================  ==========================================

After every step the model is scored on the validation split: accuracy
(maximise) and log loss (minimise) for classification, MSE and MAE of the
standardised target (both minimised) for regression. A step's cost is the CPU seconds
(:func:`time.process_time`) of its training and scoring, single-threaded. A
model that diverges (a non-finite score, or an MSE above :data:`DIVERGED_MSE`)
stops there: the trial fails, with the failing step's value NaN. Values depend only on the parameters, the model seed
and the data.

>>> from policy_store.datasets.hpo_sources import prepare
>>> curve = train("sgd", {"alpha": 1e-3, "penalty": "l2", "l1_ratio": 0.1, "learning_rate": "optimal",
...                      "eta0": 0.01}, 0, prepare("iris"), steps=3)
>>> len(curve.values["accuracy"]), curve.failed
(3, False)
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from policy_store.datasets.hpo_boosters import BOOSTERS, Booster
from policy_store.datasets.hpo_sources import Prepared
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from threadpoolctl import threadpool_limits

from policy_store.errors import InvalidInputError
from policy_store.trial_resources import peak_rss_mb

FAMILIES: tuple[str, ...] = ("sgd", "mlp", "hgb", "forest", *BOOSTERS)
HGB_ROUNDS = 2
HGB_BINS = 63
FOREST_TREES = 2
#: Metrics per dataset kind, with their direction; the first one is what the samplers optimise.
METRICS: dict[str, dict[str, str]] = {
    "classification": {"logloss": "minimize", "accuracy": "maximize"},
    "regression": {"mse": "minimize", "mae": "minimize"},
}
_PROBABILITY_FLOOR = 1e-15
#: An MSE of the standardised target above this means the weights blew up (predicting the mean scores 1).
DIVERGED_MSE = 1e6

# (kind, low, high, log) for numbers, ("cat", choices) for categories; shared by every dataset kind
# unless a "classification"/"regression" entry overrides it.
SPACES: dict[str, dict[str, tuple]] = {
    "sgd": {"alpha": ("float", 1e-7, 1e-1, True), "penalty": ("cat", ("l2", "l1", "elasticnet")),
            "l1_ratio": ("float", 0.0, 1.0, False),
            "learning_rate": ("cat", ("constant", "optimal", "invscaling", "adaptive")),
            "eta0": ("float", 1e-4, 1.0, True)},
    "mlp": {"units": ("int", 8, 96, True), "layers": ("int", 1, 2, False),
            "activation": ("cat", ("relu", "tanh")), "alpha": ("float", 1e-6, 1e-1, True),
            "learning_rate_init": ("float", 1e-4, 3e-2, True), "batch_size": ("cat", (64, 128, 256))},
    "hgb": {"learning_rate": ("float", 0.01, 0.5, True), "max_leaf_nodes": ("int", 4, 64, True),
            "min_samples_leaf": ("int", 2, 100, True), "l2_regularization": ("float", 1e-6, 10.0, True),
            "max_features": ("float", 0.3, 1.0, False)},
    "forest": {"max_depth": ("int", 2, 16, True), "min_samples_leaf": ("int", 1, 32, True),
               "max_features": ("float", 0.1, 1.0, False), "bootstrap": ("cat", (False, True))},
    "lightgbm": {"learning_rate": ("float", 0.01, 0.5, True), "num_leaves": ("int", 4, 64, True),
                 "min_child_samples": ("int", 2, 100, True), "reg_lambda": ("float", 1e-6, 10.0, True),
                 "feature_fraction": ("float", 0.3, 1.0, False), "bagging_fraction": ("float", 0.5, 1.0, False)},
    "xgboost": {"learning_rate": ("float", 0.01, 0.5, True), "max_depth": ("int", 2, 10, False),
                "min_child_weight": ("float", 1e-2, 10.0, True), "reg_lambda": ("float", 1e-3, 10.0, True),
                "subsample": ("float", 0.5, 1.0, False), "colsample_bytree": ("float", 0.3, 1.0, False)},
}
_REGRESSION_SPACES: dict[str, dict[str, tuple]] = {
    "sgd": {"loss": ("cat", ("squared_error", "huber", "epsilon_insensitive"))},
}


@dataclass(frozen=True)
class Curve:
    """One trial's validation values per metric and CPU seconds per step."""

    values: dict[str, list[float]]
    seconds: list[float]
    failed: bool
    memory: list[float] = field(default_factory=list)
    """The trial's peak resident memory (MB) up to each step."""


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_mb() -> float:
    """The process's resident memory now, in MB (``/proc/self/statm``; else its peak,
    :func:`~policy_store.trial_resources.peak_rss_mb`).

    >>> resident_mb() > 0
    True
    """
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except OSError:
        return peak_rss_mb()


def check_family(family: str) -> str:
    """``family`` if it is one of :data:`FAMILIES`, else a typed error naming them."""
    if family not in FAMILIES:
        raise InvalidInputError(f"unknown model family {family!r}; choose from {list(FAMILIES)}", field="families")
    return family


def search_space(family: str, kind: str) -> dict[str, Any]:
    """The family's search space as Optuna distributions (Optuna imported here, lazily).

    >>> sorted(search_space("forest", "regression"))
    ['bootstrap', 'max_depth', 'max_features', 'min_samples_leaf']
    """
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    spec = {**SPACES[check_family(family)], **(_REGRESSION_SPACES.get(family, {}) if kind == "regression" else {})}
    out: dict[str, Any] = {}
    for name, entry in spec.items():
        if entry[0] == "cat":
            out[name] = CategoricalDistribution(list(entry[1]))
        elif entry[0] == "int":
            out[name] = IntDistribution(entry[1], entry[2], log=entry[3])
        else:
            out[name] = FloatDistribution(entry[1], entry[2], log=entry[3])
    return out


def _estimator(family: str, data: Prepared, params: dict[str, Any], seed: int, classes: np.ndarray | None) -> Any:
    if family in BOOSTERS:
        return Booster(family, params, seed, data, classes)
    clf = data.kind == "classification"
    if family == "sgd":
        cls = SGDClassifier if clf else SGDRegressor
        loss = "log_loss" if clf else params["loss"]
        kw = {k: params[k] for k in ("alpha", "penalty", "l1_ratio", "learning_rate", "eta0")}
        return cls(loss=loss, random_state=seed, **kw)
    if family == "mlp":
        cls = MLPClassifier if clf else MLPRegressor
        return cls(hidden_layer_sizes=(params["units"],) * params["layers"], activation=params["activation"],
                   alpha=params["alpha"], learning_rate_init=params["learning_rate_init"],
                   batch_size=params["batch_size"], random_state=seed)
    if family == "hgb":
        cls = HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor
        return cls(warm_start=True, early_stopping=False, max_iter=HGB_ROUNDS, max_bins=HGB_BINS, random_state=seed,
                   **params)
    cls = ExtraTreesClassifier if clf else ExtraTreesRegressor
    return cls(warm_start=True, n_estimators=FOREST_TREES, random_state=seed, **params)


def _fit_step(family: str, model: Any, data: Prepared, step: int, classes: np.ndarray | None) -> None:
    if family in BOOSTERS:
        model.step()
        return
    if family in ("sgd", "mlp"):
        if classes is None:
            model.partial_fit(data.X_train, data.y_train)
        else:
            model.partial_fit(data.X_train, data.y_train, classes=classes)
        return
    if step:
        model.set_params(**({"max_iter": HGB_ROUNDS * (step + 1)} if family == "hgb"
                            else {"n_estimators": FOREST_TREES * (step + 1)}))
    model.fit(data.X_train, data.y_train)


def _score(model: Any, data: Prepared, codes: np.ndarray | None) -> dict[str, float]:
    if codes is None:
        error = model.predict(data.X_valid) - data.y_valid
        return {"mse": float(np.mean(error**2)), "mae": float(np.mean(np.abs(error)))}
    proba = model.predict(data.X_valid) if isinstance(model, Booster) else model.predict_proba(data.X_valid)
    if not np.isfinite(proba).all():
        return {"logloss": np.nan, "accuracy": np.nan}
    true = proba[np.arange(len(codes)), codes]
    return {"logloss": float(-np.mean(np.log(np.clip(true, _PROBABILITY_FLOOR, 1.0)))),
            "accuracy": float(np.mean(proba.argmax(axis=1) == codes))}


def train(family: str, params: dict[str, Any], seed: int, data: Prepared, steps: int) -> Curve:
    """Train one configuration of ``family`` for ``steps`` steps on ``data``; its :class:`Curve`.

    Parameters
    ----------
    family:
        One of :data:`FAMILIES`.
    params:
        A point of :func:`search_space`.
    seed:
        The model's ``random_state``.
    data:
        A prepared dataset (:func:`policy_store.datasets.hpo_sources.prepare`).
    steps:
        Epochs or warm-started increments.
    """
    kind = data.kind
    classes = np.unique(data.y_train) if kind == "classification" else None
    model = _estimator(check_family(family), data, params, seed, classes)
    codes = None if classes is None else np.searchsorted(classes, data.y_valid)
    values: dict[str, list[float]] = {m: [] for m in METRICS[kind]}
    seconds: list[float] = []
    memory: list[float] = []
    with threadpool_limits(1), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for step in range(steps):
            started = time.process_time()
            try:
                _fit_step(family, model, data, step, classes)
                scores = _score(model, data, codes)
            except (ValueError, FloatingPointError, OverflowError):
                # sklearn refuses to go on once weights are NaN or infinite: the model diverged.
                scores = dict.fromkeys(values, np.nan)
            seconds.append(time.process_time() - started)
            memory.append(max(resident_mb(), memory[-1] if memory else 0.0))
            for metric, value in scores.items():
                values[metric].append(value)
            if not all(np.isfinite(v) for v in scores.values()) or scores.get("mse", 0.0) > DIVERGED_MSE:
                for metric in values:
                    values[metric][-1] = np.nan
                return Curve(values, seconds, failed=True, memory=memory)
    return Curve(values, seconds, failed=False, memory=memory)
