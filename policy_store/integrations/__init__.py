"""Integrations with HPO frameworks: Optuna's ``StorePruner``, its decision spool and audit trail.

Every name is imported on first use: ``StorePruner`` needs the ``optuna``
extra, and the rest pull in pandas, which ``policy-store explain`` and the
package's import must not pay for.

>>> from policy_store.integrations import explain_trial, absorb_spool
>>> callable(explain_trial) and callable(absorb_spool)
True
"""

from __future__ import annotations

import importlib
from typing import Any

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

_OPTUNA = ("StorePruner", "open_store_retrying")
_HOME = {"explain_trial": "audit_trail", "trial_decisions": "audit_trail", "live_outcome": "live",
         "record_live_study": "live", "recommended_version": "recommend", "AbsorbReport": "spool",
         "SpoolWriter": "spool", "absorb_spool": "spool", "remove_absorbed": "spool", "spool_files": "spool"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    if name in _OPTUNA:
        from policy_store.errors import MissingDependencyError

        try:
            from policy_store.integrations import optuna as _optuna_integration
        except ImportError as e:
            raise MissingDependencyError(
                "StorePruner needs optuna; install it with: pip install 'policy-store[optuna]'") from e
        return getattr(_optuna_integration, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
