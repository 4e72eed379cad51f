"""StorePruner(recommend=True) adapting inside a real Optuna study whose meta-learned prior is wrong."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from policy_store.meta.adaptation.replay import adaptive_replay
from policy_store.meta.learner.estimator import PruningMetaLearner
from policy_store.meta.learner.grid import candidate_grid
from policy_store.meta.learner.model import MetaModel

from policy_store import PolicyStore
from policy_store.integrations import StorePruner, explain_trial
from policy_store.integrations.adaptation import trial_curves

LAX = "percentile-90-w6-s5"      # prunes almost nothing on 8 epochs: the wrong prior's favourite


def wrong_model(seed: int = 0) -> MetaModel:
    """A real forest trained on past tasks where the lax rule saved most at no regret (others: less, some regret)."""
    grid = [c for c in candidate_grid() if c.strategy in ("median", "percentile")]
    rng = np.random.default_rng(seed)
    n = 30
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    lax = np.array([c.name == LAX for c in grid])
    saved = np.where(lax, 0.55, 0.45) + rng.normal(0, 0.1, (n, len(grid)))
    regret = np.where(lax, 0.0, 0.003) + np.abs(rng.normal(0, 0.002, (n, len(grid))))
    y = np.stack([saved, regret, np.zeros_like(saved)], axis=2)
    learner = PruningMetaLearner(n_estimators=30, min_samples_leaf=1, random_state=seed)
    learner.fit(X, y, task_names=[f"past-{i}" for i in range(n)], candidates=[c.name for c in grid])
    return MetaModel(learner, grid)


def _pruner(store_path, model, **adapt):
    return StorePruner(store_path, task="breast-cancer-sgd", recommend=True,
                       recommend_with={"model": model, "meta_features": {"a": 0.0, "b": 0.0},
                                       "direction": "minimize"},
                       adapt={"background": False, "min_trials": 6, **adapt})


def _run(worker, pruner, name, n_trials, seed=3):
    study = optuna.create_study(study_name=name, pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=seed))
    calls: list = []
    study.optimize(lambda t: worker.objective(t, calls), n_trials=n_trials)
    return study, calls


@pytest.fixture(scope="module")
def model():
    return wrong_model()


def test_a_wrong_prior_is_switched_by_the_evidence_recorded_and_explained(worker, store_path, model):
    pruner = _pruner(store_path, model)
    assert pruner.spec.spec_hash == pruner.version.spec_hash
    start = pruner.version
    study, calls = _run(worker, pruner, "adaptive", n_trials=40)
    assert pruner.switches, "the evidence should overturn the wrong prior"
    first, sw = pruner.switches[0]
    assert sw.from_name == LAX and sw.n_completed >= 6
    assert sw.gain - sw.margin * sw.gain_se > 0, "a switch needs the gain's lower bound above 0"
    # never un-pruned: a pruned trial's prune is its last decision, and nothing was asked of it afterwards
    last = {}
    for n, _step, verdict in calls:
        assert last.get(n) is not True, f"trial {n} asked again after its prune"
        last[n] = verdict
    outcome = pruner.finish(study)
    assert outcome["decisions_absorbed"] == len(calls) == pruner.calls
    with PolicyStore(store_path, read_only=True) as store:
        versions = store.fetch_dicts("SELECT version, source, created_by, reason, parent_version FROM rule_versions "
                                     "WHERE rule = ? ORDER BY version", [start.rule])
        assert len(versions) == 1 + len(pruner.switches)
        new = versions[1]
        assert (new["source"], new["created_by"], new["parent_version"]) == ("meta-learner", "meta-learner:adaptive",
                                                                           start.version)
        assert new["reason"].startswith(f"adaptive switch {LAX} -> {sw.to_name} ({sw.direction}: ")
        assert f"{sw.n_completed} completed, {sw.basis['pruned']} pruned with forecast finals" in new["reason"]
        by_trial = store.fetch_dicts("SELECT trial_number, min(version) AS lo, max(version) AS hi, "
                                     "count(*) FILTER (WHERE version IS NULL) AS unnumbered FROM decisions "
                                     "WHERE study = 'adaptive' GROUP BY trial_number ORDER BY trial_number")
        assert all(r["unnumbered"] == 0 for r in by_trial)
        assert all(r["hi"] == start.version for r in by_trial if r["trial_number"] < first)
        assert any(r["lo"] == new["version"] for r in by_trial if r["trial_number"] > first)
        victim = max(n for n, _, v in calls if v)
        info = explain_trial(store, "adaptive", victim)
        assert info["outcome"] == "pruned" and info["switch"] is not None
        deciding = [s for n, s in pruner.switches if n <= victim][-1]
        assert f"came from adaptive switch {deciding.from_name} -> {deciding.to_name} " in info["line"]
        assert store.scalar("SELECT count(*) FROM outcomes WHERE study = 'adaptive'") == 1
    # absorbing again adds no version and no decision
    assert pruner.finish(study)["decisions_absorbed"] == 0
    with PolicyStore(store_path, read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM rule_versions WHERE rule = ?", [start.rule]) == len(versions)


def test_the_offline_adaptive_replay_makes_the_live_decisions(worker, store_path, model):
    full = optuna.create_study(study_name="full", pruner=optuna.pruners.NopPruner(),
                               sampler=optuna.samplers.RandomSampler(seed=3))
    full.optimize(worker.objective, n_trials=40)
    curves = trial_curves(full.trials, "offline", "minimize")
    pruner = _pruner(store_path, model)
    _, calls = _run(worker, pruner, "live-twin", n_trials=40)
    offline = adaptive_replay(curves, 0, pruner._prior, min_trials=6, lam=20.0)
    assert pruner.switches, "the twin should switch, or it tests nothing about switches"
    # forecasts on: the evidence of every re-scoring held pruned trials continued by the forecaster
    assert all(s.basis["pruned"] > 0 and s.basis["forecaster"] for _, s in pruner.switches)
    off, live = offline_evidence(curves, pruner), pruner.adaptation.selector.evidence
    assert [e.basis for e in off] == [e.basis for e in live] and len(live) > len(pruner.switches)
    assert all(np.array_equal(a.diff_mean, b.diff_mean) for a, b in zip(off, live, strict=True))
    assert [s.to_dict() for s in offline.switches] == [s.to_dict() for _, s in pruner.switches]
    live_pruned = sorted((n, s) for n, s, v in calls if v)
    assert [(int(t), int(s)) for t, s in enumerate(offline.prune_step) if s >= 0] == live_pruned
    first = [n for n, _ in pruner.switches]
    assert [int(np.argmax(offline.rule_of != offline.rule_of[0]))] == first[:1]


def offline_evidence(curves, pruner):
    """The offline twin's re-scorings (each one's evidence), from the same prior and options."""
    from policy_store.meta.adaptation import replay as offline

    seen = []
    real = offline.AdaptiveSelector.rescore

    def spy(self, ended):
        ev = real(self, ended)
        seen.append(ev)
        return ev

    offline.AdaptiveSelector.rescore = spy
    try:
        adaptive_replay(curves, 0, pruner._prior, min_trials=6, lam=20.0)
    finally:
        offline.AdaptiveSelector.rescore = real
    return seen


def test_adapt_false_keeps_the_recommended_rule(worker, store_path, model):
    pruner = StorePruner(store_path, task="breast-cancer-sgd", recommend=True, adapt=False,
                         recommend_with={"model": model, "meta_features": {"a": 0.0}, "direction": "minimize"})
    _run(worker, pruner, "fixed", n_trials=20)
    assert pruner.switches == [] and pruner.spec.spec_hash == pruner.version.spec_hash


def test_rescoring_in_a_child_process(worker, store_path, model):
    pruner = _pruner(store_path, model, background="process")
    assert pruner.adaptation.wait_idle(timeout=120)
    study, calls = _run(worker, pruner, "in-a-child", n_trials=40)
    assert pruner.adaptation.wait_idle(timeout=120) and pruner.adaptation.error is None
    assert pruner.adaptation.selector.evidence, "re-scoring ran"
    outcome = pruner.finish(study)
    assert outcome["decisions_absorbed"] == len(calls)
    with PolicyStore(store_path, read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM decisions WHERE study = 'in-a-child' AND version IS NULL") == 0
        assert store.scalar("SELECT count(DISTINCT version) FROM decisions WHERE study = 'in-a-child'") == \
            1 + len(pruner.switches)


def test_a_failing_rescoring_keeps_the_rule_and_says_why(worker, store_path, model):
    pruner = _pruner(store_path, model)

    def broken(*args, **kwargs):
        raise RuntimeError("replay exploded")

    pruner.adaptation.selector.scorer = broken
    study, calls = _run(worker, pruner, "broken", n_trials=20)
    assert len({n for n, _, _ in calls}) == 20 and pruner.switches == []
    assert "replay exploded" in pruner.adaptation.error and pruner.spec.spec_hash == pruner.version.spec_hash
    assert pruner.finish(study)["decisions_absorbed"] == len(calls)


def test_no_evidence_yet_is_recorded_with_the_decisions_and_explained(worker, store_path, model):
    pruner = _pruner(store_path, model)
    study, calls = _run(worker, pruner, "waiting", n_trials=10)
    pruner.finish(study)
    with PolicyStore(store_path, read_only=True) as store:
        reasons = {r["trial_number"]: r["reason"] for r in store.fetch_dicts(
            "SELECT trial_number, reason FROM decisions WHERE study = 'waiting' ORDER BY decided_at")}
        assert "| adaptation: no evidence yet: 0 ended trials, re-scoring needs 6" in reasons[0]
        assert "adaptation: no evidence yet: 5 ended trials" in reasons[5]
        assert "| adaptation: " in reasons[9] and "no evidence yet" not in reasons[9]   # re-scored by then
        assert "no evidence yet: 0 ended trials" in explain_trial(store, "waiting", 0)["line"]


def _children() -> set[int]:
    """This process's live child processes, from /proc (the re-scoring worker is a ``subprocess.Popen`` child,
    which ``multiprocessing.active_children()`` does not list)."""
    me, kids = os.getpid(), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError, IndexError):
            continue                                   # the process ended while we looked
        if int(ppid) == me and state != "Z":
            kids.add(int(stat.parent.name))
    return kids


def _rescore_threads() -> set[int]:
    return {t.ident for t in threading.enumerate() if t.name == "policy-store-rescore" and t.is_alive()}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads child processes from /proc")
@pytest.mark.parametrize(("option", "says"), [("backtest", "the study's COMPLETE curves as its context"),
                                              ("min_trial", "unknown adapt option 'min_trial'; known: [")])
def test_an_unknown_or_removed_adapt_option_is_refused_before_anything_starts(store_path, model, option, says):
    """``backtest`` (documented before the forecaster took the study's curves as context) and a misspelt option
    are typed errors naming the option; no worker thread or process is started and the store is as it was."""
    from policy_store.errors import InvalidInputError
    from policy_store.integrations.adaptation import LiveAdaptation

    kids, threads = _children(), _rescore_threads()
    with PolicyStore(store_path, read_only=True) as store:
        versions = store.fetch_dicts("SELECT * FROM rule_versions ORDER BY rule, version")
    with pytest.raises(InvalidInputError) as caught:
        _pruner(store_path, model, background="process", **{option: False})
    assert caught.value.field == f"adapt.{option}" and says in str(caught.value)
    with pytest.raises(InvalidInputError) as direct:
        LiveAdaptation(None, {"background": "process", option: False})
    assert str(direct.value) == str(caught.value)
    assert _rescore_threads() == threads and _children() == kids
    with PolicyStore(store_path, read_only=True) as store:
        assert store.fetch_dicts("SELECT * FROM rule_versions ORDER BY rule, version") == versions


def test_ended_trials_carry_the_pruned_ones_and_the_audit_checks():
    from optuna.trial import TrialState, create_trial

    from policy_store.integrations.adaptation import ended_trials

    trials = [create_trial(value=0.3, intermediate_values={0: 0.9, 2: 0.5, 4: 0.3}),
              create_trial(state=TrialState.PRUNED, intermediate_values={0: 1.2, 2: 1.1}),
              create_trial(value=0.2, intermediate_values={0: 1.0, 2: 0.8, 4: 0.2})]
    for n, t in enumerate(trials):
        t.number = n
    ended = ended_trials(trials, "s", "minimize", shadow={2: 2})
    assert (ended.n_completed, ended.n_pruned, ended.n_checks, ended.budget) == (2, 1, 1, 3)
    assert ended.shadow.tolist() == [-1, -1, 1] and ended.pruned.tolist() == [False, True, False]


class _Seeing:
    """The shipped learned forecaster, keeping the context of every call (its forecasts are its own)."""

    def __init__(self) -> None:
        from policy_store.meta.forecast import load_forecaster

        self.forecaster = load_forecaster()
        self.name = self.forecaster.name
        self.contexts: list[np.ndarray] = []

    def quantiles(self, values, seen, n_steps, maximize, levels=(0.1, 0.5, 0.9), *, context=None):
        self.contexts.append(np.array(context))
        return self.forecaster.quantiles(values, seen, n_steps, maximize, levels, context=context)


def test_the_cut_trials_are_forecast_with_the_forecast_rules_own_context():
    """A complete trial that first reported at step 2 (and one with a NaN report) enter the adaptation's context as
    the forecast rule packs them live (finite reports moved left, never filled in), so the learned forecaster,
    whose calibration counts the complete rows, forecasts the cut trial as the rule would."""
    from optuna.trial import TrialState, create_trial
    from policy_store.meta.adaptation.evidence import LEVELS, continue_pruned

    from policy_store.integrations.adaptation import ended_trials
    from policy_store.rules.strategies.forecast import optuna_inputs

    full = [[0.9, 0.7, 0.6, 0.5], [0.8, 0.65, 0.55, 0.5], [1.0, 0.8, 0.7, 0.62], [0.85, 0.6, 0.5, 0.45],
            [0.95, 0.75, 0.66, 0.6]]
    reports = [dict(enumerate(v)) for v in full] + [{2: 0.6, 3: 0.9}, {0: 0.7, 1: float("nan"), 2: 0.5, 3: 0.4}]
    trials = [create_trial(value=r[3], intermediate_values=r) for r in reports]
    trials.append(create_trial(state=TrialState.PRUNED, intermediate_values={0: 0.92, 1: 0.8}))
    study = optuna.create_study(direction="minimize")
    for t in trials:
        study.add_trial(t)
    cut = study.get_trials(deepcopy=False)[-1]
    rule_context = optuna_inputs(study, cut)[2].context
    assert rule_context[5].tolist()[:2] == [0.6, 0.9] and np.isnan(rule_context[5, 2:]).all()

    ended = ended_trials(study.get_trials(deepcopy=False), "s", "minimize")
    seeing = _Seeing()
    cont = continue_pruned(ended, seeing, rank=False)
    assert len(seeing.contexts) == 1
    np.testing.assert_array_equal(seeing.contexts[0], rule_context)
    forecaster = seeing.forecaster
    expected = forecaster.quantiles(np.array([[0.92, 0.8]]), np.array([2]), ended.budget, False, LEVELS,
                                    context=rule_context)
    np.testing.assert_array_equal(cont.quantiles[-1], expected[0])
    # the context matters: filling the late trial in as a complete curve (what the adaptation did) moves the forecast
    filled = rule_context.copy()
    filled[5] = [0.6, 0.6, 0.6, 0.9]
    filled[6] = [0.7, 0.7, 0.5, 0.4]
    moved = forecaster.quantiles(np.array([[0.92, 0.8]]), np.array([2]), ended.budget, False, LEVELS, context=filled)
    assert not np.array_equal(moved, expected)
