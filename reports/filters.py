"""What a report covers: tasks, rules, one study, and the utility's regret weight, as SQL predicates.

Predicates bind every value; only the column expressions, which come from the
section builders' own constants, are spliced into SQL.

>>> flt = ReportFilter(tasks=("t1",), rules=("median", "sh@2"))
>>> sql, params = flt.where(task="o.task", rule="o.rule", version="o.version")
>>> sql.split(" AND ")[0], "$rule_refs, o.rule || '@' || CAST(o.version AS VARCHAR)" in sql
('list_contains($tasks, o.task)', True)
>>> params["rule_names"], params["rule_refs"]
(['median'], ['sh@2'])
>>> ReportFilter().where(task="task")
('TRUE', {})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policy_store.choices import DEFAULT_REGRET_WEIGHT
from policy_store.errors import InvalidInputError


@dataclass(frozen=True)
class ReportFilter:
    """The scope of a report.

    Parameters
    ----------
    tasks:
        Only these tasks (empty: every task).
    rules:
        Only these rules, as ``"name"`` (every version) or ``"name@N"`` (one version).
    study:
        The study whose pruning decisions section 4 draws (default: the one with the most decisions).
    regret_weight:
        λ in ``utility = compute_saved − λ·regret``.
    """

    tasks: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    study: str | None = None
    regret_weight: float = DEFAULT_REGRET_WEIGHT

    def __post_init__(self) -> None:
        for ref in self.rules:
            name, sep, version = ref.partition("@")
            if not name or (sep and not version.isdigit()):
                raise InvalidInputError(f"a rule is 'name' or 'name@N', got {ref!r}", field="rule")
        if not self.regret_weight >= 0:
            raise InvalidInputError(f"must be >= 0, got {self.regret_weight}", field="regret_weight")

    @property
    def rule_names(self) -> list[str]:
        return [r for r in self.rules if "@" not in r]

    @property
    def rule_refs(self) -> list[str]:
        return [r for r in self.rules if "@" in r]

    def where(self, *, task: str | None = None, rule: str | None = None,
              version: str | None = None) -> tuple[str, dict[str, Any]]:
        """A predicate over the given column expressions and its named parameters.

        With ``rule`` but no ``version``, a ``name@N`` filter keeps the whole rule
        (e.g. drift events that name only a rule).
        """
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if task and self.tasks:
            clauses.append(f"list_contains($tasks, {task})")
            params["tasks"] = list(self.tasks)
        if rule and self.rules:
            names = self.rule_names if version else [r.partition("@")[0] for r in self.rules]
            parts = [f"list_contains($rule_names, {rule})"]
            params["rule_names"] = names
            if version and self.rule_refs:
                parts.append(f"list_contains($rule_refs, {rule} || '@' || CAST({version} AS VARCHAR))")
                params["rule_refs"] = self.rule_refs
            clauses.append("(" + " OR ".join(parts) + ")")
        return (" AND ".join(clauses) or "TRUE"), params
