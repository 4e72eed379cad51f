"""Landmarker meta-features: how well two tiny models do on a dataset.

``NaiveBayes{ErrRate,AUC,Kappa}`` (the names in LCDB's ``datasets.csv``) and
``DecisionStump{ErrRate,AUC,Kappa}`` (OpenML's names) from stratified k-fold
cross-validation (k = 10, fewer when the smallest class has fewer instances;
shuffled with an explicit seed). Numeric attributes are mean-imputed within each
fold; symbolic ones are one-hot encoded (missing as its own level). Naive Bayes
is Gaussian; the stump is a depth-1 decision tree. AUC is the class-frequency
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
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import cohen_kappa_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

LANDMARKER_FEATURES: tuple[str, ...] = (
    "NaiveBayesErrRate", "NaiveBayesAUC", "NaiveBayesKappa",
    "DecisionStumpErrRate", "DecisionStumpAUC", "DecisionStumpKappa",
)

_MAX_FOLDS = 10


def _scores(y: np.ndarray, classes: np.ndarray, proba: np.ndarray) -> tuple[float, float, float]:
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
        The attributes, as split by :func:`policy_store.meta.features.split_columns`.
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
    labels = y.astype(str).to_numpy()
    folds = min(_MAX_FOLDS, int(pd.Series(labels).value_counts().min()))
    if folds < 2:
        return dict.fromkeys(LANDMARKER_FEATURES, math.nan)
    X = pd.concat([numeric, symbolic.astype(object).where(symbolic.notna(), "\x00missing").astype(str)],
                  axis=1)
    X.columns = [str(c) for c in X.columns]
    parts = []
    if numeric.shape[1]:
        parts.append(("numeric", SimpleImputer(strategy="mean"), [str(c) for c in numeric.columns]))
    if symbolic.shape[1]:
        parts.append(("symbolic", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                      [str(c) for c in symbolic.columns]))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    classes = np.unique(labels)
    out: dict[str, float] = {}
    for prefix, model in (("NaiveBayes", GaussianNB()),
                          ("DecisionStump", DecisionTreeClassifier(max_depth=1, random_state=seed))):
        pipeline = make_pipeline(ColumnTransformer(parts), model)
        proba = cross_val_predict(pipeline, X, labels, cv=cv, method="predict_proba")
        err, auc, kappa = _scores(labels, classes, proba)
        out.update({f"{prefix}ErrRate": err, f"{prefix}AUC": auc, f"{prefix}Kappa": kappa})
    return out
