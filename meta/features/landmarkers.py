"""Landmarker meta-features: how well two tiny models do on a dataset.

``NaiveBayes{ErrRate,AUC,Kappa}`` (the names in LCDB's ``datasets.csv``) and
``DecisionStump{ErrRate,AUC,Kappa}`` (OpenML's names) from stratified k-fold
cross-validation (k = 10, fewer when the smallest class has fewer instances;
shuffled with an explicit seed). Numeric attributes are mean-imputed within each
fold; a missing symbolic value is a level of its own. Naive Bayes, like Weka's,
models numeric attributes with per-class normal densities and symbolic ones with
Laplace-smoothed per-class frequencies
(:class:`~policy_store.meta.features.naive_bayes.MixedNaiveBayes`); the stump is a
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

LANDMARKER_FEATURES: tuple[str, ...] = (
    "NaiveBayesErrRate", "NaiveBayesAUC", "NaiveBayesKappa",
    "DecisionStumpErrRate", "DecisionStumpAUC", "DecisionStumpKappa",
)

_MAX_FOLDS = 10


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
    from policy_store.meta.features.naive_bayes import MixedNaiveBayes
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
