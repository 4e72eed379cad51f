"""StorePruner in a real Optuna study (scikit-learn training): same decisions, every one recorded, an outcome."""

from __future__ import annotations

import pickle

import optuna
import pytest

from policy_store import DirectionMismatchError, InvalidInputError, NotFoundError, PolicyStore
from policy_store.integrations import StorePruner, explain_trial
from policy_store.rules import RuleSpec, add_rule_version, is_audited

from .conftest import AUDITED, MEDIAN


def _run(worker, pruner, name, n_trials=32, seed=1):
    study = optuna.create_study(study_name=name, pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=seed))
    calls: list = []
    study.optimize(lambda t: worker.objective(t, calls), n_trials=n_trials)
    return study, calls


def test_same_decisions_as_the_plain_pruner_and_every_one_recorded(worker, store_path):
    _, plain = _run(worker, RuleSpec.parse(MEDIAN).to_optuna(), "plain")
    pruner = StorePruner(store_path, task="breast-cancer-sgd", rule="median@1")
    study, live = _run(worker, pruner, "live")
    assert live == plain
    assert any(v for *_, v in live), "the study should prune something"
    outcome = pruner.finish(study)
    assert outcome["decisions_absorbed"] == len(live) == pruner.calls
    with PolicyStore(store_path, read_only=True) as store:
        rows = store.fetch_dicts("SELECT trial_number, step, verdict FROM decisions WHERE study = 'live' "
                                 "ORDER BY trial_number, step")
        assert len(rows) == len(live)
        assert store.scalar("SELECT count(DISTINCT decision_id) FROM decisions") == len(live)
        assert sorted((r["trial_number"], r["step"], r["verdict"] == "prune") for r in rows) == sorted(live)
        o = store.fetch_dicts("SELECT * FROM outcomes WHERE study = 'live'")
        assert len(o) == 1 and o[0]["mode"] == "live" and o[0]["rule"] == "median" and o[0]["version"] == 1
        assert o[0]["trials_pruned"] == sum(v for *_, v in live) and o[0]["n_trials"] == 32
        assert 0 < o[0]["compute_saved"] < 1
        assert o[0]["regret"] is None  # no audit trials: no unbiased estimate
        assert store.scalar("SELECT count(*) FROM trials WHERE study = 'live'") == 32
    # finishing again changes nothing
    assert pruner.finish(study)["decisions_absorbed"] == 0
    with PolicyStore(store_path, read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM decisions") == len(live)
        assert store.scalar("SELECT count(*) FROM outcomes") == 1


def test_audited_trials_are_never_pruned_and_estimate_the_outcome(worker, store_path):
    pruner = StorePruner(store_path, task="breast-cancer-sgd", rule="median-audited")
    study, calls = _run(worker, pruner, "audited", n_trials=40)
    spec = RuleSpec.parse(AUDITED)
    pruned = {n for n, _, v in calls if v}
    assert pruned and not any(is_audited(n, spec.audit_fraction, spec.audit_seed) for n in pruned)
    outcome = pruner.finish(study)
    with PolicyStore(store_path, read_only=True) as store:
        shadows = store.scalar("SELECT count(*) FROM decisions WHERE starts_with(reason, 'audit: would prune')")
        assert shadows == len(pruner._decider.shadow_pruned) > 0
        assert store.scalar("SELECT count(*) FROM decisions") == len(calls)
    assert outcome["regret"] is not None and outcome["false_prune_rate"] is not None


def test_should_prune_without_a_report_and_in_a_pickled_copy(worker, store_path):
    pruner = pickle.loads(pickle.dumps(StorePruner(store_path, task="t", rule="median@1")))
    study = optuna.create_study(study_name="bare", pruner=pruner)
    trial = study.ask()
    assert trial.should_prune() is False
    pruner.close()
    with PolicyStore(store_path) as store:
        from policy_store.integrations import absorb_spool

        assert absorb_spool(store, store_path + ".spool").inserted == 1
        assert store.fetch_dicts("SELECT step, reason FROM decisions") == [
            {"step": None, "reason": "startup: 0 COMPLETE trials < n_startup_trials=5"}]


def test_a_rule_made_for_the_other_direction_is_refused(store_path):
    with PolicyStore(store_path) as store:
        add_rule_version(store, "max-only", {**MEDIAN, "direction": "maximize"}, created_by="test")
    study = optuna.create_study(study_name="min", pruner=StorePruner(store_path, task="t", rule="max-only"))
    trial = study.ask()
    trial.report(0.5, 0)
    with pytest.raises(DirectionMismatchError, match="made for maximize but study 'min' is minimize"):
        trial.should_prune()


def test_bad_arguments(store_path):
    with pytest.raises(InvalidInputError, match="exactly one"):
        StorePruner(store_path, task="t")
    with pytest.raises(InvalidInputError, match="needs the task"):
        StorePruner(store_path, recommend=True)
    with pytest.raises(NotFoundError, match="no rule called"):
        StorePruner(store_path, task="t", rule="nope")
    with pytest.raises(InvalidInputError, match="knows nothing about task 't'"):
        StorePruner(store_path, task="t", recommend=True)


def test_recommend_applies_the_meta_learners_rule_as_a_saved_version(worker, store_path):
    first = StorePruner(store_path, task="breast-cancer-sgd", rule="median@1")
    first.finish(_run(worker, first, "first-study", n_trials=12)[0])
    pruner = StorePruner(store_path, task="breast-cancer-sgd", recommend=True)
    v = pruner.version
    assert (v.ref, v.source, v.created_by) == ("recommended-breast-cancer-sgd@1", "meta-learner",
                                               "meta-learner:cold-start")
    study, calls = _run(worker, pruner, "recommended", n_trials=12)
    pruner.finish(study)
    with PolicyStore(store_path, read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM recommendations WHERE task = 'breast-cancer-sgd'") == 1
        assert store.fetch_dicts("SELECT DISTINCT rule, version FROM decisions WHERE study = 'recommended'") == [
            {"rule": "recommended-breast-cancer-sgd", "version": 1}]
    # the same recommendation again: no new version
    assert StorePruner(store_path, task="breast-cancer-sgd", recommend=True).version.version == 1


def test_explain_reads_the_audit_trail(worker, store_path):
    pruner = StorePruner(store_path, task="breast-cancer-sgd", rule="median@1")
    study, calls = _run(worker, pruner, "explained")
    pruner.finish(study)
    victim = next(n for n, _, v in calls if v)
    with PolicyStore(store_path, read_only=True) as store:
        info = explain_trial(store, "explained", victim)
        assert info["outcome"] == "pruned" and info["rule"] == "median" and info["version"] == 1
        assert info["line"].startswith(f"trial {victim} of study 'explained' was pruned at step {info['step']} "
                                       "by median@1: best ")
        assert info["threshold"] is not None and info["ref_size"] >= 5
        with pytest.raises(NotFoundError):
            explain_trial(store, "explained", 999)


def test_threads_of_one_process_share_the_pruner(worker, store_path):
    pruner = StorePruner(store_path, task="breast-cancer-sgd", rule="median@1")
    study = optuna.create_study(study_name="threads", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=4))
    calls: list = []
    study.optimize(lambda t: worker.objective(t, calls), n_trials=24, n_jobs=3)
    assert pruner.finish(study)["decisions_absorbed"] == len(calls) == pruner.calls
    with PolicyStore(store_path, read_only=True) as store:
        assert store.scalar("SELECT count(DISTINCT (trial_number, step)) FROM decisions") == len(calls)


def test_a_prune_verdict_the_objective_ignores_saves_nothing(store_path):
    pruner = StorePruner(store_path, task="t", rule="median@1")
    study = optuna.create_study(study_name="stubborn", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        for step in range(4):
            trial.report(x + 1 / (step + 1), step)
            trial.should_prune()  # asked, never obeyed
        return x

    study.optimize(objective, n_trials=12)
    outcome = pruner.finish(study)
    with PolicyStore(store_path, read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM decisions WHERE verdict = 'prune'") > 0
    assert (outcome["trials_pruned"], outcome["compute_saved"]) == (0, 0.0)
