"""Learning curves from real scikit-learn training with randomly sampled hyperparameters.

Each trial trains one model and records its validation accuracy after every
step, with the measured seconds of that step as its cost:

=======  ======================================  ==============================================
model    estimator                               one step
=======  ======================================  ==============================================
``sgd``  ``SGDClassifier``                        one ``partial_fit`` epoch over the training set
``mlp``  ``MLPClassifier``                        one ``partial_fit`` epoch over the training set
``gb``   ``GradientBoostingClassifier``           one boosting stage (``staged_predict``); the
                                                  measured fit time is split evenly over stages
=======  ======================================  ==============================================

Hyperparameters and model seeds come from ``numpy.random.default_rng([seed,
model, trial])``, the train/validation split from ``seed``; every model runs
single-threaded, so values are bit-for-bit the same for a seed whatever
``jobs`` is (costs are measured, so they vary). Datasets: the ones scikit-learn
bundles (``iris``, ``digits``, ``breast_cancer``, ``wine``) or a CSV with a target
column. Tasks are ``sklearn/<dataset>/<model>/accuracy``; a study is one
(dataset, model, seed, trials, steps) run.

>>> frame = generate("iris", models=("sgd",), trials=2, steps=3, seed=0)
>>> frame.groupby("trial").size().to_dict()
{'0': 3, '1': 3}
>>> frame["study"].iloc[0]
'sklearn-iris-sgd/seed0-trials2-steps3'
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from policy_store.datasets._base import order_long
from policy_store.meta.features.dataset import read_dataset_csv, split_columns
from sklearn import datasets as skdata
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from policy_store.errors import InvalidInputError
from policy_store.outputs import output_dir, write_file

MODELS: tuple[str, ...] = ("sgd", "mlp", "gb")
BUILTIN_DATASETS: dict[str, Callable[..., Any]] = {
    "iris": skdata.load_iris, "digits": skdata.load_digits,
    "breast_cancer": skdata.load_breast_cancer, "wine": skdata.load_wine,
}
VALID_FRACTION = 0.3


def load_xy(dataset: str, target: str | None = None) -> tuple[str, np.ndarray, np.ndarray]:
    """A dataset's name, standardisable feature matrix and class labels.

    ``dataset`` is a bundled scikit-learn dataset name or a CSV path (then
    ``target`` names its class column; symbolic attributes are one-hot encoded,
    missing numbers mean-imputed).

    >>> name, X, y = load_xy("wine")
    >>> name, X.shape, len(set(y))
    ('wine', (178, 13), 3)
    """
    if dataset in BUILTIN_DATASETS:
        bunch = BUILTIN_DATASETS[dataset]()
        return dataset, np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target).astype(str)
    path = Path(dataset)
    if not path.exists():
        raise InvalidInputError(f"unknown dataset {dataset!r}: give one of {sorted(BUILTIN_DATASETS)} "
                                "or an existing CSV path", field="dataset")
    if target is None:
        raise InvalidInputError("a CSV dataset needs --target, the name of its class column", field="target")
    numeric, symbolic, y = split_columns(read_dataset_csv(path), target)
    numeric = numeric.fillna(numeric.mean())
    parts = [numeric]
    if symbolic.shape[1]:
        parts.append(pd.get_dummies(symbolic.astype(object), dummy_na=True, dtype=np.float64))
    X = pd.concat(parts, axis=1).to_numpy(dtype=np.float64)
    return path.stem, X, y.astype(str).to_numpy()


def sample_params(model: str, rng: np.random.Generator) -> dict[str, Any]:
    """Random hyperparameters of ``model`` (log-uniform where scale matters).

    >>> sample_params("gb", np.random.default_rng(0))["max_depth"]
    3
    """
    def log_uniform(low: float, high: float) -> float:
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))

    if model == "sgd":
        return {"loss": str(rng.choice(["hinge", "log_loss", "modified_huber"])),
                "alpha": log_uniform(1e-6, 1e-1), "learning_rate": "invscaling",
                "eta0": log_uniform(1e-4, 1.0)}
    if model == "mlp":
        return {"hidden_layer_sizes": [int(rng.integers(8, 129))], "alpha": log_uniform(1e-6, 1e-1),
                "learning_rate_init": log_uniform(1e-4, 3e-2), "batch_size": int(rng.choice([16, 32, 64]))}
    if model == "gb":
        return {"learning_rate": log_uniform(1e-3, 0.5), "max_depth": int(rng.integers(1, 6)),
                "subsample": float(rng.uniform(0.5, 1.0)), "max_features": float(rng.uniform(0.3, 1.0))}
    raise InvalidInputError(f"unknown model {model!r}; choose from {list(MODELS)}", field="models")


def _epochs(estimator: SGDClassifier | MLPClassifier, data: tuple[np.ndarray, ...],
            steps: int) -> list[tuple[float, float]]:
    X_train, y_train, X_valid, y_valid = data
    classes = np.unique(y_train)
    out = []
    for _ in range(steps):
        started = time.perf_counter()
        estimator.partial_fit(X_train, y_train, classes=classes)
        seconds = time.perf_counter() - started
        out.append((float(np.mean(estimator.predict(X_valid) == y_valid)), seconds))
    return out


def _stages(estimator: GradientBoostingClassifier, data: tuple[np.ndarray, ...],
            steps: int) -> list[tuple[float, float]]:
    X_train, y_train, X_valid, y_valid = data
    started = time.perf_counter()
    estimator.fit(X_train, y_train)
    per_stage = (time.perf_counter() - started) / steps
    return [(float(np.mean(pred == y_valid)), per_stage) for pred in estimator.staged_predict(X_valid)]


def run_trial(model: str, params: dict[str, Any], model_seed: int, data: tuple[np.ndarray, ...],
              steps: int) -> list[tuple[float, float]]:
    """Train one model for ``steps`` steps; (validation accuracy, seconds) after each."""
    with threadpool_limits(1):
        if model == "sgd":
            return _epochs(SGDClassifier(random_state=model_seed, **params), data, steps)
        if model == "mlp":
            kwargs = {**params, "hidden_layer_sizes": tuple(params["hidden_layer_sizes"])}
            return _epochs(MLPClassifier(random_state=model_seed, **kwargs), data, steps)
        return _stages(GradientBoostingClassifier(n_estimators=steps, random_state=model_seed, **params),
                       data, steps)


def _model_id(model: str) -> int:
    if model not in MODELS:
        raise InvalidInputError(f"unknown model {model!r}; choose from {list(MODELS)}", field="models")
    return MODELS.index(model)


def generate(dataset: str | Sequence[str] = "iris", *, target: str | None = None,
             models: Sequence[str] = MODELS, trials: int = 20, steps: int = 30, seed: int = 0, jobs: int = 1,
             progress: bool = False) -> pd.DataFrame:
    """Train ``trials`` random configurations of each model and return their curves (long format).

    Parameters
    ----------
    dataset:
        A bundled scikit-learn dataset name or a CSV path, or several of them.
    target:
        The class column of CSV datasets.
    models:
        Any of ``sgd``, ``mlp``, ``gb``; one task and one study per dataset and model.
    trials:
        Random configurations per model.
    steps:
        Epochs (sgd, mlp) or boosting stages (gb) per trial.
    seed:
        Seeds the split, the hyperparameters and the models.
    jobs:
        Parallel worker processes (joblib); results do not depend on it.
    progress:
        Show a progress bar over trials.

    Returns
    -------
    pandas.DataFrame
        Long format: task, study, trial, step, value, cost_seconds, params, state,
        metric, direction.
    """
    if trials < 1 or steps < 1 or jobs < 1:
        raise InvalidInputError("trials, steps and jobs must be positive", field="trials")
    model_ids = {m: _model_id(m) for m in models}
    names = [dataset] if isinstance(dataset, str) else list(dataset)
    frames = [_generate_one(name, target, model_ids, trials, steps, seed, jobs, progress) for name in names]
    return pd.concat(frames, ignore_index=True)


def _generate_one(dataset: str, target: str | None, model_ids: dict[str, int], trials: int, steps: int,
                  seed: int, jobs: int, progress: bool) -> pd.DataFrame:
    name, X, y = load_xy(dataset, target)
    labels, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        raise InvalidInputError(f"class {labels[counts.argmin()]!r} of {name} has a single instance; the "
                                "stratified validation split needs two or more", field=target or "dataset")
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=VALID_FRACTION, random_state=seed,
                                                          stratify=y)
    scaler = StandardScaler().fit(X_train)
    data = (scaler.transform(X_train), y_train, scaler.transform(X_valid), y_valid)
    plan = []
    for model, mid in model_ids.items():
        for trial in range(trials):
            rng = np.random.default_rng([seed, mid, trial])
            plan.append((model, trial, sample_params(model, rng), int(rng.integers(2**31 - 1))))
    calls = Parallel(n_jobs=jobs, return_as="generator")(
        delayed(run_trial)(model, params, model_seed, data, steps) for model, _, params, model_seed in plan
    )
    rows = []
    for (model, trial, params, model_seed), curve in zip(
        plan, tqdm(calls, total=len(plan), desc=f"training on {name}", disable=not progress), strict=True
    ):
        params_json = json.dumps({"model": model, **params, "random_state": model_seed}, sort_keys=True)
        for step, (value, seconds) in enumerate(curve):
            rows.append((f"sklearn/{name}/{model}/accuracy",
                         f"sklearn-{name}-{model}/seed{seed}-trials{trials}-steps{steps}",
                         str(trial), step, value, seconds, params_json))
    frame = pd.DataFrame(rows, columns=["task", "study", "trial", "step", "value", "cost_seconds", "params"])
    frame["state"] = "COMPLETE"
    frame["metric"] = "accuracy"
    frame["direction"] = "maximize"
    return order_long(frame)


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a long frame to Parquet (zstd), creating the parent folder.

    The file replaces ``path`` whole; a symlink there is replaced, not written through, and a folder, a
    symlinked or a system parent folder is refused (:mod:`policy_store.outputs`).
    """
    out = Path(path)
    if out.is_dir() and not out.is_symlink():
        raise InvalidInputError(f"{str(out)!r} is a folder; name the Parquet file to write", field="out")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="zstd")
    return write_file(output_dir(out.parent), out.name, buffer.getvalue())
