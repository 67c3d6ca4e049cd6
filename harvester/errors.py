"""Errors raised while harvesting, each with a message a user can act on.

The network's errors (rate limits, bad answers, servers down, redirects off the host) come from
`replies.net.errors` and a missing or malformed setting from `replies.errors`; they are named here too so a
platform module finds every error a harvest raises in one place."""

from __future__ import annotations

from replies.errors import ConfigurationError, RepliesError
from replies.net.errors import ApiUnavailable, BadResponse, OffHostRedirect, RateLimited
from replies.platforms import UnrecognisedURL

__all__ = ["HarvestError", "UnrecognisedURL", "ThreadNotFound", "ConfigurationError", "AuthMissing",
           "AuthRejected", "RateLimited", "BadResponse", "ApiUnavailable", "OffHostRedirect"]


class HarvestError(RepliesError):
    """Base class of the harvester's own errors: the CLI prints the message and exits non-zero."""


class ThreadNotFound(HarvestError):
    """The root post is deleted, protected, blocked or never existed."""


class AuthMissing(ConfigurationError):
    """A token the platform requires is not set."""


class AuthRejected(ConfigurationError):
    """The platform refused the token."""
