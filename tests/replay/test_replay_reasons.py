"""Each prune carries its reason: the value, the threshold it failed and the reference-set size."""

from __future__ import annotations

import numpy as np
import pytest

from policy_store.replay import replay_study
from policy_store.rules import RuleSpec


def test_median_and_sh_reasons_explain_the_prune(lcdb):
    c = lcdb[2]
    med, sh = replay_study(c, [RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 2}}),
                               RuleSpec.parse({"strategy": "successive_halving",
                                               "params": {"min_resource": 1, "reduction_factor": 2}})], [1])
    for r in (med, sh):
        d = r.decisions()
        pruned = d[d["verdict"] == "prune"]
        assert len(pruned) > 0 and (pruned["ref_size"] >= 1).all()
        assert (d.loc[d["verdict"] == "continue", "ref_size"] == 0).all()
    # maximize: the median prunes when the trial's best so far is below the reference percentile
    d = med.decisions()
    for _, row in d[d["verdict"] == "prune"].iterrows():
        i = int(np.flatnonzero(c.trials == row["trial"])[0])
        cols = np.flatnonzero(c.present[i] & (c.steps <= row["step"]))
        assert np.nanmax(c.values[i, cols]) < row["threshold"]
    # successive halving: the rung value is below the promotion cut-off
    d = sh.decisions()
    p = d[d["verdict"] == "prune"]
    assert (p["value"] < p["threshold"]).all()


def test_audited_trials_report_their_shadow_prune(lcdb):
    spec = RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 1},
                           "safeguards": {"audit_fraction": 0.5, "audit_seed": 1}})
    (r,) = replay_study(lcdb[0], [spec], [0])
    d = r.decisions()
    shadow = d[d["reason"].str.startswith("audit:")]
    assert len(shadow) > 0 and (shadow["verdict"] == "continue").all()
    assert not r.pruned[r.audited].any()


def _optuna_sh_reasons(c, spec, order) -> tuple[np.ndarray, np.ndarray]:
    """Cut-off and competing-set size at each prune, read from Optuna's own rung attributes."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction=c.direction, pruner=spec.to_optuna())
    eta = spec.params["reduction_factor"]
    thr, size = np.full(len(order), np.nan), np.zeros(len(order), dtype=np.int64)
    for pos, i in enumerate(order):
        trial = study.ask()
        cols = np.flatnonzero(c.present[i])
        for j in cols:
            trial.report(float(c.values[i, j]), int(c.steps[j]))
            if trial.should_prune():
                attrs = study._storage.get_trial(trial._trial_id).system_attrs
                key = max((k for k in attrs if k.startswith("completed_rung_")), key=lambda k: int(k.split("_")[-1]))
                comp = sorted(t.system_attrs[key] for t in study.get_trials() if key in t.system_attrs)
                idx = max(len(comp) // eta - 1, 0)
                thr[pos], size[pos] = (comp[-idx - 1] if c.direction == "maximize" else comp[idx]), len(comp)
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, float(c.values[i, cols[-1]]))
    return thr, size


@pytest.mark.parametrize("jit", ["1", "0"])
def test_sh_reasons_equal_optunas_rung_cutoff(lcdb, monkeypatch, jit):
    # both kernels: the numpy one once read the competing-set size after its own rung writes
    monkeypatch.setenv("POLICY_STORE_REPLAY_JIT", jit)  # "1": compiled, readied by conftest
    for params in ({}, {"min_resource": 1, "reduction_factor": 2}):
        spec = RuleSpec.parse({"strategy": "successive_halving", "params": params})
        for r in replay_study(lcdb[0], [spec], [0, 3]):
            thr, size = _optuna_sh_reasons(lcdb[0], spec, r.order)
            np.testing.assert_array_equal(r.threshold, thr)
            np.testing.assert_array_equal(r.ref_size, size)
