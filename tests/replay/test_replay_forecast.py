"""The ``forecast`` rule: the replay kernel and the live pruner decide alike, on the shipped forecaster."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_store.meta.forecast.calibration import MIN_CURVES

from policy_store.curves import StudyCurves
from policy_store.integrations import StorePruner
from policy_store.replay import optuna_prune_cols, replay_study
from policy_store.replay.parity import pruner_prune_cols
from policy_store.rules import RuleSpec, add_rule_version
from policy_store.rules.strategies.forecast import (
    BUDGET,
    LOOK,
    STARTUP,
    UNCALIBRATED,
    StudyState,
    decide,
    prob_beats,
)


def _study(direction: str, seed: int, n: int = 24, j: int = 12) -> StudyCurves:
    rng = np.random.default_rng(seed)
    final = rng.uniform(0.3, 1.0, (n, 1))
    k = np.arange(j)[None, :]
    loss = final + (1.6 - final) * np.exp(-rng.uniform(0.1, 0.8, (n, 1)) * k) + rng.normal(0, 0.03, (n, j))
    values = loss if direction == "minimize" else 2.0 - loss
    present = rng.uniform(size=(n, j)) > 0.1
    present[:, 0] = True
    values[rng.uniform(size=(n, j)) < 0.03] = np.nan
    return StudyCurves.from_arrays("fc", values, present=present, direction=direction)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("alpha", [0.05, 0.3])
def test_replay_equals_optuna_and_prunes(direction, alpha):
    c = _study(direction, seed=3)
    spec = RuleSpec.parse({"strategy": "forecast", "params": {"alpha": alpha, "n_startup_trials": 2}})
    total = 0
    for seed in (0, 1):
        (r,) = replay_study(c, [spec], order_seeds=[seed])
        np.testing.assert_array_equal(r.prune_col, optuna_prune_cols(c, spec, r.order, study_name="fc"))
        total += int((r.prune_col >= 0).sum())
    assert total > 0                                    # the rule acts on these curves


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.sampled_from(["minimize", "maximize"]), st.sampled_from([0.02, 0.2, 0.5]),
       st.integers(0, 4), st.sampled_from([1, 3]), st.booleans())
def test_parity_on_random_studies(seed, direction, alpha, warmup, startup, calibrated_only):
    c = _study(direction, seed, n=10, j=8)
    spec = RuleSpec.parse({"strategy": "forecast",
                           "params": {"alpha": alpha, "n_warmup_steps": warmup, "n_startup_trials": startup,
                                      "calibrated_only": calibrated_only}})
    (r,) = replay_study(c, [spec], order_seeds=[seed % 3])
    np.testing.assert_array_equal(r.prune_col, optuna_prune_cols(c, spec, r.order, study_name="fc"))


@pytest.mark.parametrize("calibrated_only", [True, False])
def test_live_store_pruner_matches_replay(store, calibrated_only):
    c = _study("minimize", seed=7, n=24)
    body = {"strategy": "forecast", "params": {"alpha": 0.2, "calibrated_only": calibrated_only}}
    add_rule_version(store, "fc", body, created_by="test")
    (r,) = replay_study(c, [RuleSpec.parse(body)], order_seeds=[0])
    live = pruner_prune_cols(c, StorePruner(store, rule="fc"), r.order, study_name="fc")
    np.testing.assert_array_equal(live, r.prune_col)
    assert (r.prune_col >= 0).sum() > 0                 # the rule acts on these curves


def test_prob_beats_is_a_probability_and_monotone_in_the_incumbent():
    q = np.sort(np.random.default_rng(0).normal(size=(1, 7)), axis=1)
    incumbents = np.linspace(-6, 6, 200)
    p = prob_beats(np.repeat(q, 200, axis=0), incumbents)
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p) <= 0) and p[0] > 0.99 and p[-1] < 0.01
    point = prob_beats(np.zeros((2, 7)), np.array([-1.0, 1.0]))   # a point mass at 0
    assert point.tolist() == [1.0, 0.0]


def test_decide_never_prunes_before_an_incumbent_or_at_the_budget():
    params = {"alpha": 0.9, "n_startup_trials": 1, "n_warmup_steps": 0, "calibrated_only": False}
    prefix = np.array([0.3, 0.31, 0.32])
    assert decide(prefix, 2, StudyState(0.99, 0, 10), params, True) == (False, pytest.approx(np.nan, nan_ok=True),
                                                                         STARTUP)
    assert decide(prefix, 2, StudyState(0.99, 2, 3), params, True)[::2] == (False, BUDGET)  # the budget is reached
    assert decide(prefix, 2, StudyState(0.99, 2, 10), params, True)[::2] == (True, LOOK)


def test_decide_reads_the_complete_trials_as_the_studys_context():
    """The same prefix and incumbent: P rises when the COMPLETE trials rose far after this step, and falls
    when they stayed where they were."""
    params = {"alpha": 0.05, "n_startup_trials": 1, "n_warmup_steps": 0, "calibrated_only": False}
    k = np.arange(20, dtype=float)
    prefix = 0.6 + 0.05 * (1 - np.exp(-k[:5] / 2))
    late_risers = np.vstack([0.55 + d + 0.35 * (1 - np.exp(-k / 10)) for d in (0.0, 0.03, 0.06)])
    settled = np.vstack([0.6 + d + 0.05 * (1 - np.exp(-k / 2)) for d in (0.0, 0.03, 0.08)])
    rose = decide(prefix, 4, StudyState(0.72, 3, 20, late_risers), params, True).prob
    stayed = decide(prefix, 4, StudyState(0.72, 3, 20, settled), params, True).prob
    assert rose > stayed + 0.1, (rose, stayed)


def test_calibrated_only_waits_for_the_curves_the_forecaster_calibrates_on():
    """By default the rule does not prune on the forecast until MIN_CURVES COMPLETE curves reach the budget (the
    forecaster then calibrates on the study); without the gate the same rule prunes earlier on these studies."""
    params = {"alpha": 0.9, "n_startup_trials": 1, "n_warmup_steps": 0, "calibrated_only": True}
    prefix = np.array([0.3, 0.31, 0.32])
    k = np.arange(10, dtype=float)
    full = np.vstack([0.9 + 0.01 * d - 0.5 * np.exp(-k / 2) for d in range(MIN_CURVES)])
    short = full.copy()
    short[-1, -1] = np.nan                         # a COMPLETE trial that did not report at the last step
    assert decide(prefix, 2, StudyState(0.99, MIN_CURVES, 10, short), params, True)[::2] == (False, UNCALIBRATED)
    assert decide(prefix, 2, StudyState(0.99, MIN_CURVES, 10, full), params, True)[::2] == (True, LOOK)
    assert decide(prefix, 2, StudyState(0.99, MIN_CURVES, 3, full[:, :3]), params, True)[::2] == (False, BUDGET)

    first, first_ungated = [], []
    for seed in range(4):
        c = _study("maximize", seed=seed, n=16)
        gated, ungated = (RuleSpec.parse({"strategy": "forecast", "params": {"alpha": 0.3, "calibrated_only": on}})
                          for on in (True, False))
        r, u = replay_study(c, [gated, ungated], order_seeds=[seed])
        # walk the replay (arrays by entry position): a trial may only be pruned once MIN_CURVES COMPLETE trials
        # reach the budget (the most finite reports of a COMPLETE trial); one that skipped a report does not
        reports = (c.present & np.isfinite(c.values)).sum(axis=1)
        done: list[int] = []
        for pos, trial in enumerate(r.order):
            reaching = sum(reports[done] >= reports[done].max()) if done else 0
            if r.prune_col[pos] >= 0:
                assert reaching >= MIN_CURVES, (seed, pos, reaching)
            else:
                done.append(trial)
        first.append(np.flatnonzero(r.prune_col >= 0)[0])          # the gated rule prunes in every study ...
        first_ungated.append(np.flatnonzero(u.prune_col >= 0)[0])
    assert min(first_ungated) < MIN_CURVES <= min(first)       # ... later: ungated, a prune comes earlier


def test_live_reason_says_the_forecaster_cannot_calibrate_yet(store):
    import optuna

    from policy_store.integrations.deciders.forecast import ForecastDecider

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for final in (0.9, 0.92):
        t = study.ask()
        for s, v in enumerate([0.5, 0.7, final]):
            t.report(v, s)
        study.tell(t, final)
    t = study.ask()
    t.report(0.1, 0)
    d = ForecastDecider(RuleSpec.parse({"strategy": "forecast", "params": {"alpha": 0.99}}).params)
    verdict, reason = d.decide(study, study._storage.get_trial(t._trial_id), False)
    assert not verdict and reason.text.startswith("not forecast yet: 2 COMPLETE trials reach the budget (3 reports)")
    assert f"from {MIN_CURVES}" in reason.text
