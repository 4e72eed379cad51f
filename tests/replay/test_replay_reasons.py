"""Each prune carries its reason: the value, the threshold it failed and the reference-set size."""

from __future__ import annotations

import numpy as np

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
