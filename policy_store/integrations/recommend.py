"""The rule version ``StorePruner(recommend=True)`` applies: the best one recorded for the task.

Until the meta-learner's recommendation API (:mod:`policy_store.meta`) lands,
the choice is read from the ``outcomes`` table: among active rule versions with
outcomes on ``task`` (or, when the task has none, on any task), keep those whose
killed-best rate is at most ``max_killed_best`` (all of them if none is), then
take the highest mean compute saved; ties go to the lower mean regret, then to
the newer version.

>>> import pandas as pd
>>> from policy_store import PolicyStore
>>> from policy_store.ingest import ingest_frame
>>> from policy_store.replay import evaluate
>>> from policy_store.rules import add_rule_version
>>> frame = pd.DataFrame({"task": "t", "study": "s", "trial": [0, 0, 1, 1, 2, 2],
...                       "step": [0, 1] * 3, "value": [1.0, 0.9, 1.2, 1.1, 0.5, 0.4]})
>>> with PolicyStore.memory() as store:
...     _ = ingest_frame(store, frame)
...     _ = add_rule_version(store, "eager", {"strategy": "median", "params": {"n_startup_trials": 1}},
...                          created_by="doc")
...     _ = add_rule_version(store, "lazy", {"strategy": "median", "params": {"n_startup_trials": 9}},
...                          created_by="doc")
...     _ = evaluate(store, ["eager", "lazy"], orders=1)
...     recommended_version(store, "t").ref
'eager@1'
"""

from __future__ import annotations

from policy_store.errors import NotFoundError
from policy_store.rules.versions import RuleVersion, get_rule_version
from policy_store.store import PolicyStore

_QUERY = """
SELECT o.rule, o.version
FROM outcomes o JOIN rule_versions v ON v.rule = o.rule AND v.version = o.version AND v.status = 'active'
WHERE (? IS NULL OR o.task = ?)
GROUP BY o.rule, o.version
ORDER BY (avg(o.killed_best::DOUBLE) <= ?) DESC, avg(o.compute_saved) DESC NULLS LAST,
         avg(o.regret) ASC NULLS LAST, o.version DESC, o.rule
LIMIT 1
"""


def recommended_version(store: PolicyStore, task: str, *, max_killed_best: float = 0.1) -> RuleVersion:
    """The rule version to apply on ``task`` (see the module docstring).

    Raises
    ------
    NotFoundError
        No outcome is recorded for any rule version.
    """
    for scope in (task, None):
        rows = store.fetch_dicts(_QUERY, [scope, scope, max_killed_best])
        if rows:
            return get_rule_version(store, rows[0]["rule"], rows[0]["version"])
    raise NotFoundError("no rule version has recorded outcomes to recommend from; evaluate rules first "
                        "(policy_store.replay.evaluate) or pass rule='name@version'")
