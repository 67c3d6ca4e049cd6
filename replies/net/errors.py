"""Errors of talking to a server, whatever the server is for (a platform's API, a language-model server)."""

from __future__ import annotations

from typing import Any

from replies.errors import RepliesError


class NetError(RepliesError):
    """Base class: a server that could not be reached, or answered in a way that cannot be used."""


class RateLimited(NetError):
    """The server's rate limit is spent and waiting was not allowed."""

    exit_code = 3

    def __init__(self, message: str, reset_at: float | None = None):
        super().__init__(message)
        self.reset_at = reset_at


class BadResponse(NetError):
    """The server answered with something other than the JSON it documents."""


class ApiUnavailable(NetError):
    """Server errors or time-outs persisted after every retry."""


class OffHostRedirect(NetError):
    """A server redirected a request to a host other than the one the user named (not followed)."""


class HTTPStatusError(Exception):
    """A 4xx answer other than 429 (or a 5xx the caller's `give_up` chose not to retry), for the caller to
    interpret. Here rather than beside the client, so that code which only catches it loads no HTTP stack."""

    def __init__(self, status: int, body: Any, url: str):
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.body = body
        self.url = url
