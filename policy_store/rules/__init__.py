"""Pruning rules: declarative, versioned specs and their strategies.

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     v = add_rule_version(store, "fast", {"strategy": "median"}, created_by="doc", reason="example")
...     (v.rule, v.version, get_rule_version(store, "fast@1").spec.strategy)
('fast', 1, 'median')
"""

from policy_store.rules.audit import audit_mask, is_audited
from policy_store.rules.budget import BUDGET_SAFEGUARDS, Budget
from policy_store.rules.spec import DIRECTIONS, RuleSpec
from policy_store.rules.strategies import STRATEGIES, get_strategy
from policy_store.rules.versions import (
    SOURCES,
    STATUSES,
    RuleVersion,
    add_rule_version,
    get_rule_version,
    list_rules,
    parse_rule_ref,
    rule_history,
)

__all__ = [
    "BUDGET_SAFEGUARDS",
    "DIRECTIONS",
    "SOURCES",
    "STATUSES",
    "STRATEGIES",
    "Budget",
    "RuleSpec",
    "RuleVersion",
    "add_rule_version",
    "audit_mask",
    "get_rule_version",
    "get_strategy",
    "is_audited",
    "list_rules",
    "parse_rule_ref",
    "rule_history",
]
