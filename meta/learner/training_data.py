"""The meta-learner's training data: every grid candidate replayed on every task.

For each task, one study is its *probe* -- the first study, the one a user would
have run before asking for a rule -- and the others are its *evaluation*
studies. The probe gives the task's learning-curve meta-features and its
``posterior`` prior (:func:`task_prior`); every grid candidate is replayed
(:func:`policy_store.replay.replay_study`, exact Optuna semantics) on the
evaluation studies under ``orders`` trial orders. A task with one study uses it
for both (fine for fitting; :mod:`.evaluate` never scores such a probe).

Studies with fewer than :data:`MIN_TRIALS` trials are left out: no pruner acts on
them.

Regret is made comparable across metrics by :func:`regret_scale`: a maximised
metric (accuracy, balanced accuracy: fractions) keeps its units; a minimised one
(log loss, MSE, unbounded) is divided by the study's median final value, so a
regret of 0.01 means "1 % worse than the typical trial's loss". Every pruning
decision is unchanged by a positive rescaling of a study's values, so this only
changes what the utility ``saved - lam * regret`` weighs.

Besides the dataset's qualities and the probe's curve features, every task is
described by the study it is (:func:`study_features`, the descriptors of
:mod:`policy_store.meta.features.study`): its model family (one-hot
``family_<name>``; an LCDB study, 20 different learners, is family ``lcdb``), its
direction (``direction_minimize``), its metric's kind (``metric_loss``), its steps
and trials (``curve_steps``, ``study_trials``) and more of its probe's shape
(``curve_final_spread``, ``curve_late_cost_share``).

>>> from policy_store.curves import StudyCurves, regret_scale
>>> c = StudyCurves.from_arrays("s", [[0.5, 0.7, 0.8], [0.6, 0.65, 0.66], [0.2, 0.3, 0.5]],
...                             direction="maximize")
>>> {k: round(v, 4) for k, v in task_prior([c]).items()}
{'prior_mean': 0.1617, 'prior_beta': 0.0154}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from policy_store.meta.features.curve import curve_meta_features
from policy_store.meta.features.study import DIRECTION_OF_KIND, StudyDescriptors, metric_kind_of
from policy_store.meta.learner.grid import Candidate, candidate_grid, grid_hash

from policy_store.curves import StudyCurves, regret_scale
from policy_store.errors import InvalidInputError
from policy_store.grouped import group_means
from policy_store.replay.engine import replay_many
from policy_store.replay.outcomes import outcome_arrays

if TYPE_CHECKING:
    import pandas as pd

MIN_TRIALS = 5
OUTCOMES = ("compute_saved", "regret", "killed_best")
STUDY_FEATURES = ("direction_minimize", "direction_maximize", "metric_loss", "curve_steps", "study_trials",
                  "curve_final_spread", "curve_late_cost_share")


def task_parts(task: str) -> dict[str, str]:
    """Corpus, dataset and model family named by a task id.

    ``hpo/<dataset>/<family>/<metric>`` and ``sklearn/<dataset>/<model>/<metric>``
    name their family; an LCDB task ``lcdb/<openmlid>/<metric>`` is family ``lcdb``.

    >>> task_parts("hpo/wine/mlp/log_loss")
    {'corpus': 'hpo', 'dataset': 'hpo/wine', 'family': 'mlp'}
    >>> task_parts("lcdb/3/accuracy")["family"]
    'lcdb'
    """
    parts = task.split("/")
    corpus = parts[0] if len(parts) > 1 else "other"
    return {"corpus": corpus, "dataset": "/".join(parts[:2]), "family": parts[2] if len(parts) >= 4 else corpus}



def study_features(c: StudyCurves) -> dict[str, float]:
    """What kind of study the probe ``c`` is, beyond its curve features (module docstring).

    ``curve_final_spread`` is the gap between the median and the best final value
    in regret units (what pruning the best trial can cost); ``curve_late_cost_share``
    the share of a trial's cost spent in the second half of its steps (what
    pruning early can save; steps when costs are unknown).

    >>> c = StudyCurves.from_arrays("s", [[0.5, 0.7], [0.6, 0.8], [0.1, 0.4]], direction="maximize")
    >>> {k: round(v, 3) for k, v in study_features(c).items()}  # doctest: +NORMALIZE_WHITESPACE
    {'direction_minimize': 0.0, 'direction_maximize': 1.0, 'metric_loss': 0.0, 'curve_steps': 2.0,
     'study_trials': 3.0, 'curve_final_spread': 0.1, 'curve_late_cost_share': 0.5}
    """
    finals = c.final_values[np.isfinite(c.final_values)]
    sign = 1.0 if c.direction == "maximize" else -1.0
    spread = float(sign * (finals.max() if sign > 0 else finals.min()) - sign * np.median(finals)) \
        if finals.size else np.nan
    unit = np.where(c.present, c.cost if c.cost_known else 1.0, 0.0)
    late = unit[:, c.n_steps // 2:].sum() / unit.sum() if unit.sum() > 0 else np.nan
    kind = metric_kind_of(c.task.rsplit("/", 1)[-1]) if c.task else None
    kind = kind if kind and DIRECTION_OF_KIND[kind] == c.direction else None
    descriptors = StudyDescriptors(metric_kind=kind, direction=None if kind else c.direction,
                                   steps=max(float(np.median(c.present.sum(1))), 1.0), trials=max(c.n_trials, 1))
    return {**descriptors.features(), "direction_minimize": float(c.direction == "minimize"),
            "direction_maximize": float(c.direction == "maximize"),
            "curve_final_spread": spread / regret_scale(c), "curve_late_cost_share": float(late)}


def task_prior(curves: Sequence[StudyCurves]) -> dict[str, float]:
    """The ``posterior`` prior of a task from its curves: mean and variance of ``final - value``.

    Pooled over every reported point before each trial's last one (as the
    posterior strategy pools them per step); ``prior_beta`` is the variance, the
    prior's expected noise variance at ``prior_alpha = 2``.
    """
    d = []
    for c in curves:
        last = c.last_pos
        cols = np.arange(c.n_steps)[None, :]
        keep = c.present & (cols < last[:, None]) & np.isfinite(c.values)
        d.append((c.final_values[:, None] - c.values)[keep & np.isfinite(c.final_values)[:, None]])
    pooled = np.concatenate(d) if d else np.array([])
    if pooled.size < 2:
        return {"prior_mean": 0.0, "prior_beta": 0.01}
    return {"prior_mean": float(pooled.mean()), "prior_beta": float(max(pooled.var(ddof=1), 1e-8))}


def curves_frame(c: StudyCurves) -> pd.DataFrame:
    """Long rows (trial, trial_number, step, value) of a study's reported points."""
    import pandas as pd

    i, j = np.nonzero(c.present)
    return pd.DataFrame({"trial": c.trials[i], "trial_number": c.trial_numbers[i], "step": c.steps[j],
                         "value": c.values[i, j]})


def killed_steps(c: StudyCurves, replays: Sequence) -> np.ndarray:
    """Step at which the last of the best trials was pruned, per replay (NaN when one finished)."""
    finals = c.final_values
    valid = np.isfinite(finals)
    if not valid.any() or not replays:
        return np.full(len(replays), np.nan)
    sign = -1.0 if c.direction == "maximize" else 1.0
    f = np.where(valid, sign * finals, np.inf)
    best = valid & (f == f.min())
    order = np.stack([r.order for r in replays])
    pruned = np.stack([r.pruned for r in replays])
    col = np.stack([r.prune_col for r in replays])
    is_best = best[order]
    killed = ~(is_best & ~pruned).any(1)
    last_col = np.where(is_best & pruned, col, -1).max(1)
    return np.where(killed & (last_col >= 0), c.steps[np.maximum(last_col, 0)].astype(float), np.nan)


def replay_task(curves: Sequence[StudyCurves], grid: Sequence[Candidate], prior: Mapping[str, float] | None,
                orders: Sequence[int]) -> pd.DataFrame:
    """Outcomes of every candidate on every study under every order (one row each).

    Columns: task, study, order_seed, candidate (index into ``grid``), compute_saved,
    regret, killed_best, killed_step, peak_memory_mb (the largest memory of the steps the rule let
    run; NaN when the study carries none).
    """
    import pandas as pd

    frames = [pd.DataFrame(columns) for columns in _replay_columns(curves, grid, prior, orders)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _replay_columns(curves: Sequence[StudyCurves], grid: Sequence[Candidate], prior: Mapping[str, float] | None,
                    orders: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """:func:`replay_task`'s rows as numpy columns, one table per study.

    The studies of one direction share the candidates' specs, so they are replayed together
    (:func:`policy_store.replay.replay_many`: one kernel call per batch, not per study; the same replays).
    """
    replays: list[list] = [[] for _ in curves]
    specs = {d: [g.spec(prior, d) for g in grid] for d in dict.fromkeys(c.direction for c in curves)}
    for d, dspecs in specs.items():
        at = [i for i, c in enumerate(curves) if c.direction == d]
        for i, r in zip(at, replay_many([curves[i] for i in at], dspecs, orders), strict=True):
            replays[i] = r
    out = []
    for c, rs in zip(curves, replays, strict=True):
        o = outcome_arrays(c, rs)
        n = len(rs)
        out.append({
            "task": np.full(n, c.task, dtype=object), "study": np.full(n, c.study, dtype=object),
            "order_seed": np.tile(np.asarray(orders, dtype=np.int64), len(grid)),
            "candidate": np.repeat(np.arange(len(grid)), len(orders)),
            "compute_saved": o["compute_saved"], "regret": o["regret"] / regret_scale(c),
            "killed_best": o["killed_best"].astype(bool), "killed_step": killed_steps(c, rs),
            "peak_memory_mb": o["peak_memory_mb"]})
    return out


def replay_means(curves: Sequence[StudyCurves], grid: Sequence[Candidate], prior: Mapping[str, float] | None,
                 orders: Sequence[int]) -> np.ndarray:
    """``(n_candidates, 3)``: each candidate's mean :data:`OUTCOMES` over the studies and orders of
    :func:`replay_task` (NaN where none is known), without pandas: its ``groupby`` mean to within 1 ulp
    (:mod:`policy_store.grouped`)."""
    tables = _replay_columns(curves, grid, prior, orders)
    out = np.full((len(grid), len(OUTCOMES)), np.nan)
    if not tables:
        return out
    candidate = np.concatenate([t["candidate"] for t in tables])
    for k, name in enumerate(OUTCOMES):
        out[:, k] = group_means(candidate, np.concatenate([t[name] for t in tables]), len(grid))
    return out


@dataclass
class TrainingData:
    """Tasks, their meta-features and priors, and the grid's outcomes on their evaluation studies."""

    grid: list[Candidate]
    orders: tuple[int, ...]
    features: pd.DataFrame
    priors: pd.DataFrame
    curves: dict[str, list[StudyCurves]]
    outcomes: pd.DataFrame
    probes: dict[str, StudyCurves]
    _rows: dict = field(default_factory=dict, init=False, repr=False, compare=False)    # derived tables, cached

    @property
    def tasks(self) -> list[str]:
        return list(self.features.index)

    def outcome_rows(self, task: str, candidate: int) -> pd.DataFrame:
        """The outcome table's rows of one task and candidate (indexed once, then looked up)."""
        if "frame" not in self._rows:
            frame = self.outcomes.sort_values(["task", "candidate"], kind="stable").reset_index(drop=True)
            keys = list(zip(frame["task"], frame["candidate"], strict=True))
            starts = np.flatnonzero([True] + [a != b for a, b in zip(keys[1:], keys[:-1], strict=True)])
            ends = np.r_[starts[1:], len(keys)]
            self._rows.update({"frame": frame, **{keys[a]: (a, b) for a, b in zip(starts, ends, strict=True)}})
        a, b = self._rows.get((task, candidate), (0, 0))
        return self._rows["frame"].iloc[a:b]

    def outcome_cube(self, tasks: Sequence[str] | None = None) -> np.ndarray:
        """``(n_tasks, n_candidates, 3)``: mean compute saved, mean regret, killed-best rate."""
        import pandas as pd

        tasks = self.tasks if tasks is None else list(tasks)
        means = self.outcomes.groupby(["task", "candidate"])[list(OUTCOMES)].mean()
        cube = np.full((len(tasks), len(self.grid), len(OUTCOMES)), np.nan)
        idx = means.index
        pos = pd.Index(tasks).get_indexer(idx.get_level_values(0))
        ok = pos >= 0
        cube[pos[ok], idx.get_level_values(1)[ok]] = means.to_numpy(float)[ok]
        return cube

    def subset(self, tasks: Sequence[str]) -> TrainingData:
        tasks = list(tasks)
        return TrainingData(self.grid, self.orders, self.features.loc[tasks], self.priors.loc[tasks],
                            {t: self.curves[t] for t in tasks}, self.outcomes[self.outcomes["task"].isin(tasks)],
                            {t: self.probes[t] for t in tasks})


def _replay_chunk(items: list[tuple[list[StudyCurves], dict[str, float]]], grid: list[Candidate],
                  orders: tuple[int, ...]) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([replay_task(cs, grid, prior, orders) for cs, prior in items], ignore_index=True)


def task_features(probes: Mapping[str, StudyCurves], tasks: Sequence[str], features: pd.DataFrame) -> pd.DataFrame:
    """``features`` of ``tasks`` completed by their probes' curve features, study descriptors and family one-hot.

    A value in ``features`` wins over the one derived from the probe.
    """
    import pandas as pd

    index = pd.Index(list(tasks), name="task")
    curve_feats = pd.DataFrame([{**curve_meta_features(curves_frame(probes[t]), direction=probes[t].direction),
                                 **study_features(probes[t])} for t in tasks], index=index)
    families = sorted({task_parts(t)["family"] for t in tasks})
    curve_feats[[f"family_{f}" for f in families]] = np.array(
        [[float(task_parts(t)["family"] == f) for f in families] for t in tasks]).reshape(len(tasks), -1)
    feats = features.reindex(index) if len(features.columns) else pd.DataFrame(index=index)
    return feats.combine_first(curve_feats)[sorted(set(feats.columns) | set(curve_feats.columns))]


def build_training_data(probes: Mapping[str, StudyCurves], evals: Mapping[str, list[StudyCurves]],
                        features: pd.DataFrame, *, grid: list[Candidate] | None = None, orders: int = 5,
                        n_jobs: int = 1, progress: bool = False) -> TrainingData:
    """Replay the grid on every task's evaluation studies; priors and curve features from the probes.

    Parameters
    ----------
    probes:
        Each task's probe study.
    evals:
        Each task's evaluation studies.
    features:
        Meta-features (one row per task); curve features of the probe are added
        where the frame has none.
    grid:
        Candidates (default :func:`candidate_grid`).
    orders:
        Trial orders per study: seeds ``0..orders-1``.
    n_jobs:
        joblib workers across tasks.
    progress:
        Show a progress bar.
    """
    import pandas as pd
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    grid = list(grid or candidate_grid())
    order_seeds = tuple(range(orders))
    tasks = sorted(t for t in probes if any(c.n_trials >= MIN_TRIALS for c in evals.get(t, [])))
    priors = pd.DataFrame([task_prior([probes[t]]) for t in tasks], index=pd.Index(tasks, name="task"))
    feats = task_features(probes, tasks, features)
    kept = {t: [c for c in evals[t] if c.n_trials >= MIN_TRIALS] for t in tasks}
    items = [(kept[t], task_prior([probes[t]])) for t in tasks]
    size = max(1, len(items) // (8 * max(n_jobs, 1)))
    chunks = [items[k:k + size] for k in range(0, len(items), size)]
    bar = tqdm(total=len(items), desc="replay grid", unit="task", disable=not progress)
    parts = []
    gen = (Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_replay_chunk)(ch, grid, order_seeds)
                                                          for ch in chunks)
           if n_jobs != 1 and len(chunks) > 1 else (_replay_chunk(ch, grid, order_seeds) for ch in chunks))
    for ch, part in zip(chunks, gen, strict=True):
        parts.append(part)
        bar.update(len(ch))
    bar.close()
    outcomes = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    feats.index.name = "task"
    return TrainingData(grid, order_seeds, feats, priors, kept, outcomes, {t: probes[t] for t in tasks})


def concat_training_data(parts: Sequence[TrainingData]) -> TrainingData:
    """One training set from several corpora (same grid and orders; task ids must not overlap).

    Features missing in one corpus (LCDB's OpenML qualities, an HPO dataset's own)
    are NaN there; family one-hot columns are 0 where the family does not occur.
    """
    import pandas as pd

    parts = list(parts)
    if not parts:
        raise InvalidInputError("no training data to concatenate", field="parts")
    first = parts[0]
    for p in parts[1:]:
        if grid_hash(p.grid) != grid_hash(first.grid) or p.orders != first.orders:
            raise InvalidInputError("training data of different grids or trial orders cannot be combined",
                                    field="grid")
    tasks = [t for p in parts for t in p.tasks]
    dup = pd.Index(tasks)[pd.Index(tasks).duplicated()]
    if len(dup):
        raise InvalidInputError(f"task {dup[0]!r} is in more than one corpus", field="task")
    features = pd.concat([p.features for p in parts])
    family = [c for c in features.columns if c.startswith("family_")]
    features[family] = features[family].fillna(0.0)
    features = features[sorted(features.columns)]
    features.index.name = "task"
    return TrainingData(first.grid, first.orders, features, pd.concat([p.priors for p in parts]),
                        {t: c for p in parts for t, c in p.curves.items()},
                        pd.concat([p.outcomes for p in parts], ignore_index=True),
                        {t: c for p in parts for t, c in p.probes.items()})
