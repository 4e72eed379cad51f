"""LCDB, the Learning Curve Database (Mohr et al. 2022), as pruning benchmark tasks.

LCDB holds validation scores of 20 scikit-learn learners on 248 OpenML
classification datasets, each trained at growing training-set sizes (anchors 16,
23, 32, 45, ... ×√2) under 5 outer × 25 inner seeds. It maps into the store as:

========  =======================================================
task      ``lcdb/<openmlid>/<metric>`` (one OpenML dataset)
study     ``lcdb-<metric>/<openmlid>/<outer_seed>-<inner_seed>``
trial     the learner
step      anchor index: rank of the training-set size among the
          dataset's anchors (0 for 16 rows)
value     ``score_valid``
cost      ``traintime`` of that anchor (each anchor trains anew)
params    JSON with learner, openmlid and dataset name
state     ``COMPLETE``; ``FAIL`` for a curve with missing scores (for
          auc and f1, LCDB has 16,608 rows without a score, whole
          curves on 3 datasets)
========  =======================================================

Meta-features come from LCDB's ``datasets.csv`` (OpenML qualities, source
``"openml"``; 51 datasets have no row there and get none) and from each task's
first study (learning-curve features, source ``"curves"``).

>>> import pyarrow as pa
>>> raw = pa.table({"openmlid": [3, 3], "learner": ["SVC_rbf"] * 2, "size_train": [16, 23],
...                 "outer_seed": [0, 0], "inner_seed": [1, 1], "traintime": [0.1, 0.2],
...                 "score_valid": [0.5, 0.6]})
>>> long_frame(raw, metric="accuracy", names={3: "kr-vs-kp"})[["study", "trial", "step", "value"]]
                 study    trial  step  value
0  lcdb-accuracy/3/0-1  SVC_rbf     0    0.5
1  lcdb-accuracy/3/0-1  SVC_rbf     1    0.6
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from policy_store.datasets import _lcdb_files as files
from policy_store.meta.features.curve import save_task_curve_features
from policy_store.meta.features.store import save_meta_features_frame

from policy_store.binding import literal_path
from policy_store.errors import InvalidInputError
from policy_store.ingest import IngestReport, ingest_frame
from policy_store.store import PolicyStore

#: LCDB's metrics and the direction in which each improves.
METRICS: dict[str, str] = {"accuracy": "maximize", "auc": "maximize", "f1": "maximize", "logloss": "minimize"}

SOURCE = f"lcdb-{files.LCDB_VERSION}"


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise InvalidInputError(f"unknown LCDB metric {metric!r}; choose one of {sorted(METRICS)}",
                                field="metric")
    return METRICS[metric]


def task_name(openmlid: int, metric: str) -> str:
    """The store's task id of one LCDB dataset and metric.

    >>> task_name(3, "accuracy")
    'lcdb/3/accuracy'
    """
    return f"lcdb/{int(openmlid)}/{metric}"


def read_curves(metric: str = "accuracy", *, tasks: int | None = None, seeds: int | None = None,
                source: str | os.PathLike[str] | None = None, download: bool = True,
                progress: bool = False) -> pa.Table:
    """LCDB's raw curve rows for the first ``tasks`` datasets and ``seeds`` seed pairs.

    Parameters
    ----------
    metric:
        ``accuracy``, ``auc``, ``f1`` or ``logloss``.
    tasks:
        Keep the datasets with the ``tasks`` smallest OpenML ids (all when None).
    seeds:
        Keep, per dataset, its first ``seeds`` (outer_seed, inner_seed) pairs in order.
    source, download, progress:
        Where LCDB is read from; see :func:`policy_store.datasets._lcdb_files.locate`.

    Returns
    -------
    pyarrow.Table
        LCDB's columns (openmlid, learner, size_train, ..., score_valid, score_test).
    """
    _check_metric(metric)
    for name, value in (("tasks", tasks), ("seeds", seeds)):
        if value is not None and value < 1:
            raise InvalidInputError(f"must be a positive integer, got {value}", field=name)
    parquet = curves_parquet(metric, source=source, download=download, progress=progress)
    con = _connect()
    try:
        return con.execute(
            """
            WITH ids AS (
                SELECT DISTINCT openmlid FROM read_parquet($path) ORDER BY openmlid LIMIT $tasks
            ), pairs AS (
                SELECT openmlid, outer_seed, inner_seed,
                       row_number() OVER (PARTITION BY openmlid ORDER BY outer_seed, inner_seed) AS k
                FROM (SELECT DISTINCT openmlid, outer_seed, inner_seed FROM read_parquet($path)
                      WHERE openmlid IN (SELECT openmlid FROM ids))
            )
            SELECT c.* FROM read_parquet($path) c
            JOIN pairs p USING (openmlid, outer_seed, inner_seed)
            WHERE p.k <= $seeds
            ORDER BY c.openmlid, c.outer_seed, c.inner_seed, c.learner, c.size_train
            """,
            {"path": literal_path(parquet), "tasks": tasks if tasks is not None else 1 << 31,
             "seeds": seeds if seeds is not None else 1 << 31},
        ).to_arrow_table()
    finally:
        con.close()


def curves_parquet(metric: str = "accuracy", *, source: str | os.PathLike[str] | None = None,
                   download: bool = True, progress: bool = False) -> Path:
    """The cached Parquet copy of ``database-<metric>.csv`` (converted on first use)."""
    _check_metric(metric)
    return files.converted(f"database-{metric}.csv", files.locate(source, download=download,
                                                                  progress=progress), progress=progress)


def read_datasets(source: str | os.PathLike[str] | None = None, *, download: bool = True,
                  progress: bool = False) -> pd.DataFrame:
    """LCDB's ``datasets.csv``: openmlid, Name and the OpenML qualities."""
    parquet = files.converted("datasets.csv", files.locate(source, download=download, progress=progress),
                              progress=progress)
    return pd.read_parquet(parquet)


def long_frame(raw: pa.Table | pd.DataFrame, *, metric: str = "accuracy",
               names: Mapping[int, str] | None = None) -> pd.DataFrame:
    """Map LCDB rows into the long format (see the module docstring).

    Parameters
    ----------
    raw:
        Rows with LCDB's columns openmlid, learner, size_train, outer_seed,
        inner_seed, traintime and score_valid.
    metric:
        The metric ``raw`` was read for; sets the task id and direction.
    names:
        OpenML dataset names by id, recorded in each trial's params.

    Returns
    -------
    pandas.DataFrame
        Columns task, study, trial, step, value, cost_seconds, params, state,
        metric, direction; one row per LCDB row.
    """
    direction = _check_metric(metric)
    table = raw if isinstance(raw, pa.Table) else pa.Table.from_pandas(raw, preserve_index=False)
    missing = [c for c in ("openmlid", "learner", "size_train", "outer_seed", "inner_seed", "traintime",
                           "score_valid") if c not in table.column_names]
    if missing:
        raise InvalidInputError(f"LCDB rows lack column(s) {missing}", field=missing[0])
    ids = pa.table({"openmlid": pa.array(list((names or {}).keys()), pa.int64()),
                    "name": pa.array(list((names or {}).values()), pa.string())})
    con = _connect()
    try:
        con.register("raw", table)
        con.register("names", ids)
        frame = con.execute(
            """
            WITH anchors AS (
                SELECT openmlid, size_train,
                       row_number() OVER (PARTITION BY openmlid ORDER BY size_train) - 1 AS step
                FROM (SELECT DISTINCT openmlid, size_train FROM raw)
            )
            SELECT 'lcdb/' || r.openmlid || '/' || $metric AS task,
                   'lcdb-' || $metric || '/' || r.openmlid || '/' || r.outer_seed || '-' || r.inner_seed
                       AS study,
                   r.learner AS trial,
                   a.step::BIGINT AS step,
                   r.score_valid::DOUBLE AS value,
                   r.traintime::DOUBLE AS cost_seconds,
                   json_object('learner', r.learner, 'openmlid', r.openmlid::BIGINT,
                               'dataset', n.name)::VARCHAR AS params,
                   CASE WHEN bool_or(r.score_valid IS NULL)
                             OVER (PARTITION BY r.openmlid, r.outer_seed, r.inner_seed, r.learner)
                        THEN 'FAIL' ELSE 'COMPLETE' END AS state,
                   $metric AS metric, $direction AS direction
            FROM raw r
            JOIN anchors a USING (openmlid, size_train)
            LEFT JOIN names n ON n.openmlid = r.openmlid
            ORDER BY r.openmlid, r.outer_seed, r.inner_seed, r.learner, a.step
            """,
            {"metric": metric, "direction": direction},
        ).to_arrow_table()
    finally:
        con.close()
    return frame.to_pandas(types_mapper=_arrow_strings)


def _arrow_strings(dtype: pa.DataType) -> pd.ArrowDtype | None:
    # Arrow-backed strings keep two million rows' ids out of Python objects.
    return pd.ArrowDtype(dtype) if pa.types.is_string(dtype) else None


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def openml_features(datasets: pd.DataFrame, *, metric: str = "accuracy") -> pd.DataFrame:
    """LCDB's OpenML qualities as long meta-feature rows (task, feature, value).

    Missing qualities stay NaN; the dataset name is not a number and is left out.

    >>> d = pd.DataFrame({"openmlid": [3], "Name": ["kr-vs-kp"], "NumberOfClasses": [2.0],
    ...                   "ClassEntropy": [float("nan")]})
    >>> openml_features(d)
                  task          feature  value
    0  lcdb/3/accuracy  NumberOfClasses    2.0
    1  lcdb/3/accuracy     ClassEntropy    NaN
    """
    _check_metric(metric)
    qualities = [c for c in datasets.columns if c not in ("openmlid", "Name")]
    long = datasets.melt(id_vars="openmlid", value_vars=qualities, var_name="feature", value_name="value")
    long.insert(0, "task", [task_name(i, metric) for i in long["openmlid"]])
    long["value"] = pd.to_numeric(long["value"], errors="coerce").astype(np.float64)
    return long.drop(columns="openmlid").reset_index(drop=True)


@dataclass(frozen=True)
class LcdbIngestResult:
    """What :func:`ingest` loaded, and the row count it was checked against."""

    metric: str
    tasks: int
    studies: int
    points: int
    source_points: int
    tasks_with_features: int
    seconds: float
    report: IngestReport

    def summary(self) -> str:
        """One line for people."""
        return (f"LCDB {self.metric}: {self.tasks} tasks, {self.studies} studies, {self.points} points "
                f"(LCDB rows: {self.source_points}; {self.report.summary()}); OpenML meta-features for "
                f"{self.tasks_with_features} tasks; {self.seconds:.1f} s")

    def to_dict(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "report"}, "report": self.report.to_dict()}


def ingest(store: PolicyStore, *, metric: str = "accuracy", tasks: int | None = None,
           seeds: int | None = None, source: str | os.PathLike[str] | None = None,
           download: bool = True, replace: bool = False, progress: bool = False) -> LcdbIngestResult:
    """Load LCDB curves, OpenML and learning-curve meta-features into ``store``.

    Idempotent per study (see :func:`policy_store.ingest.ingest_frame`) and one
    transaction. The rows read are counted against LCDB's CSV (full loads), and the
    store's points for the loaded studies against the rows read; a mismatch raises
    :class:`InvalidInputError` and writes nothing.

    Parameters
    ----------
    store:
        An open store.
    metric, tasks, seeds, source, download:
        As in :func:`read_curves`.
    replace:
        Replace studies whose content changed instead of refusing them.
    progress:
        Show progress bars.
    """
    started = time.perf_counter()
    raw = read_curves(metric, tasks=tasks, seeds=seeds, source=source, download=download, progress=progress)
    if tasks is None and seeds is None:
        csv_rows = files.source_rows(curves_parquet(metric, source=source, download=download))
        if raw.num_rows != csv_rows:
            raise InvalidInputError(f"read {raw.num_rows} LCDB rows but its CSV has {csv_rows}",
                                    field="curve_points")
    datasets = read_datasets(source, download=download, progress=progress)
    names = dict(zip(datasets["openmlid"].astype(int), datasets["Name"].astype(str), strict=True))
    frame = long_frame(raw, metric=metric, names=names)
    ids = set(np.unique(raw.column("openmlid").to_numpy()).tolist())
    features = openml_features(datasets[datasets["openmlid"].isin(ids)], metric=metric)
    studies = frame["study"].unique()

    def unit(s: PolicyStore) -> tuple[IngestReport, int]:
        # The ingest and the feature saves are fenced units that join this one; a commit conflict re-runs
        # all of it from the reads on (only the LCDB files, read above, are not read again).
        report = ingest_frame(s, frame, source=SOURCE, replace=replace, progress=progress)
        save_meta_features_frame(s, features, source="openml")
        save_task_curve_features(s, tasks=sorted(task_name(i, metric) for i in ids))
        s.register("_lcdb_studies", pa.table({"study": pa.array(studies, pa.string())}))
        try:
            points = int(s.scalar("SELECT count(*) FROM curve_points WHERE study IN (SELECT study FROM _lcdb_studies)"))
        finally:
            s.unregister("_lcdb_studies")
        if points != raw.num_rows:
            raise InvalidInputError(f"store holds {points} points for the loaded LCDB studies, but LCDB "
                                    f"has {raw.num_rows} rows for them", field="curve_points")
        return report, points

    # One unit of work: a count that does not match LCDB leaves the store as it was.
    report, points = store.run_atomic(unit)
    return LcdbIngestResult(metric=metric, tasks=len(ids), studies=len(studies), points=points,
                            source_points=raw.num_rows, tasks_with_features=features["task"].nunique(),
                            seconds=time.perf_counter() - started, report=report)
