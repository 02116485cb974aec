"""The exceptions searchlib raises: one base class, a few precise subclasses.

Every message names the bad value, so a caller (or the CLI) can show it as is.
"""

from __future__ import annotations

__all__ = [
    "AnalyzerError",
    "DocumentError",
    "IndexCorruptError",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexVersionError",
    "IndexWriteError",
    "QueryError",
    "SearchlibError",
]


class SearchlibError(Exception):
    """Base class of every error searchlib raises on purpose."""


class IndexNotFoundError(SearchlibError):
    """The directory holds no searchlib index (missing, empty or foreign)."""


class IndexVersionError(SearchlibError):
    """The index was written by an incompatible searchlib version: rebuild it."""


class IndexCorruptError(SearchlibError):
    """An index file is damaged or not what searchlib wrote (it fails its checksum or
    its structure); the message names the file. ``search check`` verifies every file."""


class IndexLockedError(SearchlibError):
    """Another writer holds the index lock and did not release it in time."""


class IndexWriteError(SearchlibError, OSError):
    """Writing the index failed (a full disk, say); the previous commit is intact."""


class DocumentError(SearchlibError, ValueError):
    """A record failed validation; names the record and the field."""

    def __init__(self, message: str, *, record: object = None, field: str | None = None):
        super().__init__(message)
        self.record = record
        self.field = field


class AnalyzerError(SearchlibError, ValueError):
    """An analysis chain that cannot work: an unknown or repeated step, a bad option."""


class QueryError(SearchlibError, ValueError):
    """A query could not be understood; names the problem and its position."""

    def __init__(self, message: str, *, position: int | None = None):
        super().__init__(message)
        self.position = position
