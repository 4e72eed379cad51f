"""The per-study cycle: ingest a finished study, record the rules' outcomes, run the monitors.

One call, one process, for a post-study hook or a cron line: the study file is
ingested (:func:`~policy_store.ingest.ingest_file`), every rule in use (the
current version of each rule with recorded outcomes whose spec admits the
study's direction, or the rules named) is replayed on it and its outcomes recorded, and the rules' scheduled
monitors (:func:`~policy_store.drift.recalibration.scheduled_monitors`) run and
record any drift event for the next ``recalibrate`` job to act on. Running the
same file again changes nothing.

>>> import pandas as pd, tempfile, os
>>> from policy_store import PolicyStore
>>> from policy_store.rules import add_rule_version
>>> path = os.path.join(tempfile.mkdtemp(), "s1.csv")
>>> pd.DataFrame({"task": "t", "study": "s1", "trial": [0, 0, 1, 1, 2, 2], "step": [0, 1] * 3,
...               "value": [1.0, 0.9, 1.2, 1.1, 0.5, 0.4], "direction": "minimize"}).to_csv(path, index=False)
>>> with PolicyStore.memory() as store:
...     _ = add_rule_version(store, "m", {"strategy": "median", "params": {"n_startup_trials": 1}}, created_by="doc")
...     result = run_cycle(store, path, rules=["m"])
...     result.studies, [(c.rule, c.status, c.needed) for c in result.checks][:1]
(['s1'], [('m', 'warming up', 20)])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from policy_store.drift.monitor import CheckResult
from policy_store.drift.recalibration import DEFAULT_ARL, DEFAULT_MONITORS, scheduled_monitors

from policy_store.errors import NotFoundError
from policy_store.ingest import ingest_file
from policy_store.replay import evaluate
from policy_store.rules import RuleVersion, get_rule_version
from policy_store.store import PolicyStore


@dataclass
class CycleResult:
    """What one cycle did: studies ingested, rule versions evaluated, monitor results."""

    studies: list[str]
    ingest: str
    rules: list[str] = field(default_factory=list)
    outcomes_written: int = 0
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def drift(self) -> list[CheckResult]:
        """The checks that detected drift."""
        return [c for c in self.checks if c.status == "drift"]

    def to_dict(self) -> dict[str, Any]:
        return {"studies": self.studies, "ingest": self.ingest, "rules": self.rules,
                "outcomes_written": self.outcomes_written, "checks": [c.to_dict() for c in self.checks]}  # fmt: skip


def watching_rules(store: PolicyStore, studies: Sequence[str]) -> list[RuleVersion]:
    """The current version of every rule with recorded outcomes whose spec admits the studies' directions."""
    names = store.execute("SELECT DISTINCT rule FROM outcomes WHERE rule IS NOT NULL ORDER BY rule").fetchall()
    directions = {d for (d,) in store.execute(
        "SELECT DISTINCT k.direction FROM studies s JOIN tasks k ON k.task = s.task WHERE list_contains(?, s.study)",
        [list(studies)]).fetchall()}  # fmt: skip
    out = []
    for (name,) in names:
        try:
            version = get_rule_version(store, name)
        except NotFoundError:
            continue  # a rule with outcomes but no active version: nothing to watch
        if version.spec.direction in (None, *directions) and (version.spec.direction is None or len(directions) == 1):
            out.append(version)
    return out


def run_cycle(
    store: PolicyStore,
    path: str | os.PathLike[str],
    *,
    rules: Sequence[str] | None = None,
    orders: int = 5,
    replace: bool = False,
    arl: float = DEFAULT_ARL,
) -> CycleResult:
    """Ingest ``path``, evaluate the watching (or named) rules on its studies, run their monitors.

    Parameters
    ----------
    store:
        An open, writable store.
    path:
        A long-format CSV or Parquet file of finished studies.
    rules:
        Rule references (``name`` or ``name@N``) to evaluate; default: the rules in use (:func:`watching_rules`).
    orders:
        Replay trial orders per study (their mean is the study's one observation).
    replace:
        Replace a study whose id exists with different content.
    arl:
        Target studies per false alarm of each rule's monitors together.

    Raises
    ------
    NotFoundError
        A named rule does not exist.
    InvalidInputError
        The file is not valid long format (nothing is written).
    DirectionMismatchError
        A named rule declares the other direction than the study (nothing is written).
    """
    named = [get_rule_version(store, r) for r in rules] if rules else None

    def unit(s: PolicyStore) -> CycleResult:
        # One transaction: a study whose outcomes cannot be recorded (a rule of the other direction) is not kept.
        report = ingest_file(s, path, replace=replace)
        studies = sorted({*report.added, *report.replaced, *report.unchanged})
        versions = named if named is not None else watching_rules(s, studies)
        result = CycleResult(studies, report.summary(), [v.ref for v in versions])
        if not versions or not studies:
            return result
        result.outcomes_written = evaluate(s, versions, studies=studies, orders=orders).inserted
        for v in versions:
            for monitor in scheduled_monitors(v.rule, v.version, DEFAULT_MONITORS, arl):
                result.checks.append(monitor.check(s))
        return result

    return store.run_atomic(unit)
