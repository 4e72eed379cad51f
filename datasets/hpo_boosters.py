"""LightGBM and XGBoost trained round by round through their native boosters, for the HPO corpus.

A :class:`Booster` wraps ``lightgbm.Booster`` or ``xgboost.Booster`` built on
the training split (single-threaded, :data:`BOOSTER_BINS` histogram bins,
seeded) at its first :meth:`Booster.step` (so that step's cost includes the
binning of the data); each step adds :data:`BOOSTER_ROUNDS` boosting rounds with
``update()``, and :meth:`Booster.predict` gives class probabilities (one column
per class) or regression predictions on the validation split. Both libraries
are imported here only, when such a trial trains (extra ``hpo``).

>>> import numpy as np
>>> from policy_store.datasets.hpo_sources import prepare
>>> data = prepare("iris")
>>> classes = np.unique(data.y_train)
>>> model = Booster("lightgbm", {"learning_rate": 0.1, "num_leaves": 8, "min_child_samples": 5,
...                              "reg_lambda": 1.0, "feature_fraction": 1.0, "bagging_fraction": 1.0},
...                 0, data, classes)
>>> model.step()
>>> model.predict(data.X_valid).shape
(45, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from policy_store.datasets.hpo_sources import Prepared, _require

BOOSTERS: tuple[str, ...] = ("lightgbm", "xgboost")
#: Boosting rounds added by one step of a trial.
BOOSTER_ROUNDS = 4
BOOSTER_BINS = 63


class Booster:
    """One LightGBM or XGBoost model grown :data:`BOOSTER_ROUNDS` rounds per :meth:`step`.

    Parameters
    ----------
    family:
        ``"lightgbm"`` or ``"xgboost"``.
    params:
        A point of the family's search space (:data:`policy_store.datasets.hpo_families.SPACES`).
    seed:
        The library's random seed (row and column subsampling).
    data:
        The prepared dataset; the model trains on its training split.
    classes:
        The sorted training labels for classification, None for regression.
    """

    def __init__(self, family: str, params: dict[str, Any], seed: int, data: Prepared,
                 classes: np.ndarray | None) -> None:
        self.family, self.params, self.seed, self.data = family, params, seed, data
        self.n_classes = 0 if classes is None else len(classes)
        self._labels = data.y_train if classes is None else np.searchsorted(classes, data.y_train)
        self._model: Any = None
        self._train: Any = None
        self._rounds = 0

    def step(self) -> None:
        """Add :data:`BOOSTER_ROUNDS` boosting rounds (building the booster on the first call)."""
        if self._model is None:
            build = _lightgbm if self.family == "lightgbm" else _xgboost
            self._model, self._train = build(self.params, self.seed, self.data.X_train, self._labels,
                                             self.n_classes)
        for _ in range(BOOSTER_ROUNDS):
            if self.family == "lightgbm":
                self._model.update()
            else:
                self._model.update(self._train, self._rounds)
            self._rounds += 1

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, classes) or regression predictions (n,) of the rounds so far."""
        if self.family == "lightgbm":
            out = self._model.predict(X)
        else:
            out = self._model.predict(_require("xgboost").DMatrix(X, nthread=1))
        out = np.asarray(out, dtype=np.float64)
        if self.n_classes == 2:
            return np.column_stack([1.0 - out, out])
        return out


def _objective(n_classes: int, binary: str, multi: str, regression: str) -> dict[str, Any]:
    if n_classes == 0:
        return {"objective": regression}
    if n_classes == 2:
        return {"objective": binary}
    return {"objective": multi, "num_class": n_classes}


def _lightgbm(params: dict[str, Any], seed: int, X: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[Any, Any]:
    lightgbm = _require("lightgbm")
    config = {**_objective(n_classes, "binary", "multiclass", "regression"), **params, "bagging_freq": 1,
              "max_bin": BOOSTER_BINS, "num_threads": 1, "seed": seed, "deterministic": True,
              "force_row_wise": True, "verbosity": -1}
    train = lightgbm.Dataset(X, label=y, params={"max_bin": BOOSTER_BINS, "verbosity": -1})
    return lightgbm.Booster(params=config, train_set=train), train


def _xgboost(params: dict[str, Any], seed: int, X: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[Any, Any]:
    xgboost = _require("xgboost")
    config = {**_objective(n_classes, "binary:logistic", "multi:softprob", "reg:squarederror"), **params,
              "tree_method": "hist", "max_bin": BOOSTER_BINS, "nthread": 1, "seed": seed, "verbosity": 0}
    train = xgboost.DMatrix(X, label=y, nthread=1)
    return xgboost.Booster(params=config, cache=[train]), train
