"""Meta-features of the HPO corpus's tasks: the dataset's OpenML qualities and what the task is.

Each task ``hpo/<dataset>/<family>/<metric>`` gets the qualities of
:func:`policy_store.meta.features.dataset_meta_features` computed on the rows its
studies trained on (before encoding), source ``"hpo-dataset"``, as LCDB's tasks
carry OpenML's. A regression target has no classes: the class-based qualities
(class counts and entropy, mutual information, landmarkers, ...) are NaN, never
invented, and the target counts as one feature as OpenML does. Besides them,
with source ``"hpo-task"``: ``family_<name>`` (1 for the task's model family,
0 for the others), ``direction_maximize`` (1 when the metric is maximised, else
0) and ``is_regression``.

>>> rows = task_attributes("hpo/iris/sgd/logloss")
>>> rows["family_sgd"], rows["family_mlp"], rows["direction_maximize"], rows["is_regression"]
(1.0, 0.0, 0.0, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
from policy_store.datasets.hpo_families import FAMILIES, METRICS
from policy_store.datasets.hpo_sources import DEFAULT_MAX_ROWS, prepare
from policy_store.meta.features import dataset_meta_features
from policy_store.meta.features import landmarkers as lm

from policy_store.errors import InvalidInputError

DATASET_SOURCE = "hpo-dataset"
TASK_SOURCE = "hpo-task"
_CLASS_QUALITIES: tuple[str, ...] = (
    "NumberOfClasses", "MajorityClassSize", "MinorityClassSize", "MinorityClassPercentage", "ClassEntropy",
    "AutoCorrelation", "MaxNominalAttDistinctValues", "MeanNominalAttDistinctValues",
    "MinNominalAttDistinctValues", "EquivalentNumberOfAtts", "MeanNoiseToSignalRatio",
    *(f"{a}MutualInformation" for a in ("Mean", "Min", "Max", "Quartile1", "Quartile2", "Quartile3")),
    *lm.LANDMARKER_FEATURES,
)


def parse_task(task: str) -> tuple[str, str, str]:
    """(dataset, family, metric) of an HPO task id.

    >>> parse_task("hpo/wine/hgb/accuracy")
    ('wine', 'hgb', 'accuracy')
    """
    parts = task.split("/")
    if len(parts) != 4 or parts[0] != "hpo" or parts[2] not in FAMILIES:
        raise InvalidInputError(f"{task!r} is not an HPO task id (hpo/<dataset>/<family>/<metric>)", field="task")
    return parts[1], parts[2], parts[3]


def task_attributes(task: str) -> dict[str, float]:
    """The task's family one-hot, ``direction_maximize`` and ``is_regression`` (see the module docstring)."""
    _, family, metric = parse_task(task)
    directions = {**METRICS["classification"], **METRICS["regression"]}
    if metric not in directions:
        raise InvalidInputError(f"unknown HPO metric {metric!r} in task {task!r}", field="task")
    out = {f"family_{f}": float(f == family) for f in FAMILIES}
    out["direction_maximize"] = float(directions[metric] == "maximize")
    out["is_regression"] = float(metric in METRICS["regression"])
    return out


def dataset_qualities(dataset: str, *, max_rows: int = DEFAULT_MAX_ROWS) -> dict[str, float]:
    """OpenML qualities of the rows of ``dataset`` the corpus trains on (class ones NaN for regression)."""
    data = prepare(dataset, max_rows=max_rows)
    regression = data.kind == "regression"
    frame = data.frame
    if regression:
        # The qualities need a class column to be valid input; the class-based ones are discarded below.
        frame = frame.assign(**{data.target: (frame[data.target] > frame[data.target].median()).astype(str)})
    q = dataset_meta_features(frame, data.target, seed=0, landmarkers=not regression)
    if regression:
        q.update(dict.fromkeys(_CLASS_QUALITIES, math.nan))
        q["NumberOfSymbolicFeatures"] -= 1
        q["NumberOfNumericFeatures"] += 1
        q["NumberOfBinaryFeatures"] -= 1
        n = q["NumberOfFeatures"]
        for kind in ("Numeric", "Symbolic", "Binary"):
            q[f"PercentageOf{kind}Features"] = 100.0 * q[f"NumberOf{kind}Features"] / n
    return q


def hpo_meta_features(tasks: Iterable[str], *, max_rows: int = DEFAULT_MAX_ROWS) -> pd.DataFrame:
    """Long meta-feature rows (task, feature, value, source) of HPO tasks; each dataset computed once.

    >>> f = hpo_meta_features(["hpo/iris/sgd/accuracy", "hpo/iris/mlp/accuracy"])
    >>> f.groupby("source")["task"].nunique().to_dict()
    {'hpo-dataset': 2, 'hpo-task': 2}
    """
    tasks = sorted(set(tasks))
    qualities: dict[str, dict[str, float]] = {}
    rows = []
    for task in tasks:
        dataset, _, _ = parse_task(task)
        if dataset not in qualities:
            qualities[dataset] = dataset_qualities(dataset, max_rows=max_rows)
        rows += [(task, k, v, DATASET_SOURCE) for k, v in qualities[dataset].items()]
        rows += [(task, k, v, TASK_SOURCE) for k, v in task_attributes(task).items()]
    return pd.DataFrame(rows, columns=["task", "feature", "value", "source"])
