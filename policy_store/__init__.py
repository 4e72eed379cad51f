"""policy-store: institutional memory for hyperparameter pruning.

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     store.schema_version
4
"""

from typing import Any

from policy_store.errors import (
    ArtifactIntegrityError,
    DirectionMismatchError,
    InvalidInputError,
    InvalidSpecError,
    JobLockedError,
    MissingDependencyError,
    NotFoundError,
    PolicyStoreError,
    SchemaVersionError,
    StoreError,
    StudyConflictError,
)

__version__ = "0.1.0"

__all__ = [
    "ArtifactIntegrityError",
    "CommitConflictError",
    "DirectionMismatchError",
    "InvalidInputError",
    "InvalidSpecError",
    "JobLockedError",
    "MissingDependencyError",
    "NotFoundError",
    "PolicyStore",
    "PolicyStoreError",
    "SchemaVersionError",
    "StoreError",
    "StudyConflictError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # the store (and duckdb with it) is imported on first use: `policy-store --help` needs neither
    if name in ("CommitConflictError", "PolicyStore"):
        from policy_store import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
