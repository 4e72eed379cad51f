"""Every strategy through StoreScheduler (no Tune controller): the replay's decisions, a reason for each, all spooled.

Real ``ray.tune.experiment.Trial`` objects are fed their results one after another,
as Tune does with one trial at a time; strategies Ray has no scheduler for
(posterior, Wilcoxon, patience) decide like the others.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ray.tune", reason="ray[tune] cannot be imported (pip install 'policy-store[ray]')")

from ray.tune.experiment import Trial  # noqa: E402
from ray.tune.schedulers import TrialScheduler  # noqa: E402

from policy_store.curves import StudyCurves, load_study_curves  # noqa: E402
from policy_store.errors import InvalidInputError  # noqa: E402
from policy_store.integrations.ray import StoreScheduler  # noqa: E402
from policy_store.replay import replay_study  # noqa: E402
from policy_store.rules import add_rule_version  # noqa: E402

SPECS = {
    "median": {"strategy": "median", "params": {"n_startup_trials": 2}},
    "sh": {"strategy": "successive_halving", "params": {"min_resource": 1, "reduction_factor": 3}},
    "hyperband": {"strategy": "hyperband", "params": {"max_resource": 12}},
    "wilcoxon": {"strategy": "wilcoxon", "params": {"p_threshold": 0.2}},
    "patient": {"strategy": "patient", "params": {"patience": 2, "wrapped": {"strategy": "median"}}},
    "posterior": {"strategy": "posterior", "params": {"alpha": 0.2}},
    "median-audited": {"strategy": "median", "safeguards": {"audit_fraction": 0.3, "audit_seed": 5}},
}


def _curves(direction: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    final = rng.uniform(0.3, 1.0, (20, 1))
    k = np.arange(12)[None, :]
    loss = final + (1.6 - final) * np.exp(-rng.uniform(0.1, 0.8, (20, 1)) * k) + rng.normal(0, 0.03, (20, 12))
    return loss if direction == "minimize" else 2.0 - loss


def _drive(scheduler: StoreScheduler, data: np.ndarray) -> np.ndarray:
    """Feed each trial's results in turn; the column each was stopped at (-1: ran to the end)."""
    stopped = np.full(len(data), -1)
    for number, row in enumerate(data):
        trial = Trial("objective", config={"row": number}, stub=True, trial_id=f"t_{number:05d}")
        for col, value in enumerate(row):
            result = {"metric": float(value), "training_iteration": col + 1, "time_this_iter_s": 0.5}
            if scheduler.on_trial_result(None, trial, result) == TrialScheduler.STOP:
                stopped[number] = col
                break
        else:
            assert scheduler.on_trial_result(None, trial, {**result, "done": True}) == TrialScheduler.CONTINUE
            scheduler.on_trial_complete(None, trial, result)
    return stopped


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:.*WilcoxonPruner.*")
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_scheduler_decides_as_the_replay(store, tmp_path, name, direction):
    version = add_rule_version(store, name, SPECS[name], created_by="test")
    data = _curves(direction)
    scheduler = StoreScheduler(store, task="t", rule=name, metric="metric", mode=direction[:3], study="s",
                               spool_dir=tmp_path / "spool")
    stopped = _drive(scheduler, data)
    assert scheduler.duplicates == int((stopped < 0).sum())  # Ray's repeated last result is not decided again
    outcome = scheduler.finish()
    curves = StudyCurves.from_arrays("s", data, steps=np.arange(1, 13), direction=direction)
    (replay,) = replay_study(curves, [version.spec])
    assert np.where(replay.pruned, replay.prune_col, -1).tolist() == stopped.tolist()
    assert outcome["trials_pruned"] == int((stopped >= 0).sum())
    rows = store.fetch_dicts("SELECT trial, step, verdict, reason, rule, version FROM decisions WHERE study = 's'")
    assert len(rows) == scheduler.calls == sum(c + 1 if c >= 0 else data.shape[1] for c in stopped)
    assert {(r["rule"], r["version"]) for r in rows} == {(name, version.version)}
    assert all(r["reason"] for r in rows)
    shadow = {r["trial"] for r in rows if r["reason"].startswith("audit: would prune")}
    assert shadow == {f"t_{i:05d}" for i in np.flatnonzero(replay.audited & (replay.prune_col >= 0))}
    recorded = load_study_curves(store, "s")
    assert recorded.trials.tolist() == [f"t_{i:05d}" for i in range(len(data))]


def test_metric_and_mode_come_from_the_tune_config_unless_given(store, tmp_path):
    add_rule_version(store, "median", SPECS["median"], created_by="test")
    scheduler = StoreScheduler(store, task="t", rule="median", spool_dir=tmp_path / "spool", study="s")
    assert scheduler.set_search_properties("loss", "min")
    assert not scheduler.set_search_properties("accuracy", "max")
    given = StoreScheduler(store, task="t", rule="median", metric="loss", spool_dir=tmp_path / "spool", study="s")
    assert given.set_search_properties(None, "max") and not given.set_search_properties("acc", None)


def test_bad_input_is_refused_naming_the_field(store, tmp_path):
    add_rule_version(store, "median", SPECS["median"], created_by="test")
    with pytest.raises(InvalidInputError, match="mode"):
        StoreScheduler(store, task="t", rule="median", metric="loss", mode="minimum", spool_dir=tmp_path)
    no_metric = StoreScheduler(store, task="t", rule="median", mode="min", spool_dir=tmp_path / "spool", study="s")
    trial = Trial("objective", config={}, stub=True, trial_id="t_00000")
    with pytest.raises(InvalidInputError, match="metric="):
        no_metric.on_trial_result(None, trial, {"loss": 1.0, "training_iteration": 1})
    empty = StoreScheduler(store, task="t", rule="median", metric="loss", mode="min", study="s",
                           spool_dir=tmp_path / "spool")
    with pytest.raises(InvalidInputError, match="nothing to record"):
        empty.finish()
