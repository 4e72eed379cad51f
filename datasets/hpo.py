"""A corpus of real hyperparameter searches: per-epoch curves of random and TPE studies.

Each study samples ``trials`` configurations of one model family
(:mod:`~policy_store.datasets.hpo_families`) on one dataset
(:mod:`~policy_store.datasets.hpo_sources`) with Optuna's ``RandomSampler`` or
``TPESampler`` (ask/tell, seeded; TPE minimises the final log loss or MSE),
trains each for ``steps`` steps and records every step's validation value,
CPU seconds and peak resident memory (MB). The same trained trials give one task per metric:

- task ``hpo/<dataset>/<family>/<metric>``, metric ``accuracy`` (maximise) and
  ``logloss`` (minimise) for classification, ``mse`` and ``mae`` (both minimised)
  for regression;
- study ``hpo/<dataset>/<family>/<metric>/<sampler>-seed<k>``; study ``k`` of a
  task uses sampler ``samplers[k % len(samplers)]``;
- trial = Optuna's trial number, ``params`` its sampled hyperparameters and
  ``random_state``; a diverged trial is ``FAIL`` with its last value NaN.

Values are bit-for-bit the same for the same arguments whatever ``jobs`` is
(the model, sampler and split seeds derive from dataset, family and ``k``); costs
and memory are measured, so only they vary (studies cached before memory was measured have none).
With a cache folder every study is one Parquet file, written as it finishes: a rerun skips
finished studies (resumable); a cached study that lacks a metric its dataset kind now records
(:data:`~policy_store.datasets.hpo_families.METRICS`) is run again.

>>> frame = generate_hpo(["iris"], families=["sgd"], studies=2, trials=3, steps=2)
>>> sorted(frame["study"].unique())[:2]
['hpo/iris/sgd/accuracy/random-seed0', 'hpo/iris/sgd/accuracy/tpe-seed1']
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from policy_store.datasets._base import order_long
from policy_store.datasets.hpo_families import FAMILIES, METRICS, check_family, search_space, train
from policy_store.datasets.hpo_features import hpo_meta_features
from policy_store.datasets.hpo_sources import DEFAULT_DATASETS, DEFAULT_MAX_ROWS, Prepared, prepare, source
from policy_store.meta.features.curve import save_task_curve_features
from policy_store.meta.features.store import save_meta_features_frame
from tqdm import tqdm

from policy_store.cache import cache_dir
from policy_store.errors import InvalidInputError
from policy_store.ingest import IngestReport, ingest_frame
from policy_store.store import PolicyStore

SAMPLERS: tuple[str, ...] = ("random", "tpe")
#: Bumped whenever a change alters generated values, so that stale cache files are not reused.
CORPUS_VERSION = 1
BUNDLED_FILE = "hpo_slice.parquet"
BUNDLED_FEATURES = "hpo_slice_features.parquet"
SOURCE = "hpo"


@dataclass(frozen=True)
class StudyKey:
    """One search: a dataset, a family, a sampler and the study's index ``k`` (its seed)."""

    dataset: str
    family: str
    sampler: str
    k: int

    @property
    def file_name(self) -> str:
        return f"{self.dataset}__{self.family}__{self.sampler}-seed{self.k}.parquet"


def plan(datasets: Sequence[str] | None = None, families: Sequence[str] = FAMILIES, studies: int = 3,
         samplers: Sequence[str] = SAMPLERS) -> list[StudyKey]:
    """The studies of a corpus, in generation order (every dataset name and family checked).

    >>> [(s.sampler, s.k) for s in plan(["iris"], ["sgd"], studies=3)]
    [('random', 0), ('tpe', 1), ('random', 2)]
    """
    names = list(DEFAULT_DATASETS) if datasets is None else list(datasets)
    for name in names:
        source(name)
    for sampler in samplers:
        if sampler not in SAMPLERS:
            raise InvalidInputError(f"unknown sampler {sampler!r}; choose from {list(SAMPLERS)}", field="samplers")
    if studies < 1 or not samplers or not families or not names:
        raise InvalidInputError("studies must be positive and datasets, families, samplers non-empty",
                                field="studies")
    # Seed-major: a run stopped early has studies of every task, not every study of some tasks.
    return [StudyKey(d, check_family(f), samplers[k % len(samplers)], k)
            for k in range(studies) for d in names for f in families]


@lru_cache(maxsize=8)
def _prepared(dataset: str, max_rows: int) -> Prepared:
    return prepare(dataset, max_rows=max_rows)


def _seed(key: StudyKey) -> int:
    return zlib.crc32(f"{key.dataset}/{key.family}/{key.k}".encode())


def run_study(key: StudyKey, *, trials: int = 16, steps: int = 12, max_rows: int = DEFAULT_MAX_ROWS) -> pd.DataFrame:
    """Run one search and return its long rows, one study per metric (see the module docstring)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = _prepared(key.dataset, max_rows)
    metrics = METRICS[data.kind]
    primary = next(iter(metrics))
    seed = _seed(key)
    sampler = (optuna.samplers.RandomSampler(seed=seed) if key.sampler == "random"
               else optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(1, trials // 3))))
    study = optuna.create_study(direction=metrics[primary], sampler=sampler)
    space = search_space(key.family, data.kind)
    model_seeds = np.random.default_rng(seed).integers(2**31 - 1, size=trials)
    rows = []
    for number in range(trials):
        trial = study.ask(space)
        model_seed = int(model_seeds[number])
        curve = train(key.family, trial.params, model_seed, data, steps)
        if curve.failed:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, curve.values[primary][-1])
        params = json.dumps({**trial.params, "random_state": model_seed}, sort_keys=True)
        state = "FAIL" if curve.failed else "COMPLETE"
        for metric in metrics:
            task = f"hpo/{key.dataset}/{key.family}/{metric}"
            study_id = f"{task}/{key.sampler}-seed{key.k}"
            for step, (value, seconds, mb) in enumerate(zip(curve.values[metric], curve.seconds, curve.memory,
                                                            strict=True)):
                rows.append((task, study_id, str(number), step, value, seconds, params, state, metric,
                             metrics[metric], mb))
    frame = pd.DataFrame(rows, columns=["task", "study", "trial", "step", "value", "cost_seconds", "params",
                                        "state", "metric", "direction", "peak_memory_mb"])
    return order_long(frame)


def _study_folder(cache: str | os.PathLike[str], trials: int, steps: int, max_rows: int) -> Path:
    return Path(cache) / f"v{CORPUS_VERSION}-trials{trials}-steps{steps}-rows{max_rows}"


def _run_and_store(key: StudyKey, trials: int, steps: int, max_rows: int, folder: Path | None) -> pd.DataFrame:
    frame = run_study(key, trials=trials, steps=steps, max_rows=max_rows)
    if folder is not None:
        # Written whole under a temporary name, then renamed: an interrupted run leaves no half file.
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{key.file_name}.{os.getpid()}.tmp"
        frame.to_parquet(partial, index=False, compression="zstd")
        partial.replace(folder / key.file_name)
    return frame


def _cached(path: Path, key: StudyKey) -> pd.DataFrame | None:
    """The study stored at ``path``, or None when there is none or it lacks a metric now recorded."""
    if not path.exists():
        return None
    frame = pd.read_parquet(path)
    return frame if set(frame["metric"]) == set(METRICS[source(key.dataset).kind]) else None


def generate_hpo(datasets: Sequence[str] | None = None, *, families: Sequence[str] = FAMILIES, studies: int = 3,
                 trials: int = 16, steps: int = 12, samplers: Sequence[str] = SAMPLERS,
                 max_rows: int = DEFAULT_MAX_ROWS, jobs: int = 1, cache: str | os.PathLike[str] | None = None,
                 progress: bool = False) -> pd.DataFrame:
    """Run the searches of :func:`plan` and return their curves in the long format.

    Parameters
    ----------
    datasets:
        Dataset names (:func:`~policy_store.datasets.hpo_sources.dataset_names`); when None
        :data:`~policy_store.datasets.hpo_sources.DEFAULT_DATASETS`, 50 real and 4 synthetic.
    families:
        Model families (:data:`~policy_store.datasets.hpo_families.FAMILIES`).
    studies:
        Studies per task; study ``k`` is seeded by ``k`` and uses ``samplers[k % len(samplers)]``.
    trials, steps:
        Configurations per study; epochs or warm-started increments per trial.
    samplers:
        ``random`` and/or ``tpe``.
    max_rows:
        Rows kept per dataset (stratified subsample) before the 70/30 split.
    jobs:
        Parallel worker processes (joblib); values do not depend on it.
    cache:
        A folder for one Parquet file per study: finished studies are read, not rerun.
    progress:
        A progress bar over studies on stderr.

    Returns
    -------
    pandas.DataFrame
        task, study, trial, step, value, cost_seconds, params, state, metric, direction, peak_memory_mb.
    """
    if trials < 1 or steps < 1 or jobs < 1 or max_rows < 20:
        raise InvalidInputError("trials, steps and jobs must be positive and max_rows at least 20", field="trials")
    keys = plan(datasets, families, studies, samplers)
    folder = None if cache is None else _study_folder(cache, trials, steps, max_rows)
    frames = {} if folder is None else {k: f for k in keys if (f := _cached(folder / k.file_name, k)) is not None}
    todo = [k for k in keys if k not in frames]
    calls = Parallel(n_jobs=jobs, return_as="generator")(
        delayed(_run_and_store)(k, trials, steps, max_rows, folder) for k in todo)
    with tqdm(total=len(keys), initial=len(frames), desc="HPO studies", unit="study", disable=not progress) as bar:
        for key, frame in zip(todo, calls, strict=True):
            frames[key] = frame
            bar.update()
    return pd.concat([frames[k] for k in keys], ignore_index=True)


def hpo_corpus(cache: str | os.PathLike[str] | None = None, **kwargs) -> pd.DataFrame:
    """The default corpus (default datasets, every family), generated once into ``cache`` and read from it after.

    ``cache`` defaults to ``cache_dir() / "hpo"``; other arguments as in :func:`generate_hpo`.
    """
    return generate_hpo(cache=cache_dir() / "hpo" if cache is None else cache, **kwargs)


def bundled_hpo() -> pd.DataFrame:
    """The small slice of the corpus shipped in the package (``datasets/data/hpo_slice.parquet``).

    Six datasets (iris, wine, breast_cancer, penguins; diabetes, boston), every
    family, the default sizes and two studies per task (``random-seed0``,
    ``tpe-seed1``: 72 tasks, 48 of them minimised, 144 studies), made with::

        policy-store datasets generate-hpo --datasets iris,wine,breast_cancer,diabetes,penguins,boston \\
            --studies 2 --cache ~/.cache/policy-store/hpo --out datasets/data/hpo_slice.parquet \\
            --features-out datasets/data/hpo_slice_features.parquet

    Its values are the corpus's (bit for bit); costs are the CPU seconds measured when the corpus was
    generated into that cache. The files' SHA-256 are in ``datasets/data/DATA-LICENSES.md``.

    >>> frame = bundled_hpo()
    >>> sorted(frame["metric"].unique())
    ['accuracy', 'logloss', 'mae', 'mse']
    """
    return _data_file(BUNDLED_FILE)


def _data_file(name: str) -> pd.DataFrame:
    with resources.as_file(resources.files("policy_store.datasets").joinpath("data", name)) as path:
        return pd.read_parquet(path)


def ingest_hpo(store: PolicyStore, frame: pd.DataFrame | None = None, *, features: pd.DataFrame | None = None,
               max_rows: int = DEFAULT_MAX_ROWS, replace: bool = False, progress: bool = False) -> IngestReport:
    """Ingest HPO curves with their tasks' meta-features, in one unit of work.

    Parameters
    ----------
    store:
        An open store.
    frame:
        Long rows of :func:`generate_hpo`; the bundled slice (and its saved features) when None.
    features:
        Long meta-feature rows (task, feature, value, source); computed with
        :func:`~policy_store.datasets.hpo_features.hpo_meta_features` when None.
    max_rows:
        The ``max_rows`` the curves were generated with (the rows the qualities describe).
    replace, progress:
        As in :func:`policy_store.ingest.ingest_frame`.

    Examples
    --------
    >>> with PolicyStore.memory() as store:
    ...     len(ingest_hpo(store).added) > 0
    True
    """
    if frame is None:
        frame = bundled_hpo()
        features = _data_file(BUNDLED_FEATURES) if features is None else features
    tasks = sorted(frame["task"].unique())
    if features is None:
        features = hpo_meta_features(tasks, max_rows=max_rows)

    def unit(s: PolicyStore) -> IngestReport:
        report = ingest_frame(s, frame, source=SOURCE, replace=replace, progress=progress)
        for name, rows in features.groupby("source", sort=True):
            save_meta_features_frame(s, rows[["task", "feature", "value"]], source=str(name))
        save_task_curve_features(s, tasks=tasks)
        return report

    return store.run_atomic(unit)
