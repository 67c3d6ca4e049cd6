"""Errors raised while harvesting, each with a message a user can act on."""

from __future__ import annotations


class HarvestError(Exception):
    """Base class: the CLI prints the message and exits non-zero."""

    exit_code = 1


class UnrecognisedURL(HarvestError):
    """The URL names no post on a platform replies knows."""


class ThreadNotFound(HarvestError):
    """The root post is deleted, protected, blocked or never existed."""


class ConfigurationError(HarvestError):
    """A setting is missing or malformed."""

    exit_code = 4


class AuthMissing(ConfigurationError):
    """A token the platform requires is not set."""


class AuthRejected(ConfigurationError):
    """The platform refused the token."""


class RateLimited(HarvestError):
    """The platform's rate limit is spent and waiting was not allowed."""

    exit_code = 3

    def __init__(self, message: str, reset_at: float | None = None):
        super().__init__(message)
        self.reset_at = reset_at


class BadResponse(HarvestError):
    """The API answered with something other than the JSON it documents."""


class ApiUnavailable(HarvestError):
    """Server errors or time-outs persisted after every retry."""


class OffHostRedirect(HarvestError):
    """A server redirected a request to a host other than the one the user named (not followed)."""
