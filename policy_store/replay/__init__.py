"""The vectorised replay engine: rule versions over recorded studies.

>>> from policy_store.curves import StudyCurves
>>> from policy_store.rules import RuleSpec
>>> c = StudyCurves.from_arrays("s", [[1.0, 0.9], [1.2, 1.1], [0.5, 0.4]])
>>> replay_study(c, [RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 1}})])[0].pruned.tolist()
[False, True, False]
"""

from policy_store.replay.engine import Replay, replay_many, replay_study, trial_order
from policy_store.replay.evaluate import (
    Evaluation,
    evaluate,
    lib_versions,
    outcome_columns,
    replay_outcomes,
    summarize,
    summary_rows,
    write_outcomes,
)
from policy_store.replay.outcomes import OUTCOME_FIELDS, RESOURCE_FIELDS, outcome_arrays
from policy_store.replay.parity import optuna_prune_cols

__all__ = [
    "OUTCOME_FIELDS",
    "RESOURCE_FIELDS",
    "Evaluation",
    "Replay",
    "evaluate",
    "lib_versions",
    "optuna_prune_cols",
    "outcome_arrays",
    "outcome_columns",
    "replay_many",
    "replay_outcomes",
    "replay_study",
    "summarize",
    "summary_rows",
    "trial_order",
    "write_outcomes",
]
