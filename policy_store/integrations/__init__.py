"""Integrations with HPO frameworks: Optuna's ``StorePruner``, its decision spool and audit trail.

``StorePruner`` needs the ``optuna`` extra and is imported on first use, so
``import policy_store.integrations`` works without optuna.

>>> from policy_store.integrations import explain_trial, absorb_spool
>>> callable(explain_trial) and callable(absorb_spool)
True
"""

from __future__ import annotations

from typing import Any

from policy_store.integrations.audit_trail import explain_trial, trial_decisions
from policy_store.integrations.live import live_outcome, record_live_study
from policy_store.integrations.recommend import recommended_version
from policy_store.integrations.spool import AbsorbReport, SpoolWriter, absorb_spool, remove_absorbed, spool_files

__all__ = [
    "AbsorbReport",
    "SpoolWriter",
    "StorePruner",
    "absorb_spool",
    "explain_trial",
    "live_outcome",
    "open_store_retrying",
    "recommended_version",
    "record_live_study",
    "remove_absorbed",
    "spool_files",
    "trial_decisions",
]

_LAZY = ("StorePruner", "open_store_retrying")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from policy_store.errors import MissingDependencyError

        try:
            from policy_store.integrations import optuna as _optuna_integration
        except ImportError as e:
            raise MissingDependencyError(
                "StorePruner needs optuna; install it with: pip install 'policy-store[optuna]'") from e
        return getattr(_optuna_integration, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
