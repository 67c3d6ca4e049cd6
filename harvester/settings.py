"""Settings for harvesting: tokens, API base URLs, time-outs, and the clock and sleep the retries use.

The CLI builds them from the environment and the config file (`Settings.from_values`); Python callers
and tests build them directly, and may inject `clock` and `sleep` so that back-off waits take no time.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .errors import ConfigurationError

DEFAULT_X_API_BASE = "https://api.twitter.com"
TOKEN_VARIABLES = ("X_BEARER_TOKEN", "MASTODON_ACCESS_TOKEN")  # the settings that are secrets
DEFAULT_BSKY_API_BASE = "https://public.api.bsky.app"


@dataclass(frozen=True)
class Settings:
    """Where and how to reach each platform. Tokens never leave this object."""

    x_bearer_token: str | None = None
    x_api_base: str = DEFAULT_X_API_BASE
    bsky_api_base: str = DEFAULT_BSKY_API_BASE
    mastodon_access_token: str | None = None
    http_timeout: float = 30.0
    max_attempts: int = 8
    clock: Callable[[], float] = field(default=time.time, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings from environment-style names (REPLIES_X_API_BASE, X_BEARER_TOKEN, ...): the process
        environment, or the mapping given (the CLI passes the environment merged with the config file)."""
        env = os.environ if environ is None else environ
        timeout = env.get("REPLIES_HTTP_TIMEOUT")
        try:
            seconds = float(timeout) if timeout else 30.0
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds > 0):
            raise ConfigurationError(f"REPLIES_HTTP_TIMEOUT={timeout!r} is not a number of seconds above 0")
        return cls(**{**dict(
            x_bearer_token=env.get("X_BEARER_TOKEN") or None,
            x_api_base=(env.get("REPLIES_X_API_BASE") or DEFAULT_X_API_BASE).rstrip("/"),
            bsky_api_base=(env.get("REPLIES_BSKY_API_BASE") or DEFAULT_BSKY_API_BASE).rstrip("/"),
            mastodon_access_token=env.get("MASTODON_ACCESS_TOKEN") or None,
            http_timeout=seconds,
        ), **overrides})

    def redact(self, text: str) -> str:
        """`text` with this object's tokens replaced by ***, for anything stored or shown."""
        return redact(text, (self.x_bearer_token, self.mastodon_access_token))

    def __repr__(self) -> str:  # keep tokens out of tracebacks and logs
        return (f"Settings(x_api_base={self.x_api_base!r}, bsky_api_base={self.bsky_api_base!r}, "
                f"x_bearer_token={'***' if self.x_bearer_token else None}, "
                f"mastodon_access_token={'***' if self.mastodon_access_token else None})")


def redact(text: str, tokens) -> str:
    """`text` with each of `tokens` (None and very short values skipped) replaced by ***."""
    for token in tokens:
        if token and len(token) >= 4:
            text = text.replace(token, "***")
    return text
