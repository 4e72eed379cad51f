"""The same replay through Optuna itself (ask/tell), for parity tests and benchmarks.

Each trial is asked, reports its steps in order, calls ``should_prune()`` after
each report and is told PRUNED at the first "prune"; otherwise it is told its
final value (a NaN final value makes Optuna fail the trial).

>>> from policy_store.curves import StudyCurves
>>> from policy_store.rules import RuleSpec
>>> c = StudyCurves.from_arrays("s", [[1.0, 0.9], [1.2, 1.1], [0.5, 0.4]])
>>> optuna_prune_cols(c, RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 1}}),
...                   [0, 1, 2]).tolist()
[-1, 0, -1]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from policy_store.curves import StudyCurves
from policy_store.rules.spec import RuleSpec


def optuna_prune_cols(curves: StudyCurves, spec: RuleSpec, order: Sequence[int], *,
                      study_name: str | None = None) -> np.ndarray:
    """Column where Optuna pruned each trial (by entry position), -1 if never.

    For audited trials (``audit_fraction``) the shadow prune column is returned.
    """
    return pruner_prune_cols(curves, spec.to_optuna(), order, study_name=study_name)


def pruner_prune_cols(curves: StudyCurves, pruner: Any, order: Sequence[int], *,
                      study_name: str | None = None) -> np.ndarray:
    """:func:`optuna_prune_cols` with any Optuna pruner (e.g. a ``StorePruner``) deciding."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(study_name=study_name or curves.study, direction=curves.direction,
                                pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    out = np.full(len(order), -1, dtype=np.int64)
    steps = curves.steps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for pos, i in enumerate(order):
            trial = study.ask()
            cols = np.flatnonzero(curves.present[i])
            for j in cols:
                trial.report(float(curves.values[i, j]), step=int(steps[j]))
                if trial.should_prune():
                    out[pos] = j
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    break
            else:
                study.tell(trial, float(curves.values[i, cols[-1]]))
    shadow = getattr(pruner, "shadow_pruned", None)
    if shadow:
        for number, step in shadow.items():
            out[number] = int(np.searchsorted(steps, step))
    return out
