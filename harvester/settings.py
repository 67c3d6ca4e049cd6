"""Settings read from the environment: tokens and API base URLs."""

from __future__ import annotations

import os
from dataclasses import dataclass

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

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        timeout = env.get("REPLIES_HTTP_TIMEOUT")
        try:
            seconds = float(timeout) if timeout else 30.0
        except ValueError:
            raise ConfigurationError(
                f"REPLIES_HTTP_TIMEOUT={timeout!r} is not a number of seconds"
            ) from None
        return cls(
            x_bearer_token=env.get("X_BEARER_TOKEN") or None,
            x_api_base=(env.get("REPLIES_X_API_BASE") or DEFAULT_X_API_BASE).rstrip("/"),
            bsky_api_base=(env.get("REPLIES_BSKY_API_BASE") or DEFAULT_BSKY_API_BASE).rstrip("/"),
            mastodon_access_token=env.get("MASTODON_ACCESS_TOKEN") or None,
            http_timeout=seconds,
        )

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
