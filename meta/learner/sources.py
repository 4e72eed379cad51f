"""Where the meta-learner's training data comes from: the store, LCDB, or a long-format frame.

All pick each task's probe study the same way -- its first study in the
source's order (the store: smallest study id, the study whose curve features
the ingest saved; LCDB: seed pair (0, 0); a frame such as the HPO corpus
(:func:`training_data_from_frame`): the smallest seed, then study id) -- and
hand the rest to :func:`policy_store.meta.learner.training_data.build_training_data`.
:func:`training_data_from_hpo` reads the HPO corpus with its tasks' meta-features.

>>> from policy_store import PolicyStore
>>> from policy_store.datasets import ingest_bundled
>>> with PolicyStore.memory() as store:
...     _ = ingest_bundled(store)
...     data = training_data_from_store(store, orders=1, tasks=["sklearn/iris/sgd/accuracy"])
...     data.tasks, len(data.outcomes) == len(data.grid)
(['sklearn/iris/sgd/accuracy'], True)
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Sequence

import pandas as pd
from policy_store.meta.features.store import load_meta_features
from policy_store.meta.learner.grid import Candidate
from policy_store.meta.learner.training_data import TrainingData, build_training_data

from policy_store.curves import StudyCurves, curves_from_frame, load_curves
from policy_store.errors import InvalidInputError, NotFoundError
from policy_store.store import PolicyStore


def _split(curves: Sequence[StudyCurves], key=lambda c: c.study) -> tuple[dict, dict]:
    by_task: dict[str, list[StudyCurves]] = defaultdict(list)
    for c in curves:
        by_task[c.task].append(c)
    probes, evals = {}, {}
    for task, cs in by_task.items():
        cs = sorted(cs, key=key)
        probes[task] = cs[0]
        evals[task] = cs[1:] or cs[:1]
    return probes, evals


def training_data_from_store(store: PolicyStore, *, orders: int = 5, tasks: Sequence[str] | None = None,
                             grid: list[Candidate] | None = None, n_jobs: int = 1,
                             progress: bool = False) -> TrainingData:
    """Training data from every task in ``store`` (or ``tasks``) and their stored meta-features.

    Raises
    ------
    NotFoundError
        The store holds no curves (see :func:`policy_store.meta.recommend` for the cold start).
    """
    curves = load_curves(store, tasks=tasks)
    if not curves:
        raise NotFoundError("the store holds no learning curves to learn from; ingest studies first "
                            "(e.g. `policy-store datasets ingest`)")
    probes, evals = _split(curves)
    features = load_meta_features(store, tasks=list(probes))
    return build_training_data(probes, evals, features, grid=grid, orders=orders, n_jobs=n_jobs,
                               progress=progress)


def _seed_then_id(c: StudyCurves) -> tuple[int, str]:
    match = re.search(r"seed(\d+)$", c.study)
    return (int(match.group(1)) if match else 0, c.study)


def training_data_from_frame(frame: pd.DataFrame, features: pd.DataFrame | None = None, *, orders: int = 5,
                             tasks: Sequence[str] | None = None, grid: list[Candidate] | None = None,
                             n_jobs: int = 1, progress: bool = False) -> TrainingData:
    """Training data from long rows (task, study, trial, step, value, direction[, cost_seconds]).

    The probe of each task is its study with the smallest trailing ``seed<k>`` (then
    the smallest id); ``features`` (one row per task) are the tasks' meta-features.

    Raises
    ------
    InvalidInputError
        A column is missing.

    >>> from policy_store.datasets import bundled
    >>> data = training_data_from_frame(bundled(), orders=1, tasks=["sklearn/iris/sgd/accuracy"])
    >>> data.tasks, data.features.loc["sklearn/iris/sgd/accuracy", "family_sgd"]
    (['sklearn/iris/sgd/accuracy'], np.float64(1.0))
    """
    missing = [c for c in ("task", "study", "trial", "step", "value", "direction") if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"curve rows need columns task, study, trial, step, value, direction; "
                                f"{missing} missing", field=missing[0])
    if tasks is not None:
        frame = frame[frame["task"].isin(list(tasks))]
    cols = [c for c in ("task", "study", "trial", "step", "value", "cost_seconds", "peak_memory_mb",
                        "direction") if c in frame.columns]
    curves = curves_from_frame(frame[cols].assign(trial=frame["trial"].astype(str)))
    probes, evals = _split(curves, key=_seed_then_id)
    feats = pd.DataFrame(index=pd.Index(sorted(probes), name="task")) if features is None else features
    return build_training_data(probes, evals, feats, grid=grid, orders=orders, n_jobs=n_jobs, progress=progress)


def training_data_from_hpo(corpus: str | os.PathLike[str] | pd.DataFrame | None = None, *, orders: int = 5,
                           tasks: Sequence[str] | None = None, grid: list[Candidate] | None = None,
                           n_jobs: int = 1, progress: bool = False) -> TrainingData:
    """Training data from the HPO corpus (a Parquet path, a frame, or None: the bundled slice).

    Meta-features: the datasets' qualities and the tasks' attributes
    (:func:`policy_store.datasets.hpo_features.hpo_meta_features`).

    Raises
    ------
    NotFoundError
        ``corpus`` names no file.
    """
    from importlib import resources

    from policy_store.datasets.hpo import BUNDLED_FEATURES, bundled_hpo
    from policy_store.datasets.hpo_features import hpo_meta_features

    long = None
    if corpus is None:
        frame = bundled_hpo()
        with resources.as_file(resources.files("policy_store.datasets").joinpath("data", BUNDLED_FEATURES)) as f:
            long = pd.read_parquet(f)                                # the slice ships its meta-features
    elif isinstance(corpus, pd.DataFrame):
        frame = corpus
    elif not os.path.isfile(corpus):
        raise NotFoundError(f"no HPO corpus file {os.fspath(corpus)!r}; make one with "
                            "`policy-store datasets generate-hpo --out FILE`, or use the bundled slice")
    else:
        frame = pd.read_parquet(corpus)
    if tasks is not None:
        frame = frame[frame["task"].isin(list(tasks))]
    tasks = sorted(frame["task"].unique())
    long = hpo_meta_features(tasks) if long is None else long[long["task"].isin(tasks)]
    features = long.pivot_table(index="task", columns="feature", values="value", aggfunc="first")
    features.columns.name = None
    return training_data_from_frame(frame, features, orders=orders, grid=grid, n_jobs=n_jobs, progress=progress)


def _seed_pair(c: StudyCurves) -> tuple[int, int]:
    outer, inner = c.study.rsplit("/", 1)[1].split("-")
    return int(outer), int(inner)


def lcdb_study_curves(*, tasks: int | None = None, seeds: int = 5, metric: str = "accuracy",
                      source: str | os.PathLike[str] | None = None, progress: bool = False
                      ) -> tuple[list[StudyCurves], pd.DataFrame]:
    """LCDB studies of the first ``seeds`` seed pairs of each dataset, and the OpenML meta-features (wide)."""
    from policy_store.datasets import lcdb

    raw = lcdb.read_curves(metric, tasks=tasks, seeds=seeds, source=source, progress=progress)
    frame = lcdb.long_frame(raw, metric=metric)
    frame = pd.DataFrame({k: frame[k].astype(str) if k in ("task", "study", "trial") else frame[k]
                          for k in ("task", "study", "trial", "step", "value", "cost_seconds")})
    direction = lcdb.METRICS[metric]
    curves = [StudyCurves.from_frame(g, study=study, task=task, direction=direction)
              for (task, study), g in frame.groupby(["task", "study"], sort=True)]
    datasets = lcdb.read_datasets(source, progress=progress)
    long = lcdb.openml_features(datasets, metric=metric)
    wide = long.pivot(index="task", columns="feature", values="value")
    wide.columns.name = None
    return curves, wide


def training_data_from_lcdb(*, tasks: int | None = None, seeds: int = 5, orders: int = 5,
                            metric: str = "accuracy", grid: list[Candidate] | None = None, n_jobs: int = 1,
                            source: str | os.PathLike[str] | None = None, progress: bool = False) -> TrainingData:
    """Training data straight from LCDB (no store): seed pair (0, 0) is each task's probe.

    Parameters
    ----------
    tasks:
        The datasets with the ``tasks`` smallest OpenML ids (all 248 when None).
    seeds:
        Seed pairs read per dataset: one probe and ``seeds - 1`` evaluation studies.
    orders, grid, n_jobs, progress:
        As in :func:`build_training_data`.
    """
    curves, features = lcdb_study_curves(tasks=tasks, seeds=seeds, metric=metric, source=source,
                                         progress=progress)
    probes, evals = _split(curves, key=_seed_pair)
    return build_training_data(probes, evals, features, grid=grid, orders=orders, n_jobs=n_jobs,
                               progress=progress)
