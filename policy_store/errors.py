"""The exception hierarchy: one root, small typed subclasses.

Every error the library raises on purpose derives from :class:`PolicyStoreError`, so
callers (and the CLI) can catch one type. Messages name the offending value and say
what to do about it.

>>> try:
...     raise InvalidInputError("value must be finite", row=3, field="value")
... except PolicyStoreError as e:
...     print(e)
row 3, field 'value': value must be finite
"""

from __future__ import annotations


class PolicyStoreError(Exception):
    """Root of every error policy-store raises on purpose."""


class StoreError(PolicyStoreError):
    """The store cannot be opened, read or written (wraps database errors)."""


class SchemaVersionError(StoreError):
    """The store was written by a newer policy-store than this one."""


class InvalidInputError(PolicyStoreError, ValueError):
    """Input data is malformed; names the row and field when it can.

    Parameters
    ----------
    message:
        What is wrong and how to fix it.
    row:
        0-based position of the offending row in the input, when there is one.
    field:
        Name of the offending column or field.
    source:
        Where the row lives, e.g. ``"runs.csv line 18"``; printed before the row.
    """

    def __init__(
        self, message: str, *, row: int | None = None, field: str | None = None, source: str | None = None
    ) -> None:
        self.row = row
        self.field = field
        self.reason = message
        position = ", ".join(
            part for part in (f"row {row}" if row is not None else "", f"field {field!r}" if field else "") if part
        )
        where = " ".join(part for part in (source, f"({position})" if source and position else position) if part)
        super().__init__(f"{where}: {message}" if where else message)


class StudyConflictError(PolicyStoreError):
    """A study id already in the store holds different content."""


class NotFoundError(PolicyStoreError, LookupError):
    """A task, study, rule or version that does not exist."""


class InvalidSpecError(InvalidInputError):
    """A rule spec is invalid (unknown strategy, unknown or out-of-range parameter)."""


class DirectionMismatchError(InvalidInputError):
    """A rule or data set disagrees with a task's optimisation direction."""


class ForecasterMismatchError(InvalidSpecError):
    """A ``forecast`` rule was made with another forecaster model than the installed one (``params.model``)."""


class MissingDependencyError(PolicyStoreError, ImportError):
    """An optional dependency (an extra) is needed but not installed."""


class JobLockedError(PolicyStoreError):
    """Another job of the same kind holds the lock."""


class ArtifactIntegrityError(PolicyStoreError):
    """A stored artifact's sha256 does not match the one recorded in the store."""
