"""The one base of every error a user can act on: the CLI prints its message on one line and exits with its
`exit_code` (documented in docs/settings.md, Exit codes). Each part of the project derives its own errors
from it, so a caller catches `RepliesError` once."""

from __future__ import annotations

# a harvest of several threads where some failed or were stored incomplete (no one error stands for it)
PARTIAL_EXIT_CODE = 5


class RepliesError(Exception):
    """A problem the user can act on; the message says what was wrong and what to do."""

    exit_code = 1


class ConfigurationError(RepliesError):
    """A setting is missing or malformed (exit code 4)."""

    exit_code = 4
