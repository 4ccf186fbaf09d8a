"""The one exception type for user mistakes; the CLI prints it as one line."""
from __future__ import annotations


class AlignSQLError(Exception):
    """A problem the user can fix (bad file, unknown name, bad config): no traceback."""


def where(path: object, record: object | None = None) -> str:
    """Format a location for an error message: ``file`` or ``file, record N``."""
    return f"{path}" if record is None else f"{path}, record {record}"
