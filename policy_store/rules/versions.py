"""Immutable rule versions with their provenance chain, in the store.

Versions are numbered 1, 2, ... per rule and never change once written. Each
records its parent version, who or what made it (``created_by``), the kind of
source (``manual``, ``meta-learner``, ``recalibration``), a reason, and links to
the meta-model, drift event or job behind it. Adding a spec identical to the
latest version is a no-op that returns the existing version.

Examples
--------
>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     a = add_rule_version(store, "r", {"strategy": "median"}, created_by="ann")
...     b = add_rule_version(store, "r", {"strategy": "median"}, created_by="bob")
...     c = add_rule_version(store, "r", {"strategy": "median", "params": {"n_startup_trials": 3}},
...                          created_by="job", source="recalibration", reason="drift")
...     [(v.version, v.parent_version, v.created_by) for v in rule_history(store, "r")], b.version
([(1, None, 'ann'), (2, 1, 'job')], 1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from policy_store.errors import InvalidInputError, NotFoundError
from policy_store.rules.spec import RuleSpec
from policy_store.store import PolicyStore, utcnow

SOURCES = ("manual", "meta-learner", "recalibration")
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
    """Every version of ``name``, oldest first; :class:`NotFoundError` if there is none."""
    _check_name(name)
    rows = store.fetch_dicts(f"SELECT {_COLUMNS} FROM rule_versions WHERE rule = ? ORDER BY version", [name])  # noqa: S608
    if not rows:
        raise NotFoundError(f"no rule called {name!r}; see `policy-store rules list`")
    return [_from_row(r) for r in rows]


def get_rule_version(store: PolicyStore, ref: str, version: int | None = None) -> RuleVersion:
    """The version named by ``"name@N"`` (or ``name`` and ``version``); latest when no version is given."""
    name, v = parse_rule_ref(ref)
    v = version if version is not None else v
    history = rule_history(store, name)
    if v is None:
        return history[-1]
    for rv in history:
        if rv.version == v:
            return rv
    raise NotFoundError(f"rule {name!r} has no version {v}; versions are 1..{history[-1].version}")


def list_rules(store: PolicyStore) -> list[dict[str, Any]]:
    """One row per rule: latest version, its strategy, number of versions, creation time."""
    rows = store.fetch_dicts(
        "SELECT rule, max(version) AS latest_version, count(*) AS n_versions, min(created_at) AS created_at, "
        "arg_max(spec, version) AS spec, arg_max(source, version) AS source "
        "FROM rule_versions GROUP BY rule ORDER BY rule")
    for r in rows:
        r["strategy"] = RuleSpec.parse(r.pop("spec")).strategy
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
        The version this one derives from; defaults to the current latest version.
    meta_model_id, drift_event_id, job_id:
        Links to what produced this version, when there is one.
    description:
        Rule description, stored when the rule is created.

    Returns
    -------
    RuleVersion
        The new version, or the latest one unchanged if its spec is identical.
    """
    _check_name(name)
    parsed = RuleSpec.parse(spec)
    if source not in SOURCES:
        raise InvalidInputError(f"must be one of {list(SOURCES)}, got {source!r}", field="source")
    if not isinstance(created_by, str) or not created_by.strip():
        raise InvalidInputError("say who or what made this version", field="created_by")
    with store.atomic():
        rows = store.fetch_dicts(
            f"SELECT {_COLUMNS} FROM rule_versions WHERE rule = ? ORDER BY version DESC LIMIT 1", [name])  # noqa: S608
        latest = _from_row(rows[0]) if rows else None
        if latest is not None and latest.spec_hash == parsed.spec_hash:
            return latest
        if parent is not None:
            ok = store.scalar("SELECT count(*) FROM rule_versions WHERE rule = ? AND version = ?", [name, parent])
            if not ok:
                raise NotFoundError(f"parent version {parent} of rule {name!r} does not exist")
        elif latest is not None:
            parent = latest.version
        now = utcnow()
        if latest is None and not store.scalar("SELECT count(*) FROM rules WHERE rule = ?", [name]):
            store.execute("INSERT INTO rules VALUES (?, ?, ?)", [name, description, now])
        version = 1 if latest is None else latest.version + 1
        store.execute(
            f"INSERT INTO rule_versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            [name, version, parsed.canonical_json(), parsed.spec_hash, parent, created_by, source, reason, now,
             meta_model_id, drift_event_id, job_id, "active"])
    return RuleVersion(name, version, parsed, parsed.spec_hash, parent, created_by, source, reason, now,
                       meta_model_id, drift_event_id, job_id)
