"""Errors an export raises; the CLI prints them as one line."""

from replies.errors import RepliesError


class ExportError(RepliesError):
    """An export that cannot be written as asked (the message says why and what to do)."""

    exit_code = 1


class ExportUsageError(ExportError):
    """An export asked for in a way that cannot work (a usage error: exit code 2)."""

    exit_code = 2


class SplitError(ExportUsageError):
    """A --split that cannot be used."""
