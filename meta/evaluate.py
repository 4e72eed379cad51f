"""Grouped cross-validation of the meta-learner against fixed defaults and baselines.

Tasks are split into folds (no task is in both training and test). On each test
task's evaluation studies, under the same trial orders, every method's chosen
rule is replayed and scored:

=============================  ===============================================================
``MedianPruner()`` etc.        Optuna's three defaults
``best single rule``           the grid rule with the best mean utility on the training tasks
``nearest task (auto-sklearn)``  the best rule of the nearest training task (:mod:`.baselines`)
``RUSH hurdles``               best trials of the 3 nearest training tasks as hurdles
``top-K after one step``       K (1, 2, 3, 5 or 8) chosen on the training tasks
``meta-learner``               :class:`~policy_store.meta.learner_model.MetaModel` from meta-features
                               (dataset qualities + the probe study's curve features)
``meta-learner + probe``       the same, blended with the grid replayed on the task's probe study
``best rule on the probe``     the task's own best grid rule on its probe study (what one past
                               study of the same task says: the attainable per-task choice)
``oracle``                     the best grid rule on the test studies themselves (hindsight)
=============================  ===============================================================

Utility = compute saved - lam * regret (regret as a fraction: accuracy points /
100). Trade-offs: every ``lam`` of ``lams`` and the ``max_regret`` budget.

>>> from policy_store import PolicyStore
>>> from policy_store.datasets import ingest_bundled
>>> from policy_store.meta.learner_sources import training_data_from_store
>>> with PolicyStore.memory() as store:
...     _ = ingest_bundled(store)
...     data = training_data_from_store(store, orders=1, tasks=[f"sklearn/{d}/sgd/accuracy" for d in
...                                                             ("iris", "wine", "digits", "breast_cancer")])
>>> ev = cross_validate(data, folds=2, n_estimators=5, lams=(20.0,), max_regret=None)
>>> sorted(ev.summary["method"].unique())[:2]
['HyperbandPruner()', 'MedianPruner()']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from policy_store.meta.baselines import nearest_task, rush_outcomes, task_distances, top_k_outcomes
from policy_store.meta.grid import OPTUNA_DEFAULTS, find_candidate
from policy_store.meta.learner import select
from policy_store.meta.learner_data import OUTCOMES, TrainingData, replay_task
from policy_store.meta.learner_model import N_TREES, fit_meta_model
from scipy import stats
from sklearn.model_selection import KFold

from policy_store.errors import NotFoundError
from policy_store.store import PolicyStore

META = "meta-learner"
META_PROBE = "meta-learner + probe"
ORACLE = "oracle (hindsight)"
PROBE_BEST = "best rule on the probe study"
SINGLE = "best single rule"
TOP_K = (1, 2, 3, 5, 8)
_COLS = ["task", "study", "order_seed", *OUTCOMES, "killed_step"]


@dataclass
class MetaEvaluation:
    """Per-replay rows of every method and trade-off, and their summaries."""

    rows: pd.DataFrame
    summary: pd.DataFrame
    per_step: pd.DataFrame
    choices: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def gap_closed(self, mode: str = "lam=20", method: str = META_PROBE) -> float:
        """Share of the utility gap between the best single rule and the oracle that ``method`` closes."""
        s = self.summary[self.summary["mode"] == mode].set_index("method")["utility"]
        return float((s[method] - s[SINGLE]) / (s[ORACLE] - s[SINGLE]))

    def dominates(self, method: str = META_PROBE, other: str = "MedianPruner()", mode: str = "lam=20") -> bool:
        """More compute saved and lower mean regret than ``other``."""
        s = self.summary[self.summary["mode"] == mode].set_index("method")
        return bool(s.loc[method, "compute_saved"] > s.loc[other, "compute_saved"]
                    and s.loc[method, "regret"] < s.loc[other, "regret"])

    def to_dict(self) -> dict[str, Any]:
        """Settings, the verdicts, the per-method summary and the per-step killed-best rates, JSON-ready."""
        return {**self.settings, "gap_closed_lam20": self.gap_closed(), "dominates_median_lam20": self.dominates(),
                "summary": self.summary.to_dict("records"), "per_step": self.per_step.to_dict("records")}


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


def _lookup(data: TrainingData, task: str, cand: int) -> pd.DataFrame:
    o = data.outcomes
    return o[(o["task"] == task) & (o["candidate"] == cand)][_COLS]


def _realise(data: TrainingData, task: str, cand: int, prior: dict[str, float] | None) -> pd.DataFrame:
    c = data.grid[cand]
    own = data.priors.loc[task].to_dict()
    if not c.needs_prior or prior is None or all(np.isclose(prior[k], own[k]) for k in own):
        return _lookup(data, task, cand)
    return replay_task(data.curves[task], [c], prior, data.orders)[_COLS]


def _trade_offs(lams: Sequence[float], max_regret: float | None) -> list[tuple[str, dict[str, float]]]:
    modes = [(f"lam={lam:g}", {"lam": float(lam)}) for lam in lams]
    if max_regret is not None:
        modes.append((f"max_regret={max_regret:g}", {"max_regret": float(max_regret)}))
    return modes


def _choose(saved: np.ndarray, regret: np.ndarray, mode: dict[str, float]) -> np.ndarray:
    return select(saved, regret, lam=mode.get("lam", 20.0), max_regret=mode.get("max_regret"))


def _fold(data: TrainingData, train: list[str], test: list[str], modes, n_estimators: int,
          seed: int) -> tuple[list[pd.DataFrame], list[dict]]:
    out, choices = [], []
    sub = data.subset(train)
    cube = sub.outcome_cube()
    model = fit_meta_model(sub, n_estimators=n_estimators, random_state=seed)
    nn = nearest_task(sub.features, data.features.loc[test])
    expected = {t: (model.expected(data.features.loc[[t]]), model.expected(
        data.features.loc[[t]], curves=[data.probes[t]], direction=data.probes[t].direction)) for t in test}
    full_cube = data.outcome_cube(test)
    probe_cube = np.stack([replay_task([data.probes[t]], data.grid, data.priors.loc[t].to_dict(), data.orders)
                           .groupby("candidate")[list(OUTCOMES)].mean().reindex(range(len(data.grid)))
                           .to_numpy(float) for t in test])

    def add(method: str, mode: str, task: str, frame: pd.DataFrame, choice: str) -> None:
        out.append(frame.assign(method=method, mode=mode))
        choices.append({"method": method, "mode": mode, "task": task, "choice": choice})

    for t in test:
        for label, name in OPTUNA_DEFAULTS.items():
            i = data.grid.index(find_candidate(data.grid, name))
            add(label, "fixed", t, _lookup(data, t, i), name)
    for mode, m in modes:
        single = int(_choose(np.nanmean(cube[:, :, 0], 0)[None], np.nanmean(cube[:, :, 1], 0)[None], m)[0])
        best_train = _choose(cube[:, :, 0], cube[:, :, 1], m)
        oracle = _choose(full_cube[:, :, 0], full_cube[:, :, 1], m)
        on_probe = _choose(probe_cube[:, :, 0], probe_cube[:, :, 1], m)
        for j, t in enumerate(test):
            add(SINGLE, mode, t, _lookup(data, t, single), data.grid[single].name)
            nb = int(best_train[nn[j]])
            add("nearest task (auto-sklearn)", mode, t, _lookup(data, t, nb), data.grid[nb].name)
            add(ORACLE, mode, t, _lookup(data, t, int(oracle[j])), data.grid[int(oracle[j])].name)
            add(PROBE_BEST, mode, t, _lookup(data, t, int(on_probe[j])), data.grid[int(on_probe[j])].name)
            for label, e in zip((META, META_PROBE), expected[t], strict=True):
                i = int(_choose(e.saved[None], e.regret[None], m)[0])
                add(label, mode, t, _realise(data, t, i, e.prior), data.grid[i].name)
        if "lam" in m:
            _baselines(data, sub, test, m["lam"], mode, add)
    return out, choices


def _baselines(data: TrainingData, sub: TrainingData, test: list[str], lam: float, mode: str, add) -> None:
    k_scores = {}
    for k in TOP_K:
        r = top_k_outcomes([c for t in sub.tasks for c in sub.curves[t]], k=k, orders=(0,))
        k_scores[k] = (r.groupby("task")["compute_saved"].mean() - lam * r.groupby("task")["regret"].mean()).mean()
    k_best = max(k_scores, key=k_scores.get)
    winners = {}
    for t in sub.tasks:
        finals = pd.concat([pd.Series(c.final_values, index=c.trials) for c in sub.curves[t]])
        winners[t] = str(finals.groupby(level=0).mean().idxmax() if sub.curves[t][0].direction == "maximize"
                         else finals.groupby(level=0).mean().idxmin())
    for t in test:
        add("top-K after one step", mode, t, top_k_outcomes(data.curves[t], k=k_best, orders=data.orders)[_COLS],
            f"K={k_best}")
        near = np.argsort(task_distances(sub.features, data.features.loc[[t]])[0])[:3]
        hurdles = sorted({winners[sub.tasks[i]] for i in near})
        add("RUSH hurdles", mode, t, rush_outcomes(data.curves[t], hurdles, orders=data.orders)[_COLS],
            "+".join(hurdles))


def _summarise(rows: pd.DataFrame) -> pd.DataFrame:
    per_task = rows.groupby(["method", "mode", "task"])[["compute_saved", "regret", "killed_best"]].mean()
    s = per_task.groupby(["method", "mode"]).mean().reset_index().rename(columns={"killed_best": "killed_best_rate"})
    out = []
    for mode in [m for m in s["mode"].unique() if m != "fixed"]:
        part = s[s["mode"].isin([mode, "fixed"])].assign(mode=mode)
        lam = float(mode.split("=")[1]) if mode.startswith("lam=") else 20.0
        part["utility"] = part["compute_saved"] - lam * part["regret"]
        out.append(part.sort_values("utility", ascending=False))
    return pd.concat(out, ignore_index=True)


def _per_step(rows: pd.DataFrame, mode: str, max_step: int) -> pd.DataFrame:
    r = rows[rows["mode"].isin([mode, "fixed"])]
    out = []
    for method, g in r.groupby("method"):
        for s in range(max_step + 1):
            rates = g.assign(hit=g["killed_step"] == s).groupby("order_seed")["hit"].mean().to_numpy()
            m = float(rates.mean())
            half = float(stats.t.ppf(0.975, len(rates) - 1) * rates.std(ddof=1) / np.sqrt(len(rates))) \
                if len(rates) > 1 else float("nan")
            out.append({"method": method, "step": s, "killed_best_rate": m,
                        "ci95_low": max(m - half, 0.0), "ci95_high": min(m + half, 1.0)})
    return pd.DataFrame(out)


def cross_validate(data: TrainingData, *, folds: int = 5, seed: int = 0, lams: Sequence[float] = (20.0, 5.0),
                   max_regret: float | None = 0.005, n_estimators: int = N_TREES, max_step: int = 10,
                   progress: bool = False) -> MetaEvaluation:
    """Grouped K-fold cross-validation over ``data``'s tasks (see the module docstring).

    Parameters
    ----------
    data:
        Training data with each task's probe and evaluation studies.
    folds, seed:
        Number of task folds and the seed of their shuffle (and of the forest).
    lams, max_regret:
        Trade-offs to evaluate.
    n_estimators:
        Trees of the meta-learner's forest.
    max_step:
        Steps reported in the per-step killed-best table (by step value).
    progress:
        Show a progress bar over folds.
    """
    from tqdm.auto import tqdm

    tasks = np.array(data.tasks)
    modes = _trade_offs(lams, max_regret)
    splitter = KFold(n_splits=min(folds, len(tasks)), shuffle=True, random_state=seed)
    frames, choices = [], []
    for tr, te in tqdm(list(splitter.split(tasks)), desc="meta CV", unit="fold", disable=not progress):
        f, c = _fold(data, list(tasks[tr]), list(tasks[te]), modes, n_estimators, seed)
        frames += f
        choices += c
    rows = pd.concat(frames, ignore_index=True)
    rows["killed_best"] = rows["killed_best"].astype(bool)
    summary = _summarise(rows)
    per_step = _per_step(rows, modes[0][0], max_step)
    settings = {"folds": folds, "seed": seed, "tasks": len(tasks), "orders": len(data.orders),
                "studies": int(rows["study"].nunique()), "lams": list(lams), "max_regret": max_regret,
                "n_estimators": n_estimators,
                # A task with one study is scored on its probe: '+ probe' and the probe's curve features then
                # saw the held-out study (LCDB: never; the bundled curves: every task).
                "tasks_scored_on_probe": sum(data.curves[t][0] is data.probes[t] for t in data.tasks)}
    return MetaEvaluation(rows, summary, per_step, pd.DataFrame(choices), settings)
