"""Immutable rule versions with their provenance chain, in the store.

Versions are numbered 1, 2, ... per rule and never change once written. Each
records its parent version, who or what made it (``created_by``), the kind of
source (``manual``, ``meta-learner``, ``recalibration``), a reason, and links to
the meta-model, drift event or job behind it. Adding a spec identical to the
current version is a no-op that returns the existing version.

A version is ``active`` or ``rejected``: a recalibration job records a re-tuned
candidate that lost to the current version as a ``rejected`` version, with the
same provenance as a promoted one. Rejected versions keep their number in the
history (:func:`rule_history` lists them, marked), but never become the rule's
*current* version: ``name`` without ``@N`` resolves to the newest active
version, which is also the default parent of the next one.

On a DuckLake shared by many hosts, :func:`add_rule_version` is one fenced unit
of work (:meth:`PolicyStore.run_atomic <policy_store.store.PolicyStore.run_atomic>`):
two hosts adding a version of one rule at once cannot both take the same number;
the later commit is re-run and sees the earlier one's version.

Examples
--------
>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     a = add_rule_version(store, "r", {"strategy": "median"}, created_by="ann")
...     b = add_rule_version(store, "r", {"strategy": "median"}, created_by="bob")
...     c = add_rule_version(store, "r", {"strategy": "median", "params": {"n_startup_trials": 3}},
...                          created_by="job", source="recalibration", reason="drift")
...     d = add_rule_version(store, "r", {"strategy": "median", "params": {"n_startup_trials": 9}},
...                          created_by="job", source="recalibration", status="rejected")
...     [(v.version, v.parent_version, v.status) for v in rule_history(store, "r")], b.version
...     get_rule_version(store, "r").ref, get_rule_version(store, "r@3").status
([(1, None, 'active'), (2, 1, 'active'), (3, 2, 'rejected')], 1)
('r@2', 'rejected')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from policy_store.choices import SOURCES, STATUSES
from policy_store.errors import InvalidInputError, NotFoundError
from policy_store.rules.spec import RuleSpec
from policy_store.store import PolicyStore, utcnow

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$")
_COLUMNS = ("rule, version, spec, spec_hash, parent_version, created_by, source, reason, created_at, "
            "meta_model_id, drift_event_id, job_id, status")


@dataclass(frozen=True)
class RuleVersion:
    """One immutable version of a rule, with its provenance."""

    rule: str
    version: int
    spec: RuleSpec
    spec_hash: str
    parent_version: int | None
    created_by: str
    source: str
    reason: str | None
    created_at: datetime
    meta_model_id: str | None = None
    drift_event_id: str | None = None
    job_id: str | None = None
    status: str = "active"

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.rule}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the spec as an object)."""
        return {"rule": self.rule, "version": self.version, "ref": self.ref, "spec": self.spec.to_dict(),
                "spec_hash": self.spec_hash, "parent_version": self.parent_version,
                "created_by": self.created_by, "source": self.source, "reason": self.reason,
                "created_at": self.created_at, "meta_model_id": self.meta_model_id,
                "drift_event_id": self.drift_event_id, "job_id": self.job_id, "status": self.status}


def _from_row(row: dict[str, Any]) -> RuleVersion:
    return RuleVersion(
        rule=row["rule"], version=int(row["version"]), spec=RuleSpec.parse(row["spec"]),
        spec_hash=row["spec_hash"], parent_version=row["parent_version"], created_by=row["created_by"],
        source=row["source"], reason=row["reason"], created_at=row["created_at"],
        meta_model_id=row["meta_model_id"], drift_event_id=row["drift_event_id"], job_id=row["job_id"],
        status=row["status"])


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            "a rule name is 1-100 characters of letters, digits, '_', '.', ':' or '-', "
            f"starting with a letter or digit; got {name!r}", field="name")
    return name


def parse_rule_ref(ref: str) -> tuple[str, int | None]:
    """Split ``"name@3"`` into ``("name", 3)``; ``"name"`` gives ``("name", None)``.

    >>> parse_rule_ref("median-fast@2")
    ('median-fast', 2)
    """
    name, sep, version = ref.partition("@")
    _check_name(name)
    if not sep:
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise InvalidInputError(f"version must be a positive integer, got {version!r}", field="version")
    return name, int(version)


def rule_history(store: PolicyStore, name: str) -> list[RuleVersion]:
    """Every version of ``name``, oldest first, rejected ones included (see ``status``).

    :class:`NotFoundError` if there is none.
    """
    _check_name(name)
    rows = store.fetch_dicts(f"SELECT {_COLUMNS} FROM rule_versions WHERE rule = ? ORDER BY version", [name])  # noqa: S608
    if not rows:
        raise NotFoundError(f"no rule called {name!r}; see `policy-store rules list`")
    return [_from_row(r) for r in rows]


def get_rule_version(store: PolicyStore, ref: str, version: int | None = None) -> RuleVersion:
    """The version named by ``"name@N"`` (or ``name`` and ``version``); the current one when no version is given.

    The current version is the newest ``active`` one: a rejected candidate is returned only when named.
    """
    name, v = parse_rule_ref(ref)
    v = version if version is not None else v
    history = rule_history(store, name)
    if v is None:
        return _current(name, history)
    for rv in history:
        if rv.version == v:
            return rv
    raise NotFoundError(f"rule {name!r} has no version {v}; versions are 1..{history[-1].version}")


def _newest_active(history: list[RuleVersion]) -> RuleVersion | None:
    """The rule's current version: the newest active one (None if every version is rejected, or none exists)."""
    return next((rv for rv in reversed(history) if rv.status == "active"), None)


def _current(name: str, history: list[RuleVersion]) -> RuleVersion:
    current = _newest_active(history)
    if current is None:
        raise NotFoundError(f"rule {name!r} has no active version (versions 1..{history[-1].version} are all "
                            f"rejected); name one as {name}@N or add an active version")
    return current


def list_rules(store: PolicyStore) -> list[dict[str, Any]]:
    """One row per rule: current (newest active) version, its strategy and source, versions, rejected ones.

    ``n_versions`` counts every version, ``n_rejected`` the rejected candidates among them; a rule whose
    versions are all rejected has no ``latest_version`` (None).
    """
    rows = store.fetch_dicts(
        "SELECT rule, max(version) FILTER (WHERE status = 'active') AS latest_version, count(*) AS n_versions, "
        "count(*) FILTER (WHERE status = 'rejected') AS n_rejected, min(created_at) AS created_at, "
        "arg_max(spec, version) FILTER (WHERE status = 'active') AS spec, "
        "arg_max(source, version) FILTER (WHERE status = 'active') AS source "
        "FROM rule_versions GROUP BY rule ORDER BY rule")
    for r in rows:
        spec = r.pop("spec")
        r["strategy"] = RuleSpec.parse(spec).strategy if spec is not None else None
    return rows


def add_rule_version(
    store: PolicyStore,
    name: str,
    spec: RuleSpec | dict[str, Any] | str,
    *,
    created_by: str,
    source: str = "manual",
    reason: str | None = None,
    parent: int | None = None,
    meta_model_id: str | None = None,
    drift_event_id: str | None = None,
    job_id: str | None = None,
    description: str | None = None,
    status: str = "active",
) -> RuleVersion:
    """Validate ``spec`` and record it as the next version of rule ``name``.

    Parameters
    ----------
    store:
        An open store.
    name:
        Rule name (created on first use).
    spec:
        A :class:`RuleSpec`, a spec mapping or JSON text.
    created_by:
        Who or what made this version (a person, ``meta-learner:<model>``, a job).
    source:
        One of ``manual``, ``meta-learner``, ``recalibration``.
    reason:
        Why this version exists.
    parent:
        The version this one derives from; defaults to the current (newest active) version.
    meta_model_id, drift_event_id, job_id:
        Links to what produced this version, when there is one.
    description:
        Rule description, stored when the rule is created.
    status:
        ``active`` (default): the version becomes the rule's current one. ``rejected``: a candidate
        recorded for its provenance that lost against the current version; it takes the next number
        but the current version stays what it was.

    Returns
    -------
    RuleVersion
        The new version; for an active spec identical to the current version, that version unchanged;
        for a rejected candidate already recorded with the same spec, drift event and job, that record.
    """
    _check_name(name)
    parsed = RuleSpec.parse(spec)
    if source not in SOURCES:
        raise InvalidInputError(f"must be one of {list(SOURCES)}, got {source!r}", field="source")
    if status not in STATUSES:
        raise InvalidInputError(f"must be one of {list(STATUSES)}, got {status!r}", field="status")
    if not isinstance(created_by, str) or not created_by.strip():
        raise InvalidInputError("say who or what made this version", field="created_by")

    def unit(s: PolicyStore) -> RuleVersion:
        # Two hosts adding a version of this rule at once would both take the same number: fenced
        # transactions conflict, and the re-run reads the winner's version from here on.
        s.fence()
        rows = s.fetch_dicts(f"SELECT {_COLUMNS} FROM rule_versions WHERE rule = ? ORDER BY version", [name])  # noqa: S608
        history = [_from_row(r) for r in rows]
        current = _newest_active(history)
        if status == "active" and current is not None and current.spec_hash == parsed.spec_hash:
            return current
        if status == "rejected":
            for v in history:
                if (v.status, v.spec_hash, v.drift_event_id, v.job_id) == (status, parsed.spec_hash, drift_event_id,
                                                                          job_id):
                    return v
        chosen = parent
        if chosen is not None:
            if chosen not in {v.version for v in history}:
                raise NotFoundError(f"parent version {chosen} of rule {name!r} does not exist")
        elif current is not None:
            chosen = current.version
        now = utcnow()
        if not history and not s.scalar("SELECT count(*) FROM rules WHERE rule = ?", [name]):
            s.execute("INSERT INTO rules VALUES (?, ?, ?)", [name, description, now])
        version = history[-1].version + 1 if history else 1
        s.execute(
            f"INSERT INTO rule_versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            [name, version, parsed.canonical_json(), parsed.spec_hash, chosen, created_by, source, reason, now,
             meta_model_id, drift_event_id, job_id, status])
        return RuleVersion(name, version, parsed, parsed.spec_hash, chosen, created_by, source, reason, now,
                           meta_model_id, drift_event_id, job_id, status)

    return store.run_atomic(unit)
