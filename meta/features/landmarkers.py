"""Landmarker meta-features: how well two tiny models do on a dataset.

``NaiveBayes{ErrRate,AUC,Kappa}`` (the names in LCDB's ``datasets.csv``) and
``DecisionStump{ErrRate,AUC,Kappa}`` (OpenML's names) from stratified k-fold
cross-validation (k = 10, fewer when the smallest class has fewer instances;
shuffled with an explicit seed). Numeric attributes are mean-imputed within each
fold; a missing symbolic value is a level of its own. Naive Bayes, like Weka's,
models numeric attributes with per-class normal densities and symbolic ones with
Laplace-smoothed per-class frequencies (:class:`MixedNaiveBayes`); the stump is a
depth-1 decision tree over one-hot encoded symbolic attributes. AUC is the class-frequency
weighted one-vs-rest AUC, as OpenML reports it. OpenML computes these with Weka,
so values are close to, not identical with, LCDB's.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> x = pd.DataFrame({"x": np.r_[rng.normal(0, 1, 20), rng.normal(5, 1, 20)]})
>>> y = pd.Series([0] * 20 + [1] * 20)
>>> landmarkers(x, pd.DataFrame(index=x.index), y, seed=0)["NaiveBayesErrRate"]
0.0
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

LANDMARKER_FEATURES: tuple[str, ...] = (
    "NaiveBayesErrRate", "NaiveBayesAUC", "NaiveBayesKappa",
    "DecisionStumpErrRate", "DecisionStumpAUC", "DecisionStumpKappa",
)

_MAX_FOLDS = 10
_MIN_VARIANCE = 1e-9


def _scores(y: np.ndarray, classes: np.ndarray, proba: np.ndarray) -> tuple[float, float, float]:
    from sklearn.metrics import cohen_kappa_score, roc_auc_score

    predicted = classes[np.argmax(proba, axis=1)]
    err = float(np.mean(predicted != y))
    if len(classes) == 2:
        auc = float(roc_auc_score(y == classes[1], proba[:, 1]))
    else:
        auc = float(roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=classes))
    kappa = float(cohen_kappa_score(y, predicted))
    return err, auc, kappa


def landmarkers(numeric: pd.DataFrame, symbolic: pd.DataFrame, y: pd.Series, *, seed: int) -> dict[str, float]:
    """Cross-validated naive-Bayes and decision-stump error rate, AUC and kappa.

    Parameters
    ----------
    numeric, symbolic:
        The attributes, as split by :func:`policy_store.meta.features.dataset.split_columns`.
    y:
        The class.
    seed:
        Seed of the fold shuffle and of the stump's tie-breaking.

    Returns
    -------
    dict
        Every name of :data:`LANDMARKER_FEATURES`; NaN when the smallest class has
        fewer than two instances (no stratified split exists).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.tree import DecisionTreeClassifier

    labels = y.astype(str).to_numpy()
    folds = min(_MAX_FOLDS, int(pd.Series(labels).value_counts().min()))
    if folds < 2:
        return dict.fromkeys(LANDMARKER_FEATURES, math.nan)
    filled = symbolic.astype(object).where(symbolic.notna(), "\x00missing").astype(str)
    X = pd.concat([numeric, filled], axis=1)
    X.columns = [str(c) for c in X.columns]
    num_cols, sym_cols = [str(c) for c in numeric.columns], [str(c) for c in symbolic.columns]
    # Codes of symbolic values depend on the values only (never on the class), so they are set once.
    codes = {c: filled[c].astype("category").cat.codes.to_numpy() for c in symbolic.columns}
    X_nb = np.column_stack([numeric.to_numpy(np.float64)] + [codes[c] for c in symbolic.columns])
    stump_parts = [("numeric", SimpleImputer(strategy="mean"), num_cols),
                   ("symbolic", OneHotEncoder(handle_unknown="ignore", sparse_output=False), sym_cols)]
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    classes = np.unique(labels)
    runs = (
        ("NaiveBayes", MixedNaiveBayes(n_numeric=numeric.shape[1],
                                       n_categories=[int(codes[c].max()) + 1 for c in symbolic.columns]), X_nb),
        ("DecisionStump", make_pipeline(ColumnTransformer([p for p in stump_parts if p[2]]),
                                        DecisionTreeClassifier(max_depth=1, random_state=seed)), X),
    )
    out: dict[str, float] = {}
    for prefix, model, data in runs:
        proba = cross_val_predict(model, data, labels, cv=cv, method="predict_proba")
        err, auc, kappa = _scores(labels, classes, proba)
        out.update({f"{prefix}ErrRate": err, f"{prefix}AUC": auc, f"{prefix}Kappa": kappa})
    return out


class MixedNaiveBayes(ClassifierMixin, BaseEstimator):
    """Naive Bayes over numeric and symbolic attributes, as Weka's ``NaiveBayes``.

    Numeric attributes (the first ``n_numeric`` columns; missing values skipped by
    mean imputation) get per-class normal densities; symbolic attributes (integer
    codes in the remaining columns) get per-class frequencies with Laplace
    smoothing.

    Parameters
    ----------
    n_numeric:
        How many leading columns are numeric.
    n_categories:
        Number of codes of each symbolic column.

    Examples
    --------
    >>> X = np.array([[0.1, 0], [0.2, 0], [0.9, 1], [1.1, 1]])
    >>> MixedNaiveBayes(n_numeric=1, n_categories=[2]).fit(X, ["a", "a", "b", "b"]).predict(X).tolist()
    ['a', 'a', 'b', 'b']
    """

    def __init__(self, n_numeric: int = 0, n_categories: list[int] | None = None) -> None:
        self.n_numeric = n_numeric
        self.n_categories = n_categories

    def fit(self, X: np.ndarray, y: np.ndarray) -> MixedNaiveBayes:
        from sklearn.impute import SimpleImputer
        from sklearn.naive_bayes import CategoricalNB, GaussianNB

        X = np.asarray(X, dtype=np.float64)
        self.classes_ = np.unique(y)
        self.models_ = []
        if self.n_numeric:
            self.imputer_ = SimpleImputer(strategy="mean").fit(X[:, : self.n_numeric])
            gaussian = GaussianNB().fit(self.imputer_.transform(X[:, : self.n_numeric]), y)
            # Constant attributes would divide by zero variance; Weka's estimator has a precision floor too.
            gaussian.var_ = np.maximum(gaussian.var_, _MIN_VARIANCE)
            self.models_.append(gaussian)
        if X.shape[1] > self.n_numeric:
            self.models_.append(CategoricalNB(alpha=1.0, min_categories=self.n_categories)
                                .fit(X[:, self.n_numeric:].astype(np.int64), y))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        from scipy.special import softmax

        X = np.asarray(X, dtype=np.float64)
        parts = []
        if self.n_numeric:
            parts.append(self.models_[0].predict_joint_log_proba(self.imputer_.transform(X[:, : self.n_numeric])))
        if X.shape[1] > self.n_numeric:
            parts.append(self.models_[-1].predict_joint_log_proba(X[:, self.n_numeric:].astype(np.int64)))
        joint = sum(parts)
        if len(parts) == 2:  # each joint carries the class prior: keep it once
            joint = joint - np.log(self.models_[0].class_prior_)
        return softmax(joint, axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
