"""Errors an export raises; the CLI prints them as one line."""


class ExportError(Exception):
    """An export that cannot be written as asked (the message says why and what to do)."""

    exit_code = 1


class SplitError(ExportError):
    """A --split that cannot be used."""
