"""Dataset meta-features, named as OpenML's data qualities in LCDB's ``datasets.csv``.

A user's classification dataset (a DataFrame or CSV with a target column) gets the
same qualities LCDB's tasks carry, so that it lives in the same space. The
definitions are OpenML's (its evaluation engine computes them with Weka):

- The target counts as a (symbolic) feature in ``NumberOfFeatures``,
  ``NumberOfSymbolicFeatures``, ``NumberOfBinaryFeatures`` (symbolic with two
  declared values), ``Dimensionality``, the ``Percentage*`` features and the
  ``*NominalAttDistinctValues`` (distinct values present); missing values are
  counted over all columns.
- Attribute entropies and mutual information (bits) cover the symbolic
  attributes without the target, on the rows where the attribute is present
  (OpenML's code files a missing value under the attribute's first category; we
  leave it out, which changes nothing on complete data).
- Per numeric attribute, over its present values: the mean; the standard
  deviation ``s`` with ``n - 1``; skewness ``sum(d**3) / ((n - 1) s**3)`` and
  kurtosis ``sum(d**4) / ((n - 1) s**4) - 3`` with ``d`` the deviations from the
  mean, both 0 for a constant attribute, as OpenML defines them.
- Quartiles over attributes use the ``(n + 1) p`` position (Apache Commons'
  default, numpy's ``"weibull"``; checked against LCDB's values).
- ``NumberOfFeaturesAfterBinarization`` is LCDB's own: the columns after one-hot
  encoding the symbolic attributes, one per declared category (a pandas
  categorical's categories, else the values present).

A quality whose inputs do not exist (e.g. skewness with no numeric attribute) is
NaN, never invented.

Columns of a numeric dtype are numeric attributes; strings, booleans and
categoricals are symbolic. A text column whose values are mostly numbers but not
all is refused, naming the column and row, rather than silently treated as
symbolic.

>>> import pandas as pd
>>> data = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "a", "b", "b"], "y": [0, 0, 1, 1]})
>>> q = dataset_meta_features(data, "y", landmarkers=False)
>>> q["NumberOfFeatures"], q["NumberOfSymbolicFeatures"], q["ClassEntropy"], q["MeanMutualInformation"]
(3.0, 2.0, 1.0, 1.0)
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
from policy_store.meta.features import landmarkers as lm

from policy_store.errors import InvalidInputError

_AGGREGATES = ("Mean", "Min", "Max", "Quartile1", "Quartile2", "Quartile3")
_NUMERIC_STATS = ("KurtosisOfNumericAtts", "MeansOfNumericAtts", "SkewnessOfNumericAtts",
                  "StdDevOfNumericAtts")
_NOMINAL_STATS = ("AttributeEntropy", "MutualInformation")

SIMPLE_FEATURES: tuple[str, ...] = (
    "NumberOfInstances", "NumberOfFeatures", "NumberOfClasses", "NumberOfNumericFeatures",
    "NumberOfSymbolicFeatures", "NumberOfBinaryFeatures", "PercentageOfNumericFeatures",
    "PercentageOfSymbolicFeatures", "PercentageOfBinaryFeatures", "NumberOfMissingValues",
    "NumberOfInstancesWithMissingValues", "PercentageOfMissingValues",
    "PercentageOfInstancesWithMissingValues", "Dimensionality", "MajorityClassSize", "MinorityClassSize",
    "MinorityClassPercentage", "ClassEntropy", "AutoCorrelation", "MaxNominalAttDistinctValues",
    "MeanNominalAttDistinctValues", "MinNominalAttDistinctValues", "NumberOfFeaturesAfterBinarization",
    "EquivalentNumberOfAtts", "MeanNoiseToSignalRatio",
)
#: Every quality :func:`dataset_meta_features` returns, in order.
FEATURES: tuple[str, ...] = (
    SIMPLE_FEATURES
    + tuple(f"{a}{s}" for s in _NUMERIC_STATS + _NOMINAL_STATS for a in _AGGREGATES)
    + lm.LANDMARKER_FEATURES
)

# Above this share of number-like values, a text column is a numeric column with bad entries.
_NUMERIC_SHARE = 0.5
#: A numeric target with more distinct values than this, and than :data:`REGRESSION_MIN_SHARE` of the rows,
#: is a regression target (an integer class column rarely has more than 20 classes).
REGRESSION_MIN_DISTINCT = 20
REGRESSION_MIN_SHARE = 0.05
TASK_TYPES = ("classification", "regression")
#: Qualities defined by the classes: NaN for a regression target, never invented (as the HPO corpus has them).
CLASS_QUALITIES: tuple[str, ...] = (
    "NumberOfClasses", "MajorityClassSize", "MinorityClassSize", "MinorityClassPercentage", "ClassEntropy",
    "AutoCorrelation", "MaxNominalAttDistinctValues", "MeanNominalAttDistinctValues",
    "MinNominalAttDistinctValues", "EquivalentNumberOfAtts", "MeanNoiseToSignalRatio",
    *(f"{a}MutualInformation" for a in _AGGREGATES),
    *lm.LANDMARKER_FEATURES,
)


def detect_task_type(y: pd.Series) -> tuple[str, str]:
    """``("regression" | "classification", why)`` guessed from a target column.

    A numeric (not boolean) target with more than :data:`REGRESSION_MIN_DISTINCT`
    distinct values, and more than :data:`REGRESSION_MIN_SHARE` of the rows, is
    regression; anything else is classification.

    >>> detect_task_type(pd.Series(np.linspace(0, 1, 200)))[0], detect_task_type(pd.Series([0, 1] * 100))[0]
    ('regression', 'classification')
    """
    distinct = int(y.nunique(dropna=True))
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if numeric and distinct > max(REGRESSION_MIN_DISTINCT, REGRESSION_MIN_SHARE * len(y)):
        return "regression", f"numeric target with {distinct} distinct values in {len(y)} rows"
    kind = "numeric" if numeric else "non-numeric"
    return "classification", f"{kind} target with {distinct} distinct values in {len(y)} rows"


def entropy_bits(values: pd.Series) -> float:
    """Shannon entropy in bits of the distribution of the non-missing ``values``.

    >>> entropy_bits(pd.Series(["a", "a", "b", "b"]))
    1.0
    """
    counts = values.dropna().value_counts().to_numpy(dtype=np.float64)
    counts = counts[counts > 0]  # a categorical's unused categories
    if counts.sum() == 0:
        return math.nan
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum() + 0.0)


def mutual_information_bits(attribute: pd.Series, target: pd.Series) -> float:
    """Mutual information in bits between a symbolic attribute and the class, on rows where both exist.

    >>> mutual_information_bits(pd.Series(["a", "a", "b", "b"]), pd.Series([0, 1, 0, 1]))
    0.0
    """
    keep = attribute.notna() & target.notna()
    a, t = attribute[keep].astype(str), target[keep].astype(str)
    if a.empty:
        return math.nan
    joint = a + "\x00" + t
    return float(entropy_bits(a) + entropy_bits(t) - entropy_bits(joint) + 0.0)


def _aggregate(prefix_values: dict[str, list[float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for stat, values in prefix_values.items():
        arr = np.asarray(values, dtype=np.float64)
        arr = arr[~np.isnan(arr)]
        if arr.size == 0:
            out.update({f"{a}{stat}": math.nan for a in _AGGREGATES})
            continue
        q1, q2, q3 = np.percentile(arr, [25, 50, 75], method="weibull")
        out.update({f"Mean{stat}": float(arr.mean()), f"Min{stat}": float(arr.min()),
                    f"Max{stat}": float(arr.max()), f"Quartile1{stat}": float(q1),
                    f"Quartile2{stat}": float(q2), f"Quartile3{stat}": float(q3)})
    return out


def _numeric_stats(col: pd.Series) -> tuple[float, float, float, float]:
    x = col.dropna().to_numpy(dtype=np.float64)
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    if std == 0:
        return mean, std, 0.0, 0.0
    d = x - mean
    skew = float((d**3).sum() / ((x.size - 1) * std**3))
    kurt = float((d**4).sum() / ((x.size - 1) * std**4) - 3)
    return mean, std, skew, kurt


def split_columns(data: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Validate a classification dataset and split it into numeric attributes, symbolic ones and the class.

    Raises
    ------
    InvalidInputError
        No such target column, missing or single-valued class, no attributes, an
        attribute with no value, a non-finite number, or a non-number in a numeric
        column; the error names the column (and row where there is one).

    Examples
    --------
    >>> split_columns(pd.DataFrame({"x": [1, 2], "y": ["a", "a"]}), "y")
    Traceback (most recent call last):
    policy_store.errors.InvalidInputError: field 'y': the target has a single class ('a'); ...
    """
    if target not in data.columns:
        raise InvalidInputError(f"no target column {target!r}; columns are {list(map(str, data.columns))}",
                                field=target)
    if data.empty:
        raise InvalidInputError("the dataset has no rows", field=target)
    y = data[target]
    if y.isna().any():
        raise InvalidInputError("the target has missing values; drop those rows first",
                                row=int(np.flatnonzero(y.isna().to_numpy())[0]), field=target)
    if y.nunique() < 2:
        raise InvalidInputError(f"the target has a single class ({y.iloc[0]!r}); a classification "
                                "dataset needs two or more", field=target)
    attributes = data.drop(columns=[target])
    if attributes.shape[1] == 0:
        raise InvalidInputError("the dataset has no attribute besides the target", field=target)
    numeric, symbolic = {}, {}
    for name in attributes.columns:
        col = attributes[name]
        if col.isna().all():
            raise InvalidInputError("the column has no value (all missing); drop it", field=str(name))
        if pd.api.types.is_bool_dtype(col) or isinstance(col.dtype, pd.CategoricalDtype):
            symbolic[name] = col
        elif pd.api.types.is_numeric_dtype(col):
            numeric[name] = col.astype(np.float64)
        else:
            as_number = pd.to_numeric(col.where(col.notna()), errors="coerce")
            bad = col.notna() & as_number.isna()
            if not bad.any():
                numeric[name] = as_number.astype(np.float64)
            elif 1 - bad.sum() / col.notna().sum() > _NUMERIC_SHARE:
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise InvalidInputError(f"non-numeric value {col.iloc[row]!r} in a numeric column; fix it "
                                        "or mark it missing", row=row, field=str(name))
            else:
                symbolic[name] = col
        if name in numeric and not np.isfinite(numeric[name].dropna().to_numpy()).all():
            row = int(np.flatnonzero(np.isinf(numeric[name].to_numpy()))[0])
            raise InvalidInputError("infinite value in a numeric column", row=row, field=str(name))
    index = attributes.index
    return pd.DataFrame(numeric, index=index), pd.DataFrame(symbolic, index=index), y


def _declared(col: pd.Series) -> int:
    # A categorical's declared categories count even when unused, as in an ARFF header.
    if isinstance(col.dtype, pd.CategoricalDtype):
        return len(col.cat.categories)
    return int(col.nunique(dropna=True))


def _ratio(num: float, den: float) -> float:
    return num / den if den and math.isfinite(den) and math.isfinite(num) else math.nan


def dataset_meta_features(data: pd.DataFrame, target: str, *, seed: int = 0,
                          landmarkers: bool = True, task_type: str = "auto") -> dict[str, float]:
    """OpenML data qualities of a classification or regression dataset.

    A regression target (``task_type``, or :func:`detect_task_type` with ``"auto"``)
    has no classes: :data:`CLASS_QUALITIES` are NaN and the target counts as one
    feature, as the HPO corpus's regression tasks have them.

    Parameters
    ----------
    data:
        One row per instance, attributes and the target column.
    target:
        Name of the class column.
    seed:
        Seed of the cross-validation split of the landmarkers.
    landmarkers:
        Also compute the naive-Bayes and decision-stump landmarkers (cross-validated
        models; slower on large data; classification only).
    task_type:
        ``"classification"``, ``"regression"`` or ``"auto"``.

    Returns
    -------
    dict
        Every name of :data:`FEATURES` (landmarkers NaN when not computed).

    Examples
    --------
    >>> data = pd.DataFrame({"x": [1.0, 2.0, 3.0, None], "y": ["a", "b", "a", "a"]})
    >>> q = dataset_meta_features(data, "y", landmarkers=False)
    >>> q["MajorityClassSize"], q["PercentageOfMissingValues"], q["MeanStdDevOfNumericAtts"]
    (3.0, 12.5, 1.0)
    """
    if task_type not in ("auto", *TASK_TYPES):
        raise InvalidInputError(f"task type must be one of auto, {', '.join(TASK_TYPES)}; got {task_type!r}",
                                field="task_type")
    numeric, symbolic, y = split_columns(data, target)
    if task_type == "auto":
        task_type = detect_task_type(y)[0]
    n = len(y)
    n_features = numeric.shape[1] + symbolic.shape[1] + 1
    counts = y.value_counts()
    attrs = pd.concat([numeric, symbolic], axis=1)
    missing = int(attrs.isna().to_numpy().sum())
    with_missing = int(attrs.isna().any(axis=1).sum())
    declared = [_declared(symbolic[c]) for c in symbolic.columns] + [_declared(y)]
    distinct = [int(symbolic[c].nunique(dropna=True)) for c in symbolic.columns] + [int(y.nunique())]
    n_binary = sum(1 for d in declared if d == 2)
    labels = y.astype(str).to_numpy()
    q: dict[str, float] = {
        "NumberOfInstances": n,
        "NumberOfFeatures": n_features,
        "NumberOfClasses": len(counts),
        "NumberOfNumericFeatures": numeric.shape[1],
        "NumberOfSymbolicFeatures": symbolic.shape[1] + 1,
        "NumberOfBinaryFeatures": n_binary,
        "PercentageOfNumericFeatures": 100.0 * numeric.shape[1] / n_features,
        "PercentageOfSymbolicFeatures": 100.0 * (symbolic.shape[1] + 1) / n_features,
        "PercentageOfBinaryFeatures": 100.0 * n_binary / n_features,
        "NumberOfMissingValues": missing,
        "NumberOfInstancesWithMissingValues": with_missing,
        "PercentageOfMissingValues": 100.0 * missing / (n * n_features),
        "PercentageOfInstancesWithMissingValues": 100.0 * with_missing / n,
        "Dimensionality": n_features / n,
        "MajorityClassSize": int(counts.max()),
        "MinorityClassSize": int(counts.min()),
        "MinorityClassPercentage": 100.0 * counts.min() / n,
        "ClassEntropy": entropy_bits(y),
        "AutoCorrelation": float(np.mean(labels[1:] == labels[:-1])) if n > 1 else math.nan,
        "MaxNominalAttDistinctValues": max(distinct),
        "MeanNominalAttDistinctValues": float(np.mean(distinct)),
        "MinNominalAttDistinctValues": min(distinct),
        "NumberOfFeaturesAfterBinarization": numeric.shape[1] + sum(declared[:-1]),
    }
    per_numeric = [_numeric_stats(numeric[c]) for c in numeric.columns]
    q.update(_aggregate({
        "MeansOfNumericAtts": [s[0] for s in per_numeric],
        "StdDevOfNumericAtts": [s[1] for s in per_numeric],
        "SkewnessOfNumericAtts": [s[2] for s in per_numeric],
        "KurtosisOfNumericAtts": [s[3] for s in per_numeric],
        "AttributeEntropy": [entropy_bits(symbolic[c]) for c in symbolic.columns],
        "MutualInformation": [mutual_information_bits(symbolic[c], y) for c in symbolic.columns],
    }))
    mean_mi = q["MeanMutualInformation"]
    q["EquivalentNumberOfAtts"] = _ratio(q["ClassEntropy"], mean_mi)
    q["MeanNoiseToSignalRatio"] = _ratio(q["MeanAttributeEntropy"] - mean_mi, mean_mi)
    if landmarkers and task_type == "classification":
        q.update(lm.landmarkers(numeric, symbolic, y, seed=seed))
    if task_type == "regression":
        q.update(dict.fromkeys(CLASS_QUALITIES, math.nan))
    return {name: float(q.get(name, math.nan)) for name in FEATURES}


def read_dataset_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a dataset CSV; ``?`` marks a missing value, as in OpenML's ARFF files."""
    try:
        return pd.read_csv(path, na_values=["?"])
    except (OSError, ValueError) as e:
        raise InvalidInputError(f"cannot read {os.fspath(path)!r} as CSV: {e}", field="path") from e


def meta_features_from_csv(path: str | os.PathLike[str], target: str, *, seed: int = 0,
                           landmarkers: bool = True, task_type: str = "auto") -> dict[str, float]:
    """:func:`dataset_meta_features` of a CSV file with a header row."""
    return dataset_meta_features(read_dataset_csv(path), target, seed=seed, landmarkers=landmarkers,
                                 task_type=task_type)
