"""Where the meta-learner's training data comes from: the store, or LCDB directly.

Both pick each task's probe study the same way -- its first study in the
source's order (the store: smallest study id, the study whose curve features
the ingest saved; LCDB: seed pair (0, 0)) -- and hand the rest to
:func:`policy_store.meta.learner_data.build_training_data`.

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
from collections import defaultdict
from collections.abc import Sequence

import pandas as pd
from policy_store.meta.grid import Candidate
from policy_store.meta.learner_data import TrainingData, build_training_data
from policy_store.meta.store_features import load_meta_features

from policy_store.curves import StudyCurves, load_curves
from policy_store.errors import NotFoundError
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
