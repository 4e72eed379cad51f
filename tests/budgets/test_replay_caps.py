"""Budgets in replay: specs sharing per-trial caps get them worked out once per study, with the same decisions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from policy_store.curves import StudyCurves
from policy_store.replay import budgets
from policy_store.replay.engine import replay_many
from policy_store.rules import RuleSpec

CAPS = {"trial_memory_mb": 260.0, "trial_max_seconds": 6.0}
SPECS = [RuleSpec.parse(s) for s in (
    {"strategy": "median", "safeguards": CAPS},
    {"strategy": "percentile", "params": {"percentile": 30.0}, "safeguards": CAPS},
    {"strategy": "successive_halving", "params": {"min_resource": 1}, "safeguards": {**CAPS, "audit_fraction": 0.3}},
    {"strategy": "median", "safeguards": {**CAPS, "study_budget_seconds": 60.0}},
    {"strategy": "median", "safeguards": {"trial_max_steps": 4}},
    {"strategy": "median", "safeguards": {"trial_max_steps": 4, "study_budget_seconds": 50.0}},
    {"strategy": "percentile", "params": {"percentile": 40.0}, "safeguards": {"study_budget_seconds": 55.0}},
    {"strategy": "median"},
)]


def _study(seed: int) -> StudyCurves:
    rng = np.random.default_rng(seed)
    n, j = 18, 8
    k = np.arange(j)[None, :]
    final = rng.uniform(0.3, 1.0, (n, 1))
    values = final + (1.6 - final) * np.exp(-rng.uniform(0.1, 0.8, (n, 1)) * k) + rng.normal(0, 0.02, (n, j))
    memory = rng.uniform(150, 250, (n, 1)) + 8 * k
    return StudyCurves.from_arrays(f"s{seed}", values, cost=rng.uniform(0.4, 1.4, (n, j)), memory=memory)


def test_specs_sharing_caps_replay_as_each_alone_with_the_caps_worked_out_once_per_key(monkeypatch):
    studies = [_study(seed) for seed in range(3)]
    orders = [0, 1]
    calls = []

    def counted(c, budget):
        calls.append((c.study, budget))
        return trial_caps(c, budget)

    trial_caps = budgets.trial_caps
    monkeypatch.setattr(budgets, "trial_caps", counted)
    together = replay_many(studies, SPECS, orders)
    keys = {budgets.cap_key(s) for s in SPECS if s.budget}
    assert len(calls) == len(studies) * len(keys) == 9, "once per study and cap key, not once per spec"
    monkeypatch.undo()

    capped = stopped = 0
    for si, spec in enumerate(SPECS):
        alone = replay_many(studies, [spec], orders)
        for c_together, c_alone in zip(together, alone, strict=True):
            for r, a in zip(c_together[si * len(orders):(si + 1) * len(orders)], c_alone, strict=True):
                pd.testing.assert_frame_equal(r.decisions(), a.decisions())
                assert (r.n_started, r.stop_note) == (a.n_started, a.stop_note)
                capped += int(r.capped.sum())
                stopped += r.n_started is not None
    assert capped and stopped, "the caps and the study budgets decide in this test"
