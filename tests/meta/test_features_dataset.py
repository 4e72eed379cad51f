"""Dataset meta-features: values pinned on hand-computed datasets, malformed data refused by column."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from policy_store.meta.features.dataset import (
    FEATURES,
    dataset_meta_features,
    entropy_bits,
    meta_features_from_csv,
    mutual_information_bits,
)
from policy_store.meta.features.landmarkers import LANDMARKER_FEATURES
from policy_store.meta.features.naive_bayes import MixedNaiveBayes
from sklearn.datasets import load_iris
from sklearn.naive_bayes import CategoricalNB

from policy_store.errors import InvalidInputError

LCDB_DATASETS = Path(__file__).resolve().parents[1] / "data" / "lcdb" / "datasets.csv"
H_04 = -(0.4 * math.log2(0.4) + 0.6 * math.log2(0.6))  # entropy of a 2:3 split, 0.970950594...


@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame({
        "x": [1.0, 2.0, 3.0, 4.0, 10.0],
        "c": ["a", "a", "b", "b", "b"],
        "m": [1.0, None, 3.0, None, 5.0],
        "y": ["p", "p", "q", "q", "q"],
    })


def test_simple_qualities_by_hand(small):
    q = dataset_meta_features(small, "y", landmarkers=False)
    expected = {
        "NumberOfInstances": 5, "NumberOfFeatures": 4, "NumberOfClasses": 2, "NumberOfNumericFeatures": 2,
        "NumberOfSymbolicFeatures": 2, "NumberOfBinaryFeatures": 2, "PercentageOfNumericFeatures": 50.0,
        "PercentageOfSymbolicFeatures": 50.0, "PercentageOfBinaryFeatures": 50.0, "NumberOfMissingValues": 2,
        "NumberOfInstancesWithMissingValues": 2, "PercentageOfMissingValues": 10.0,
        "PercentageOfInstancesWithMissingValues": 40.0, "Dimensionality": 0.8, "MajorityClassSize": 3,
        "MinorityClassSize": 2, "MinorityClassPercentage": 40.0, "AutoCorrelation": 0.75,
        "MaxNominalAttDistinctValues": 2, "MeanNominalAttDistinctValues": 2, "MinNominalAttDistinctValues": 2,
        "NumberOfFeaturesAfterBinarization": 4,
    }
    assert {k: q[k] for k in expected} == pytest.approx(expected)
    assert q["ClassEntropy"] == pytest.approx(H_04)


def test_information_theoretic_qualities_by_hand(small):
    q = dataset_meta_features(small, "y", landmarkers=False)
    # c splits the rows exactly as the class does: MI = H(c) = H(class)
    assert q["MeanAttributeEntropy"] == pytest.approx(H_04)
    assert q["MeanMutualInformation"] == pytest.approx(H_04)
    assert q["EquivalentNumberOfAtts"] == pytest.approx(1.0)
    assert q["MeanNoiseToSignalRatio"] == pytest.approx(0.0, abs=1e-12)
    assert mutual_information_bits(pd.Series(["a", "b", "a", "b"]), pd.Series([0, 0, 1, 1])) == 0.0
    assert entropy_bits(pd.Series(["a", "b", "c", "d"])) == 2.0


def test_numeric_statistics_by_hand(small):
    q = dataset_meta_features(small, "y", landmarkers=False)
    # means 4 (x) and 3 (m); weibull quartiles of two values clamp to the ends
    assert [q[f"{a}MeansOfNumericAtts"] for a in ("Mean", "Min", "Max", "Quartile1", "Quartile2", "Quartile3")] \
        == pytest.approx([3.5, 3.0, 4.0, 3.0, 3.5, 4.0])
    # x: squared deviations 9, 4, 1, 0, 36 -> sample variance 12.5; m: 1, 3, 5 -> variance 4
    assert q["MaxStdDevOfNumericAtts"] == pytest.approx(math.sqrt(12.5))
    assert q["MinStdDevOfNumericAtts"] == pytest.approx(2.0)
    # OpenML's skewness sum(d**3) / ((n - 1) s**3): x has deviations -3, -2, -1, 0, 6 -> 180 / (4 * 12.5**1.5);
    # m (deviations -2, 0, 2) is symmetric
    assert q["MaxSkewnessOfNumericAtts"] == pytest.approx(180 / (4 * 12.5**1.5))
    assert q["MinSkewnessOfNumericAtts"] == pytest.approx(0.0, abs=1e-12)
    # kurtosis sum(d**4) / ((n - 1) s**4) - 3: x -> 1394 / (4 * 156.25) - 3 = -0.7696; m -> 32 / (2 * 16) - 3 = -2
    assert q["MaxKurtosisOfNumericAtts"] == pytest.approx(-0.7696)
    assert q["MinKurtosisOfNumericAtts"] == pytest.approx(-2.0)
    assert q["MeanKurtosisOfNumericAtts"] == pytest.approx((-0.7696 - 2.0) / 2)


def test_constant_attribute_has_zero_skewness_and_kurtosis():
    q = dataset_meta_features(pd.DataFrame({"k": [5.0] * 4, "y": [0, 1, 0, 1]}), "y", landmarkers=False)
    assert (q["MeanSkewnessOfNumericAtts"], q["MeanKurtosisOfNumericAtts"], q["MeanStdDevOfNumericAtts"]) \
        == (0.0, 0.0, 0.0)


def test_binary_counts_declared_values_distinct_counts_present_ones():
    c = pd.Categorical(["a", "a", "b", "b"], categories=["a", "b", "c"])
    data = pd.DataFrame({"c": c, "d": ["u", "v", "u", "v"], "y": [0, 1, 0, 1]})
    q = dataset_meta_features(data, "y", landmarkers=False)
    assert q["NumberOfBinaryFeatures"] == 2  # d and the class; c declares three values
    assert q["MaxNominalAttDistinctValues"] == 2  # c shows only two
    assert q["NumberOfFeaturesAfterBinarization"] == 3 + 2


def test_missing_inputs_give_nan_never_invented():
    q = dataset_meta_features(pd.DataFrame({"c": ["a", "b", "a", "b"], "y": [0, 1, 0, 1]}), "y",
                              landmarkers=False)
    assert all(math.isnan(q[f"{a}MeansOfNumericAtts"]) for a in ("Mean", "Min", "Max", "Quartile2"))
    q = dataset_meta_features(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]}), "y",
                              landmarkers=False)
    assert math.isnan(q["MeanMutualInformation"]) and math.isnan(q["EquivalentNumberOfAtts"])
    assert all(math.isnan(q[name]) for name in LANDMARKER_FEATURES)
    assert list(q) == list(FEATURES)


def test_landmarkers_pinned_on_iris():
    iris = load_iris(as_frame=True).frame
    q = dataset_meta_features(iris, "target", seed=0)
    assert q["NaiveBayesErrRate"] == pytest.approx(7 / 150)
    assert q["DecisionStumpErrRate"] == pytest.approx(1 / 3)
    assert q["DecisionStumpKappa"] == pytest.approx(0.5)
    assert 0.95 < q["NaiveBayesAUC"] <= 1.0
    assert q["AutoCorrelation"] == pytest.approx(147 / 149)  # iris is sorted by class
    assert dataset_meta_features(iris, "target", seed=0) == q  # seeded: same result


def test_names_are_lcdb_columns():
    lcdb_columns = set(pd.read_csv(LCDB_DATASETS, nrows=0).columns)
    ours = set(FEATURES) - {n for n in FEATURES if n.startswith("DecisionStump")}
    assert ours <= lcdb_columns
    # every OpenML quality in LCDB's datasets.csv is computed
    assert lcdb_columns - {"openmlid", "Name"} <= set(FEATURES)


@pytest.mark.parametrize(
    ("data", "target", "field", "message"),
    [
        (pd.DataFrame({"x": [1, 2]}), "y", "y", "no target column"),
        (pd.DataFrame({"x": [1, 2, 3], "y": ["a", "a", "a"]}), "y", "y", "single class"),
        (pd.DataFrame({"x": [1, 2], "e": [None, None], "y": ["a", "b"]}), "y", "e", "all missing"),
        (pd.DataFrame({"x": ["1.5", "2", "abc", "4"], "y": [0, 1, 0, 1]}), "y", "x", "non-numeric value 'abc'"),
        (pd.DataFrame({"x": [1.0, np.inf], "y": [0, 1]}), "y", "x", "infinite"),
        (pd.DataFrame({"x": [1, 2], "y": ["a", None]}), "y", "y", "missing values"),
        (pd.DataFrame({"y": ["a", "b"]}), "y", "y", "no attribute"),
    ],
)
def test_malformed_datasets_name_the_column(data, target, field, message):
    with pytest.raises(InvalidInputError, match=message) as e:
        dataset_meta_features(data, target, landmarkers=False)
    assert e.value.field == field


def test_string_in_numeric_column_names_the_row():
    with pytest.raises(InvalidInputError) as e:
        dataset_meta_features(pd.DataFrame({"x": ["1", "2", "oops", "4"], "y": [0, 1, 0, 1]}), "y")
    assert (e.value.row, e.value.field) == (2, "x")


def test_csv_question_mark_is_missing(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,c,y\n1,a,p\n?,b,q\n3,?,p\n4,b,q\n")
    q = meta_features_from_csv(path, "y", landmarkers=False)
    assert (q["NumberOfMissingValues"], q["NumberOfNumericFeatures"], q["NumberOfSymbolicFeatures"]) == (2, 1, 2)
    with pytest.raises(InvalidInputError) as e:
        meta_features_from_csv(tmp_path / "missing.csv", "y")
    assert e.value.field == "path"


def test_definitions_agree_with_lcdb_qualities():
    """Quartile convention and derived ratios checked against real OpenML values in LCDB's datasets.csv."""
    rows = pd.read_csv(LCDB_DATASETS).set_index("openmlid")
    blood = rows.loc[1464]  # four numeric attributes
    lo, hi = blood["MinMeansOfNumericAtts"], blood["MaxMeansOfNumericAtts"]
    q1, q3 = blood["Quartile1MeansOfNumericAtts"], blood["Quartile3MeansOfNumericAtts"]
    # under the (n + 1) p position, Q1 of four values is x1 + (x2 - x1) / 4 and Q3 is x3 + 3 (x4 - x3) / 4
    means = [lo, lo + 4 * (q1 - lo), hi - 4 * (hi - q3), hi]
    data = pd.DataFrame({f"a{i}": [m - 1.0, m + 1.0] for i, m in enumerate(means)} | {"y": [0, 1]})
    q = dataset_meta_features(data, "y", landmarkers=False)
    # median and mean are not used to rebuild the values: they check the convention independently
    assert q["Quartile2MeansOfNumericAtts"] == pytest.approx(blood["Quartile2MeansOfNumericAtts"])
    assert q["MeanMeansOfNumericAtts"] == pytest.approx(blood["MeanMeansOfNumericAtts"])
    assert (q["Quartile1MeansOfNumericAtts"], q["Quartile3MeansOfNumericAtts"]) == pytest.approx((q1, q3))
    for _, r in rows.iterrows():
        assert r["Dimensionality"] == pytest.approx(r["NumberOfFeatures"] / r["NumberOfInstances"])
        assert r["PercentageOfMissingValues"] == pytest.approx(
            100 * r["NumberOfMissingValues"] / (r["NumberOfInstances"] * r["NumberOfFeatures"]))
    kr = rows.loc[3]
    assert kr["EquivalentNumberOfAtts"] == pytest.approx(kr["ClassEntropy"] / kr["MeanMutualInformation"])
    assert kr["MeanNoiseToSignalRatio"] == pytest.approx(
        (kr["MeanAttributeEntropy"] - kr["MeanMutualInformation"]) / kr["MeanMutualInformation"])
    # the class counts as a symbolic feature: kr-vs-kp has 36 symbolic attributes, 37 features
    assert (kr["NumberOfFeatures"], kr["NumberOfSymbolicFeatures"]) == (37, 37)


def test_mixed_naive_bayes_reduces_to_its_parts():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, size=(40, 2))
    y = np.where(codes[:, 0] == 2, "b", "a")
    categorical = CategoricalNB(alpha=1.0, min_categories=[3, 3]).fit(codes, y)
    symbolic_only = MixedNaiveBayes(n_numeric=0, n_categories=[3, 3]).fit(codes, y)
    assert np.allclose(symbolic_only.predict_proba(codes), categorical.predict_proba(codes))
    # a numeric column that is the same in every class carries no evidence
    with_constant = np.column_stack([np.full(40, 7.0), codes])
    mixed = MixedNaiveBayes(n_numeric=1, n_categories=[3, 3]).fit(with_constant, y)
    assert np.allclose(mixed.predict_proba(with_constant), categorical.predict_proba(codes))


def test_naive_bayes_landmarker_on_symbolic_data():
    # the class is a function of c: naive Bayes gets it right
    data = pd.DataFrame({"c": ["u", "v", "w"] * 10, "noise": ["p", "q"] * 15})
    data["y"] = data["c"].map({"u": "A", "v": "B", "w": "B"})
    q = dataset_meta_features(data, "y", seed=0)
    assert q["NaiveBayesErrRate"] == 0.0 and q["NaiveBayesKappa"] == 1.0 and q["NaiveBayesAUC"] == 1.0
    assert q["DecisionStumpErrRate"] == 0.0
