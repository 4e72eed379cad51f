"""Every command that writes, with the store it starts from and its inputs: the rows of the crash matrix.

A :class:`Scenario` prepares a workspace once (``prepare(location, folder)``: the store at ``location`` and
the command's input files in ``folder``) and names the command line to run on a clone of it
(``argv(location, folder)``). The data are small but real: synthetic loss curves ingested through the
long format, the bundled scikit-learn curves, real Optuna studies pruned by ``StorePruner``, real replays.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from policy_store import PolicyStore

MEDIAN = {"strategy": "median", "params": {"n_startup_trials": 3, "n_warmup_steps": 1}}
PERCENTILE = {"strategy": "percentile", "params": {"percentile": 25.0, "n_warmup_steps": 2}}


@dataclass(frozen=True)
class Scenario:
    name: str
    """The command as a user types it (what the campaign reports)."""
    prepare: Callable[[str, Path], None]
    argv: Callable[[str, Path], list[str]]
    target: Callable[[str, Path], str] = lambda location, folder: location
    """The store the command writes (to check and compare)."""

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "_" for c in self.name).strip("_")


def curves(tasks: int = 3, studies: int = 5, trials: int = 8, steps: int = 10, *, seed: int = 0,
           prefix: str = "syn", drift: bool = False) -> pd.DataFrame:
    """Long-format loss curves (minimised). With ``drift`` the last trial of every study starts worst, ends best."""
    rng = np.random.default_rng(seed)
    task, study, trial, step = np.meshgrid(np.arange(tasks), np.arange(studies), np.arange(trials),
                                           np.arange(steps), indexing="ij")
    level = rng.uniform(0.3, 1.0, size=(tasks, studies, trials, 1))
    value = level / np.sqrt(step + 1) + rng.normal(0, 0.01, size=step.shape)
    if drift:
        value[:, :, -1, :] = np.where(step[:, :, -1, :] < 2, 2.0, 0.05)
    return pd.DataFrame({
        "task": [f"{prefix}-task-{t}" for t in task.ravel()],
        "study": [f"{prefix}-{t}-{s:03d}" for t, s in zip(task.ravel(), study.ravel(), strict=True)],
        "trial": trial.ravel(), "step": step.ravel(), "value": value.ravel(),
        "cost_seconds": 0.5 + 0.01 * step.ravel(), "direction": "minimize",
    })  # fmt: skip


def _init(location: str) -> None:
    PolicyStore(location).close()


def _ingest(location: str, frame: pd.DataFrame) -> None:
    from policy_store.ingest import ingest_frame

    with PolicyStore(location) as store:
        ingest_frame(store, frame)


def _rule(location: str, name: str, spec: dict) -> None:
    from policy_store.rules import add_rule_version

    with PolicyStore(location) as store:
        add_rule_version(store, name, spec, created_by="crash-matrix", reason="prepared")


def _evaluate(location: str, rule: str, orders: int = 1) -> None:
    from policy_store.replay import evaluate

    with PolicyStore(location) as store:
        evaluate(store, rule, orders=orders)


def _store(location: str, *argv: str) -> list[str]:
    return ["--store", location, *argv]


# -- ingest -------------------------------------------------------------------------------------------------
def _prep_ingest(location: str, folder: Path) -> None:
    _init(location)
    curves().to_csv(folder / "curves.csv", index=False)


def _prep_replace(location: str, folder: Path) -> None:
    frame = curves()
    _ingest(location, frame)
    changed = frame.copy()
    first = changed["study"].isin(sorted(changed["study"].unique())[::2])
    changed.loc[first, "value"] *= 1.5  # every other study changes: --replace swaps those, keeps the rest
    pd.concat([changed, curves(tasks=1, studies=3, seed=9, prefix="new")]).to_csv(folder / "changed.csv",
                                                                                   index=False)


def _prep_empty(location: str, folder: Path) -> None:
    _init(location)


def _prep_rules(location: str, folder: Path) -> None:
    _rule(location, "median", MEDIAN)


def _prep_evaluate(location: str, folder: Path) -> None:
    _ingest(location, curves())
    _rule(location, "median", MEDIAN)


def _prep_meta(location: str, folder: Path) -> None:
    from policy_store.datasets import ingest_bundled

    with PolicyStore(location) as store:
        ingest_bundled(store)


def _prep_recommend(location: str, folder: Path) -> None:
    from policy_store.meta.learner.store_records import fit_from_store

    _prep_meta(location, folder)
    with PolicyStore(location) as store:
        fit_from_store(store, orders=1, n_estimators=10, directory=folder / "artifacts")
    first = curves(tasks=1, studies=1, trials=6, seed=4)
    first["value"] = 1.0 - first["value"]  # accuracies, maximised like the bundled tasks
    first[["trial", "step", "value"]].to_csv(folder / "first.csv", index=False)


def _prep_drift(location: str, folder: Path) -> None:
    _rule(location, "median", {"strategy": "median"})
    for frame in (curves(tasks=1, studies=40, seed=0, prefix="a"),
                  curves(tasks=1, studies=30, seed=1, prefix="b", drift=True)):
        _ingest(location, frame)
        _evaluate(location, "median")


def _live_study(location: str, folder: Path, *, storage: str | None) -> None:
    """A real Optuna study of 12 trials pruned by ``StorePruner`` (its decisions spooled in ``folder/spool``)."""
    import optuna

    from policy_store.integrations.optuna import StorePruner

    _rule(location, "median", MEDIAN)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    pruner = StorePruner(location, task="live-task", rule="median@1", spool_dir=folder / "spool")
    study = optuna.create_study(study_name="live", storage=storage, pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=1))

    def objective(trial: optuna.Trial) -> float:
        level = trial.suggest_float("level", 0.2, 1.0)
        value = level
        for step in range(8):
            value = level / np.sqrt(step + 1)
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    study.optimize(objective, n_trials=12)
    pruner.close()


def _prep_absorb(location: str, folder: Path) -> None:
    _live_study(location, folder, storage=None)


def _prep_record_live(location: str, folder: Path) -> None:
    _live_study(location, folder, storage=f"sqlite:///{folder / 'optuna.db'}")


def _prep_copy(location: str, folder: Path) -> None:
    _init(location)
    source = str(folder / "source.duckdb")
    _prep_evaluate(source, folder)
    _evaluate(source, "median", orders=2)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("ingest", _prep_ingest, lambda loc, f: _store(loc, "ingest", str(f / "curves.csv"))),
    Scenario("ingest --replace", _prep_replace,
             lambda loc, f: _store(loc, "ingest", str(f / "changed.csv"), "--replace")),
    Scenario("datasets ingest bundled", _prep_empty, lambda loc, f: _store(loc, "datasets", "ingest", "bundled")),
    Scenario("rules add", _prep_rules,
             lambda loc, f: _store(loc, "rules", "add", "median", "--spec", json.dumps(PERCENTILE), "--reason",
                                   "crash matrix", "--created-by", "crash-matrix")),
    Scenario("evaluate", _prep_evaluate,
             lambda loc, f: _store(loc, "evaluate", "median", "--orders", "2", "--decisions")),
    Scenario("meta fit", _prep_meta,
             lambda loc, f: _store(loc, "meta", "fit", "--orders", "1", "--trees", "10", "--artifacts",
                                   str(f / "artifacts"))),
    Scenario("recommend --save", _prep_recommend,
             lambda loc, f: _store(loc, "recommend", "--curves", str(f / "first.csv"), "--task", "new-task",
                                   "--save", "recommended")),
    Scenario("drift check", _prep_drift, lambda loc, f: _store(loc, "drift", "check", "--rule", "median")),
    Scenario("recalibrate", _prep_drift,
             lambda loc, f: _store(loc, "recalibrate", "--trigger", "cron", "--orders", "1")),
    Scenario("absorb", _prep_absorb, lambda loc, f: _store(loc, "absorb", str(f / "spool"))),
    Scenario("record-live", _prep_record_live,
             lambda loc, f: _store(loc, "record-live", f"sqlite:///{f / 'optuna.db'}", "--study", "live",
                                   "--spool-dir", str(f / "spool"), "--task", "live-task")),
    Scenario("copy", _prep_copy, lambda loc, f: ["copy", str(f / "source.duckdb"), loc]),
)

BY_NAME = {s.name: s for s in SCENARIOS}
