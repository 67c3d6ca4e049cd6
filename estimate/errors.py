"""Errors of sampling and estimation; the CLI turns them into one line and exit code 1."""

from replies.errors import RepliesError


class EstimateError(RepliesError):
    """A sample or an estimate that cannot be made as asked (the message says why and what to do)."""

    exit_code = 1
