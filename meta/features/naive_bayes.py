"""Naive Bayes over numeric and symbolic attributes, as Weka's: the landmarker's model.

Kept apart from :mod:`policy_store.meta.features.landmarkers` so that computing a
dataset's meta-features without landmarkers never imports scikit-learn.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

_MIN_VARIANCE = 1e-9


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
