"""The rule version ``StorePruner(recommend=True)`` applies: the meta-learner's recommendation, saved.

:func:`recommended_version` asks :func:`policy_store.meta.recommend` for the
task's rule, with what the store knows about the task -- its stored
meta-features, its first recorded studies' curves (at most
:data:`MAX_STUDIES`) and its direction -- plus anything the caller adds
(a dataset, more meta-features, the trade-off). The recommendation is recorded
by the meta-learner and saved as the next version of rule
``recommended-<task>`` (source ``meta-learner``; unchanged when the spec is the
same as the latest), so every live decision names a stored, immutable rule
version and its provenance. A store without a meta-model gets the meta-learner's
documented cold-start rule.

:func:`recommended_start` does the same and also returns what within-study
adaptation starts from (:class:`policy_store.meta.adaptation.selector.Prior`): every grid
candidate's expected outcome under the same model, the recommended one first
in force (an uninformative prior over the grid at a cold start).

>>> import pandas as pd
>>> from policy_store import PolicyStore
>>> from policy_store.ingest import ingest_frame
>>> frame = pd.DataFrame({"task": "iris/sgd", "study": "s", "trial": [0, 0, 1, 1], "step": [0, 1] * 2,
...                       "value": [0.6, 0.8, 0.5, 0.55], "direction": "maximize"})
>>> with PolicyStore.memory() as store:
...     _ = ingest_frame(store, frame)
...     v = recommended_version(store, "iris/sgd")
...     v.ref, v.source, v.spec.strategy
('recommended-iris-sgd@1', 'meta-learner', 'successive_halving')
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from policy_store.errors import InvalidInputError
from policy_store.rules.versions import RuleVersion
from policy_store.store import PolicyStore

if TYPE_CHECKING:
    from policy_store.meta.adaptation.selector import Prior

MAX_STUDIES = 5
"""How many of the task's recorded studies (oldest first) inform the recommendation."""


def rule_name(task: str) -> str:
    """The rule that holds a task's recommended versions.

    >>> rule_name("openml/31 sgd")
    'recommended-openml-31-sgd'
    """
    return "recommended-" + re.sub(r"[^A-Za-z0-9_.:\-]+", "-", task)[:88]


def recommended_version(store: PolicyStore, task: str, **recommend_with: Any) -> RuleVersion:
    """Recommend a rule for ``task`` and save it as a rule version (see the module docstring).

    Parameters
    ----------
    store:
        The store, open for writing.
    task:
        The task the study runs on.
    **recommend_with:
        Extra arguments of :func:`policy_store.meta.recommend` (``dataset``/``target``,
        ``meta_features`` -- merged over the stored ones --, ``direction`` when the
        task is not in the store, ``lam``, ``max_regret``, ...).

    Raises
    ------
    InvalidInputError
        Nothing is known about the task: no stored meta-features or curves and none given.
    """
    return recommended_start(store, task, **recommend_with)[0]


def recommended_start(store: PolicyStore, task: str, **recommend_with: Any) -> tuple[RuleVersion, Prior]:
    """:func:`recommended_version`, and the :class:`~policy_store.meta.adaptation.Prior` adaptation starts from.

    >>> import pandas as pd
    >>> from policy_store import PolicyStore
    >>> from policy_store.ingest import ingest_frame
    >>> frame = pd.DataFrame({"task": "iris/sgd", "study": "s", "trial": [0, 0, 1, 1], "step": [0, 1] * 2,
    ...                       "value": [0.6, 0.8, 0.5, 0.55], "direction": "maximize"})
    >>> with PolicyStore.memory() as store:
    ...     _ = ingest_frame(store, frame)
    ...     v, prior = recommended_start(store, "iris/sgd")
    ...     prior.names[prior.start], prior.specs[prior.start] == v.spec, len(prior.names)
    ('sha-eta2-min4', True, 54)
    """
    from policy_store.curves import load_curves
    from policy_store.meta import recommend, save_recommendation
    from policy_store.meta.adaptation.selector import start_prior
    from policy_store.meta.features.store import load_meta_features
    from policy_store.meta.learner.artifacts import latest_model_id, load_artifact

    def unit(s: PolicyStore) -> tuple[RuleVersion, Prior]:
        # Everything the recommendation rests on is read here, so a re-run after a commit conflict (another
        # host saving this task's rule at the same moment) recommends from what it then commits with.
        given = dict(recommend_with)
        row = s.fetch_dicts("SELECT direction FROM tasks WHERE task = ?", [task])
        if row:
            given.setdefault("direction", row[0]["direction"])
        stored = load_meta_features(s, [task])
        features = {} if task not in stored.index else {k: float(v) for k, v in stored.loc[task].items() if v == v}
        features.update(given.pop("meta_features", None) or {})
        studies = [r["study"] for r in s.fetch_dicts(
            "SELECT study FROM studies WHERE task = ? ORDER BY ingested_at, study LIMIT ?", [task, MAX_STUDIES])]
        curves = load_curves(s, studies=studies) if studies else []
        if not features and not curves and given.get("dataset") is None:
            raise InvalidInputError(
                f"the store knows nothing about task {task!r} (no meta-features, no studies); pass "
                "recommend_with={'dataset': ..., 'target': ...} or {'meta_features': {...}, 'direction': ...}",
                field="task")
        model_id = given.pop("model_id", None) or latest_model_id(s)
        model = given.pop("model", None) or (load_artifact(s, model_id) if model_id is not None else None)
        rec = recommend(s, meta_features=features or None, curves=curves, task=task, model=model,
                        model_id=model_id, **given)
        prior = start_prior(model, given.get("direction", "maximize"), rec, curves=curves)
        return save_recommendation(s, rec, rule_name(task)), prior  # fenced: see add_rule_version

    return store.run_atomic(unit)
