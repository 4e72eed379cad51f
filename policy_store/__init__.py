"""policy-store: institutional memory for hyperparameter pruning.

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     store.schema_version
1
"""

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
from policy_store.store import CommitConflictError, PolicyStore

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
