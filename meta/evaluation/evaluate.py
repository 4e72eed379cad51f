"""Grouped cross-validation of the meta-learner against fixed defaults and baselines.

Tasks are split into folds by dataset (:func:`~policy_store.meta.evaluation.splits.group_folds`:
no dataset has a task in both training and test). On each test task's
evaluation studies, under the same trial orders, every method's chosen rule is
replayed and scored:

=============================  ===============================================================
``MedianPruner()`` etc.        Optuna's three defaults
``best single rule``           the grid rule with the best mean utility on the training tasks
``nearest task (auto-sklearn)``  the best rule of the nearest training task (:mod:`.baselines`)
``RUSH hurdles``               best trials of the 3 nearest training tasks as hurdles
``top-K after one step``       K (1, 2, 3, 5 or 8) chosen on the training tasks
``meta-learner``               :class:`~policy_store.meta.learner.model.MetaModel` from meta-features
                               (dataset qualities + the probe study's curve features)
``meta-learner + probe``       the same, blended with the grid replayed on the task's probe study
``best rule on the probe``     the task's own best grid rule on its probe study (what one past
                               study of the same task says: the attainable per-task choice)
``CV oracle``                  per held-out study, the grid rule best on the *other* studies of
                               its task, probe included (:func:`.baselines.cv_oracle_choices`):
                               the attainable limit of a per-task choice
``oracle``                     the best grid rule on the test studies themselves (hindsight)
=============================  ===============================================================

Utility = compute saved - lam * regret (regret as a fraction: accuracy points /
100; a minimised metric's relative to its typical loss, see
:func:`~policy_store.curves.regret_scale`). Trade-offs: every ``lam``
of ``lams`` and the ``max_regret`` budget. In resource terms (issue 24), computed from the
replayed curves at evaluation time: ``compute_hours`` (mean compute spent per held-out study,
CPU hours; NaN when the curves carry no costs), ``utility_per_compute_hour`` (utility /
compute_hours) and ``peak_memory_mb`` (mean over tasks of the largest memory of the steps each
rule let run; ``peak_memory_mb_max`` the largest; NaN when the curves carry no memory).
Every figure is summarised per corpus (``lcdb``, ``hpo``, ... from the task ids): a model trained on every corpus's
training tasks is scored on each corpus's test tasks separately.

:func:`leave_out` adds the rows of learners trained without a model family (or
a metric direction), scored on it (:func:`~policy_store.meta.evaluation.splits.leave_out_splits`).

>>> from policy_store import PolicyStore
>>> from policy_store.datasets import ingest_bundled
>>> from policy_store.meta.learner.sources import training_data_from_store
>>> with PolicyStore.memory() as store:
...     _ = ingest_bundled(store)
...     data = training_data_from_store(store, orders=1, tasks=[f"sklearn/{d}/sgd/accuracy" for d in
...                                                             ("iris", "wine", "digits", "breast_cancer")])
>>> ev = cross_validate(data, folds=2, n_estimators=5, lams=(20.0,), max_regret=None)
>>> sorted(ev.summary["method"].unique())[:3]
['CV oracle (other studies of the task)', 'HyperbandPruner()', 'MedianPruner()']
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from policy_store.meta.evaluation.baselines import (
    cv_oracle_choices,
    nearest_task,
    rush_outcomes,
    task_distances,
    top_k_outcomes,
)
from policy_store.meta.evaluation.splits import group_folds, leave_out_splits
from policy_store.meta.learner.grid import OPTUNA_DEFAULTS, find_candidate
from policy_store.meta.learner.model import N_TREES, fit_meta_model
from policy_store.meta.learner.prediction import select
from policy_store.meta.learner.training_data import OUTCOMES, TrainingData, replay_task, task_parts
from scipy import stats

from policy_store.errors import NotFoundError
from policy_store.store import PolicyStore

META = "meta-learner"
META_PROBE = "meta-learner + probe"
ORACLE = "oracle (hindsight)"
CV_ORACLE = "CV oracle (other studies of the task)"
MEDIAN = "MedianPruner()"
META_ADAPT = "meta-learner + adaptation"
PROBE_BEST = "best rule on the probe study"
SINGLE = "best single rule"
TOP_K = (1, 2, 3, 5, 8)
_COLS = ["task", "study", "order_seed", *OUTCOMES, "killed_step", "peak_memory_mb"]
#: ``adapt(study_curves, order_seed, expected, lam) -> {compute_saved, regret, killed_best, killed_step, switches}``
Adapter = Callable[[Any, int, Any, float], dict]


_SUMMARY_OUTCOMES = ("compute_saved", "regret", "killed_best_rate")


def pareto_dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether outcomes ``a`` = (compute saved, regret, killed-best rate) beat ``b`` on all three.

    >>> pareto_dominates((0.5, 0.004, 0.2), (0.4, 0.006, 0.2))    # a tie on killed-best is not enough
    False
    """
    (sa, ra, ka), (sb, rb, kb) = (tuple(map(float, x)) for x in (a, b))
    return sa > sb and ra < rb and ka < kb


@dataclass
class MetaEvaluation:
    """Per-replay rows of every method and trade-off, and their summaries (per corpus)."""

    rows: pd.DataFrame
    summary: pd.DataFrame
    per_step: pd.DataFrame
    choices: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    leave_out: pd.DataFrame | None = None

    @property
    def corpora(self) -> list[str]:
        return sorted(self.summary["corpus"].unique())

    def table(self, mode: str, corpus: str | None = None) -> pd.DataFrame:
        """The summary of one trade-off ``mode`` and ``corpus`` (default: the first), indexed by method."""
        corpus = corpus or self.corpora[0]
        s = self.summary
        return s[(s["mode"] == mode) & (s["corpus"] == corpus)].set_index("method")

    def gap_closed(self, mode: str = "lam=20", method: str = META_PROBE, *, corpus: str | None = None,
                   limit: str = CV_ORACLE) -> float:
        """Share of the utility gap between the best single rule and ``limit`` that ``method`` closes.

        ``corpus`` defaults to the first of :attr:`corpora`. NaN when ``limit`` is no
        better than the best single rule (e.g. the CV oracle of single-study tasks).
        """
        return self.share_of_gap(float(self.table(mode, corpus)["utility"][method]), mode, corpus=corpus,
                                 limit=limit)

    def share_of_gap(self, utility: float, mode: str = "lam=20", *, corpus: str | None = None,
                     limit: str = CV_ORACLE) -> float:
        """Share of the gap between the best single rule and ``limit`` that a ``utility`` closes (see
        :meth:`gap_closed`; for utilities measured outside the summary, e.g. a dominance ceiling)."""
        u = self.table(mode, corpus)["utility"]
        gap = u[limit] - u[SINGLE]
        return float((utility - u[SINGLE]) / gap) if gap > 0 else float("nan")

    def dominates(self, method: str = META_PROBE, other: str = MEDIAN, mode: str = "lam=20", *,
                  corpus: str | None = None) -> bool:
        """More compute saved, lower mean regret and a lower killed-best rate than ``other``."""
        s = self.table(mode, corpus)
        return pareto_dominates(s.loc[method, list(_SUMMARY_OUTCOMES)], s.loc[other, list(_SUMMARY_OUTCOMES)])

    def verdicts(self) -> dict[str, dict[str, Any]]:
        """Per corpus: gaps closed (to the CV and the hindsight oracle) and Pareto dominance at lam=20."""
        methods = set(self.summary["method"])
        out = {}
        for c in self.corpora:
            v: dict[str, Any] = {}
            for m in (META, META_PROBE, META_ADAPT):
                if m in methods:
                    v[f"gap_closed_cv[{m}]"] = self.gap_closed(method=m, corpus=c)
                    v[f"gap_closed_hindsight[{m}]"] = self.gap_closed(method=m, corpus=c, limit=ORACLE)
                    v[f"dominates_median[{m}]"] = self.dominates(method=m, corpus=c)
            out[c] = v
        return out

    def to_dict(self) -> dict[str, Any]:
        """Settings, the verdicts, the per-method summary and the per-step killed-best rates, JSON-ready."""
        out = {**self.settings, "gap_closed_lam20": self.gap_closed(), "dominates_median_lam20": self.dominates(),
               "verdicts": self.verdicts(), "summary": self.summary.to_dict("records"),
               "per_step": self.per_step.to_dict("records")}
        if self.leave_out is not None:
            out["leave_out"] = self.leave_out.to_dict("records")
        return out


def record_evaluation(store: PolicyStore, evaluation: MetaEvaluation, *, model_id: str | None = None) -> str | None:
    """Attach ``evaluation`` to meta-model ``model_id`` (default: the newest), where the report reads it.

    Returns the model id, or None when the store holds no meta-model yet (nothing is written).
    :class:`NotFoundError` for an unknown ``model_id``.
    """
    payload = json.dumps(evaluation.to_dict(), sort_keys=True, default=str)

    def unit(s: PolicyStore) -> str | None:
        target = model_id or s.scalar("SELECT model_id FROM meta_models ORDER BY created_at DESC, model_id LIMIT 1")
        if target is None:
            return None
        if s.scalar("SELECT count(*) FROM meta_models WHERE model_id = ?", [target]) == 0:
            raise NotFoundError(f"no meta-model {target!r}; see `policy-store meta fit`")
        s.execute("UPDATE meta_models SET evaluation = ? WHERE model_id = ?", [payload, target])
        return target

    return store.run_atomic(unit)


def _lookup(data: TrainingData, task: str, cand: int, study: str | None = None) -> pd.DataFrame:
    rows = data.outcome_rows(task, cand)
    return (rows if study is None else rows[rows["study"] == study]).reindex(columns=_COLS)


def _realise(data: TrainingData, task: str, cand: int, prior: dict[str, float] | None) -> pd.DataFrame:
    c = data.grid[cand]
    own = data.priors.loc[task].to_dict()
    if not c.needs_prior or prior is None or all(np.isclose(prior[k], own[k]) for k in own):
        return _lookup(data, task, cand)
    return replay_task(data.curves[task], [c], prior, data.orders).reindex(columns=_COLS)


def _trade_offs(lams: Sequence[float], max_regret: float | None) -> list[tuple[str, dict[str, float]]]:
    modes = [(f"lam={lam:g}", {"lam": float(lam)}) for lam in lams]
    if max_regret is not None:
        modes.append((f"max_regret={max_regret:g}", {"max_regret": float(max_regret)}))
    return modes


def _choose(saved: np.ndarray, regret: np.ndarray, mode: dict[str, float]) -> np.ndarray:
    return select(saved, regret, lam=mode.get("lam", 20.0), max_regret=mode.get("max_regret"))


def probe_outcomes(data: TrainingData) -> pd.DataFrame:
    """Every grid candidate replayed on every task's probe study (same orders and prior as the outcome table).

    Replayed once per ``data`` (kept with it); a probe that is also an evaluation study is read from the
    outcome table.
    """
    if "probes" not in data._rows:
        scored = set(data.outcomes["study"])
        frames = [data.outcomes[data.outcomes["study"].isin([data.probes[t].study for t in data.tasks
                                                             if data.probes[t].study in scored])]]
        frames += [replay_task([data.probes[t]], data.grid, data.priors.loc[t].to_dict(), data.orders)
                   for t in data.tasks if data.probes[t].study not in scored]
        data._rows["probes"] = pd.concat(frames, ignore_index=True)
    return data._rows["probes"]


def study_means(data: TrainingData, probes: pd.DataFrame, task: str) -> tuple[list[str], list[int], np.ndarray]:
    """Studies of ``task`` (probe first unless it is also scored), the rows of the scored ones, and their
    ``(n_studies, n_candidates, 3)`` mean compute saved, regret and killed-best rate."""
    rows = pd.concat([probes[probes["task"] == task], data.outcomes[data.outcomes["task"] == task]])
    rows = rows.drop_duplicates(["study", "order_seed", "candidate"])
    means = rows.groupby(["study", "candidate"])[list(OUTCOMES)].mean()
    studies = list(dict.fromkeys(rows["study"]))
    cube = np.stack([means.loc[s].reindex(range(len(data.grid))).to_numpy(float) for s in studies])
    scored = sorted({studies.index(s) for s in data.outcomes.loc[data.outcomes["task"] == task, "study"]})
    return studies, scored, cube


class _Fold:
    """One fold's fitted model and the rows it adds (methods x trade-offs x test tasks)."""

    def __init__(self, data: TrainingData, train: list[str], test: list[str], probes: pd.DataFrame,
                 n_estimators: int, seed: int, adapt: Adapter | None):
        self.data, self.test, self.probes, self.adapt = data, test, probes, adapt
        self.sub = data.subset(train)
        self.model = fit_meta_model(self.sub, n_estimators=n_estimators, random_state=seed)
        self.expected = {t: (self.model.expected(data.features.loc[[t]]), self.model.expected(
            data.features.loc[[t]], curves=[data.probes[t]], direction=data.probes[t].direction)) for t in test}
        self.out: list[pd.DataFrame] = []
        self.choices: list[dict] = []

    def add(self, method: str, mode: str, task: str, frame: pd.DataFrame, choice: str) -> None:
        self.out.append(frame.assign(method=method, mode=mode))
        self.choices.append({"method": method, "mode": mode, "task": task, "choice": choice})

    def defaults(self) -> None:
        grid = self.data.grid
        for t in self.test:
            for label, name in OPTUNA_DEFAULTS.items():
                i = grid.index(find_candidate(grid, name))
                self.add(label, "fixed", t, _lookup(self.data, t, i), name)

    def single(self, m: dict[str, float]) -> int:
        cube = self.sub.outcome_cube()
        return int(_choose(np.nanmean(cube[:, :, 0], 0)[None], np.nanmean(cube[:, :, 1], 0)[None], m)[0])

    def limits(self, mode: str, m: dict[str, float], single: int) -> None:
        """Both oracles; a task with no study besides the scored one falls back to the best single rule."""
        data, grid = self.data, self.data.grid
        for t in self.test:
            studies, scored, cube = study_means(data, self.probes, t)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)          # a candidate that never let one finish
                held = np.nanmean(cube[scored], 0)
            best = int(_choose(held[None, :, 0], held[None, :, 1], m)[0])
            self.add(ORACLE, mode, t, _lookup(data, t, best), grid[best].name)
            picks = cv_oracle_choices(cube[..., 0], cube[..., 1], scored, lam=m.get("lam", 20.0),
                                      max_regret=m.get("max_regret"))
            for i, cand in picks.items():
                cand = single if cand < 0 else cand
                self.add(CV_ORACLE, mode, t, _lookup(data, t, cand, studies[i]), grid[cand].name)

    def learned(self, mode: str, m: dict[str, float], single: int) -> None:
        data, grid = self.data, self.data.grid
        best_train = _choose(self.sub.outcome_cube()[:, :, 0], self.sub.outcome_cube()[:, :, 1], m)
        nn = nearest_task(self.sub.features, data.features.loc[self.test])
        for j, t in enumerate(self.test):
            self.add(SINGLE, mode, t, _lookup(data, t, single), grid[single].name)
            nb = int(best_train[nn[j]])
            self.add("nearest task (auto-sklearn)", mode, t, _lookup(data, t, nb), grid[nb].name)
            probe = self.probes[self.probes["task"] == t].groupby("candidate")[["compute_saved", "regret"]].mean()
            probe = probe.reindex(range(len(grid))).to_numpy(float)
            on_probe = int(_choose(probe[None, :, 0], probe[None, :, 1], m)[0])
            self.add(PROBE_BEST, mode, t, _lookup(data, t, on_probe), grid[on_probe].name)
            for label, e in zip((META, META_PROBE), self.expected[t], strict=True):
                i = int(_choose(e.saved[None], e.regret[None], m)[0])
                self.add(label, mode, t, _realise(data, t, i, e.prior), grid[i].name)
            if self.adapt is not None and "lam" in m:
                e = self.expected[t][0]
                rows = [{"task": t, "study": c.study, "order_seed": int(o), **self.adapt(c, int(o), e, m["lam"])}
                        for c in data.curves[t] for o in data.orders]
                frame = pd.DataFrame(rows)
                self.add(META_ADAPT, mode, t, frame.reindex(columns=_COLS),
                         f"{grid[int(_choose(e.saved[None], e.regret[None], m)[0])].name} + "
                         f"{frame['switches'].mean():.1f} switches")

    def baselines(self, lam: float, mode: str) -> None:
        sub, data = self.sub, self.data
        k_scores = {}
        for k in TOP_K:
            r = top_k_outcomes([c for t in sub.tasks for c in sub.curves[t]], k=k, orders=(0,))
            k_scores[k] = (r.groupby("task")["compute_saved"].mean()
                           - lam * r.groupby("task")["regret"].mean()).mean()
        k_best = max(k_scores, key=k_scores.get)
        winners = {}
        for t in sub.tasks:
            finals = pd.concat([pd.Series(c.final_values, index=c.trials) for c in sub.curves[t]])
            winners[t] = str(finals.groupby(level=0).mean().idxmax() if sub.curves[t][0].direction == "maximize"
                             else finals.groupby(level=0).mean().idxmin())
        for t in self.test:
            self.add("top-K after one step", mode, t,
                     top_k_outcomes(data.curves[t], k=k_best,
                                    orders=data.orders).reindex(columns=_COLS), f"K={k_best}")
            near = np.argsort(task_distances(sub.features, data.features.loc[[t]])[0])[:3]
            hurdles = sorted({winners[sub.tasks[i]] for i in near})
            rush = rush_outcomes(data.curves[t], hurdles, orders=data.orders).reindex(columns=_COLS)
            self.add("RUSH hurdles", mode, t, rush,
                     "+".join(hurdles))


def _run_fold(fold: _Fold, modes, baselines: bool = True) -> None:
    fold.defaults()
    for mode, m in modes:
        single = fold.single(m)
        fold.limits(mode, m, single)
        fold.learned(mode, m, single)
        if baselines and "lam" in m:
            fold.baselines(m["lam"], mode)


def full_seconds(data: TrainingData) -> pd.Series:
    """Each study's compute with nothing pruned (CPU seconds), indexed by (task, study); NaN without costs."""
    studies = {(c.task, c.study): c for t in data.tasks for c in [*data.curves[t], data.probes[t]]}
    return pd.Series({k: float(np.where(c.present, c.cost, 0.0).sum()) if c.cost_known else np.nan
                      for k, c in studies.items()}, dtype=float)


def _with_corpus(rows: pd.DataFrame, data: TrainingData) -> pd.DataFrame:
    """Rows with their corpus and their compute spent in hours (what the replay's compute saved leaves)."""
    corpus = {t: task_parts(t)["corpus"] for t in rows["task"].unique()}
    full = full_seconds(data).reindex(pd.MultiIndex.from_arrays([rows["task"], rows["study"]])).to_numpy()
    return rows.assign(corpus=rows["task"].map(corpus), killed_best=rows["killed_best"].astype(bool),
                       compute_hours=(1.0 - rows["compute_saved"].to_numpy(float)) * full / 3600.0)


def _summarise(rows: pd.DataFrame, by: Sequence[str] = ("corpus",)) -> pd.DataFrame:
    keys = [*by, "method", "mode"]
    per_task = rows.groupby([*keys, "task"])[["compute_saved", "regret", "killed_best", "compute_hours",
                                             "peak_memory_mb"]].mean()
    s = per_task.groupby(keys).agg(["mean", "size"])
    n = s[("compute_saved", "size")].rename("tasks")
    largest = rows.groupby(keys)["peak_memory_mb"].max().rename("peak_memory_mb_max")
    s = (s.xs("mean", axis=1, level=1).join(n).join(largest).reset_index()
         .rename(columns={"killed_best": "killed_best_rate"}))
    out = []
    for mode in [m for m in s["mode"].unique() if m != "fixed"]:
        part = s[s["mode"].isin([mode, "fixed"])].assign(mode=mode)
        lam = float(mode.split("=")[1]) if mode.startswith("lam=") else 20.0
        part["utility"] = part["compute_saved"] - lam * part["regret"]
        part["utility_per_compute_hour"] = part["utility"] / part["compute_hours"]
        out.append(part.sort_values([*by, "utility"], ascending=[True] * len(by) + [False]))
    return pd.concat(out, ignore_index=True)


def _per_step(rows: pd.DataFrame, mode: str, max_step: int) -> pd.DataFrame:
    r = rows[rows["mode"].isin([mode, "fixed"])]
    out = []
    for (corpus, method), g in r.groupby(["corpus", "method"]):
        for s in range(max_step + 1):
            rates = g.assign(hit=g["killed_step"] == s).groupby("order_seed")["hit"].mean().to_numpy()
            m = float(rates.mean())
            half = float(stats.t.ppf(0.975, len(rates) - 1) * rates.std(ddof=1) / np.sqrt(len(rates))) \
                if len(rates) > 1 else float("nan")
            out.append({"corpus": corpus, "method": method, "step": s, "killed_best_rate": m,
                        "ci95_low": max(m - half, 0.0), "ci95_high": min(m + half, 1.0)})
    return pd.DataFrame(out)


def cross_validate(data: TrainingData, *, folds: int = 5, seed: int = 0, lams: Sequence[float] = (20.0, 5.0),
                   max_regret: float | None = 0.005, n_estimators: int = N_TREES, max_step: int = 10,
                   adapt: Adapter | None = None, progress: bool = False) -> MetaEvaluation:
    """Grouped K-fold cross-validation over ``data``'s datasets (see the module docstring).

    Parameters
    ----------
    data:
        Training data with each task's probe and evaluation studies (one corpus or several:
        :func:`~policy_store.meta.learner.training_data.concat_training_data`).
    folds, seed:
        Number of dataset folds and the seed of their shuffle (and of the forest).
    lams, max_regret:
        Trade-offs to evaluate.
    n_estimators:
        Trees of the meta-learner's forest.
    max_step:
        Steps reported in the per-step killed-best table (by step value).
    adapt:
        Scores ``meta-learner + adaptation`` on one held-out study and order, given the
        meta-learned expectation and ``lam`` (:func:`policy_store.meta.evaluation.adaptive.adaptive_scorer`);
        None leaves the method out.
    progress:
        Show a progress bar over folds.
    """
    from tqdm.auto import tqdm

    modes = _trade_offs(lams, max_regret)
    probes = probe_outcomes(data)
    frames, choices = [], []
    for tr, te in tqdm(group_folds(data.tasks, folds=folds, seed=seed), desc="meta CV", unit="fold",
                       disable=not progress):
        fold = _Fold(data, tr, te, probes, n_estimators, seed, adapt)
        _run_fold(fold, modes)
        frames += fold.out
        choices += fold.choices
    rows = _with_corpus(pd.concat(frames, ignore_index=True), data)
    summary = _summarise(rows)
    per_step = _per_step(rows, modes[0][0], max_step)
    settings = {"folds": folds, "seed": seed, "tasks": len(data.tasks), "orders": len(data.orders),
                "studies": int(rows["study"].nunique()), "lams": list(lams), "max_regret": max_regret,
                "n_estimators": n_estimators,
                "tasks_per_corpus": rows.groupby("corpus")["task"].nunique().to_dict(),
                # A task with one study is scored on its probe: '+ probe' and the probe's curve features then
                # saw the held-out study (LCDB: never; the bundled curves: every task), and its CV oracle is
                # the best single rule.
                "tasks_scored_on_probe": sum(data.curves[t][0] is data.probes[t] for t in data.tasks)}
    return MetaEvaluation(rows, summary, per_step, pd.DataFrame(choices), settings)


def leave_out(data: TrainingData, *, folds: int = 5, seed: int = 0, lam: float = 20.0, n_estimators: int = N_TREES,
              adapt: Adapter | None = None, families: Sequence[str] | None = None, corpus: str | None = None,
              progress: bool = False) -> pd.DataFrame:
    """Per leave-out split (a family or a direction never seen in training), the methods' means on it at ``lam``.

    ``corpus`` scores only that corpus's test tasks (training still uses every corpus).
    Rows: split, method, compute_saved, regret, killed_best_rate, utility, tasks, and
    ``beats_median`` (higher utility than ``MedianPruner()`` on the same tasks).
    """
    from tqdm.auto import tqdm

    directions = {t: data.probes[t].direction for t in data.tasks}
    splits = leave_out_splits(data.tasks, directions, folds=folds, seed=seed, families=families)
    probes = probe_outcomes(data)
    modes = [(f"lam={lam:g}", {"lam": float(lam)})]
    frames = []
    for sp in tqdm(splits, desc="leave-out", unit="split", disable=not progress):
        for tr, te in sp.folds:
            te = [t for t in te if corpus is None or task_parts(t)["corpus"] == corpus]
            if not te:
                continue
            fold = _Fold(data, tr, te, probes, n_estimators, seed, adapt)
            _run_fold(fold, modes, baselines=False)
            frames += [f.assign(split=sp.name) for f in fold.out]
    if not frames:
        return pd.DataFrame()
    rows = _with_corpus(pd.concat(frames, ignore_index=True), data)
    s = _summarise(rows, by=("split",))
    keep = s["method"].isin([MEDIAN, SINGLE, META, META_PROBE, META_ADAPT, CV_ORACLE])
    s = s[keep].copy()
    median = s[s["method"] == MEDIAN].set_index("split")["utility"]
    s["beats_median"] = s["utility"] > s["split"].map(median)
    return s.reset_index(drop=True)
