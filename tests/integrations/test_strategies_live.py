"""Every strategy through StorePruner: the plain pruner's decisions, and a reason for each of them."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from policy_store.integrations import StorePruner
from policy_store.rules import RuleSpec, add_rule_version

SPECS = {
    "median": {"strategy": "median", "params": {"n_startup_trials": 2}},
    "percentile": {"strategy": "percentile",
                   "params": {"percentile": 25.0, "n_startup_trials": 3, "n_warmup_steps": 1, "interval_steps": 2}},
    "threshold": {"strategy": "threshold", "params": {"lower": 0.2, "upper": 1.2}},
    "sh": {"strategy": "successive_halving", "params": {"min_resource": 1, "reduction_factor": 3}},
    "sh-auto": {"strategy": "successive_halving"},
    "hyperband": {"strategy": "hyperband", "params": {"max_resource": 12}},
    "wilcoxon": {"strategy": "wilcoxon", "params": {"p_threshold": 0.2}},
    "patient": {"strategy": "patient", "params": {"patience": 2, "wrapped": {"strategy": "median"}}},
    "patient-alone": {"strategy": "patient", "params": {"patience": 1, "min_delta": 0.01}},
    "posterior": {"strategy": "posterior", "params": {"alpha": 0.2}},
    "forecast": {"strategy": "forecast", "params": {"alpha": 0.2}},
    "median-audited": {"strategy": "median", "safeguards": {"audit_fraction": 0.3, "audit_seed": 5}},
}


def _curves(direction: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    final = rng.uniform(0.3, 1.0, (30, 1))
    k = np.arange(12)[None, :]
    loss = final + (1.6 - final) * np.exp(-rng.uniform(0.1, 0.8, (30, 1)) * k) + rng.normal(0, 0.03, (30, 12))
    return loss if direction == "minimize" else 2.0 - loss


def _run(study: optuna.Study, data: np.ndarray) -> list[bool]:
    verdicts = []
    for row in data:
        trial = study.ask()
        for step, value in enumerate(row):
            trial.report(float(value), step)
            verdicts.append(trial.should_prune())
            if verdicts[-1]:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, float(row[-1]))
    return verdicts


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:.*WilcoxonPruner.*")
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_same_verdicts_and_a_reason_for_each(store, tmp_path, name, direction):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    version = add_rule_version(store, name, SPECS[name], created_by="test")
    data = _curves(direction)
    plain = _run(optuna.create_study(study_name="s", direction=direction, pruner=RuleSpec.parse(
        SPECS[name]).to_optuna()), data)
    pruner = StorePruner(store, task="t", rule=name, spool_dir=tmp_path / "spool")
    study = optuna.create_study(study_name="s", direction=direction, pruner=pruner)
    assert _run(study, data) == plain
    pruner.finish(study)
    rows = store.fetch_dicts("SELECT trial_number, step, value, threshold, ref_size, verdict, reason, rule, version "
                             "FROM decisions WHERE study = 's'")
    assert len(rows) == len(plain)
    assert {(r["rule"], r["version"]) for r in rows} == {(name, version.version)}
    prunes = [r for r in rows if r["verdict"] == "prune" or r["reason"].startswith("audit: would prune")]
    assert len([r for r in rows if r["verdict"] == "prune"]) == sum(plain)
    minimize = direction == "minimize"
    for r in prunes:
        assert r["reason"], r
        if version.spec.strategy in ("successive_halving", "hyperband"):
            assert (r["value"] > r["threshold"]) if minimize else (r["value"] < r["threshold"]), r
            assert r["ref_size"] >= 1
        if version.spec.strategy in ("median", "percentile"):
            assert r["threshold"] is not None and r["ref_size"] >= 1 and " > p" in r["reason"] or \
                " < p" in r["reason"], r
        if version.spec.strategy in ("posterior", "forecast"):
            assert "< alpha" in r["reason"], r
        if version.spec.strategy == "wilcoxon":
            assert r["reason"].startswith("Wilcoxon p="), r
    if name == "median-audited":
        assert any(r["reason"].startswith("audit: would prune") for r in rows)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("name", ["median", "percentile", "threshold", "sh", "sh-auto", "hyperband", "patient",
                                  "forecast"])
def test_each_prune_carries_the_replays_threshold_and_reference_size(store, tmp_path, name, direction):
    """Live and replay call the same decision function: a pruned trial's numbers are the replay's, bit for bit."""
    from policy_store.curves import StudyCurves
    from policy_store.replay import replay_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    version = add_rule_version(store, name, SPECS[name], created_by="test")
    data = _curves(direction, seed=1)
    pruner = StorePruner(store, task="t", rule=name, spool_dir=tmp_path / "spool")
    study = optuna.create_study(study_name="s", direction=direction, pruner=pruner)
    _run(study, data)
    pruner.finish(study)
    rows = store.fetch_dicts("SELECT trial_number, step, threshold, ref_size FROM decisions "
                             "WHERE study = 's' AND verdict = 'prune' ORDER BY trial_number")
    (replay,) = replay_study(StudyCurves.from_arrays("s", data, direction=direction), [version.spec])
    pruned = np.flatnonzero(replay.pruned)
    assert [r["trial_number"] for r in rows] == pruned.tolist() and len(pruned) > 0
    assert [r["step"] for r in rows] == replay.prune_col[pruned].tolist()
    assert [r["ref_size"] for r in rows] == replay.ref_size[pruned].tolist()
    live = np.array([np.nan if r["threshold"] is None else r["threshold"] for r in rows])
    np.testing.assert_array_equal(live, replay.threshold[pruned])
