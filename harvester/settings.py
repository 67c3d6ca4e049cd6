"""Settings for harvesting: tokens, API base URLs, time-outs, and the clock and sleep the retries use.

The CLI builds them from the environment and the config file (`Settings.from_env`); Python callers
and tests build them directly, and may inject `clock` and `sleep` so that back-off waits take no time.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from replies.errors import ConfigurationError
from replies.net.hosts import host_of, in_clear, is_local_url, is_loopback, redact, require_secure

__all__ = ["Settings", "host_of", "in_clear", "is_local_url", "is_loopback", "redact", "require_secure"]

DEFAULT_X_API_BASE = "https://api.twitter.com"
# the settings that are secrets
TOKEN_VARIABLES = ("X_BEARER_TOKEN", "MASTODON_ACCESS_TOKEN", "REDDIT_CLIENT_SECRET", "YOUTUBE_API_KEY",
                   "THREADS_ACCESS_TOKEN", "REPLIES_LLM_API_KEY")
INSTANCE_TOKEN_PREFIX = "MASTODON_ACCESS_TOKEN@"  # + host: a token from a [mastodon."host"] config section
DEFAULT_BSKY_API_BASE = "https://public.api.bsky.app"
DEFAULT_REDDIT_API_BASE = "https://oauth.reddit.com"
DEFAULT_REDDIT_AUTH_BASE = "https://www.reddit.com"
DEFAULT_YOUTUBE_API_BASE = "https://www.googleapis.com"
DEFAULT_THREADS_API_BASE = "https://graph.threads.net"


@dataclass(frozen=True)
class Settings:
    """Where and how to reach each platform. Tokens never leave this object."""

    x_bearer_token: str | None = None
    x_api_base: str = DEFAULT_X_API_BASE
    bsky_api_base: str = DEFAULT_BSKY_API_BASE
    mastodon_access_token: str | None = None
    mastodon_instance: str | None = None  # the one host MASTODON_ACCESS_TOKEN belongs to
    mastodon_tokens: Mapping[str, str] = field(default_factory=dict, repr=False)  # host -> its own token
    reddit_client_id: str | None = None
    reddit_client_secret: str | None = None
    reddit_user_agent: str | None = None  # Reddit asks for a descriptive one; a default names replies
    reddit_api_base: str = DEFAULT_REDDIT_API_BASE
    reddit_auth_base: str = DEFAULT_REDDIT_AUTH_BASE  # where the client id and secret are sent for a token
    youtube_api_key: str | None = None
    youtube_api_base: str = DEFAULT_YOUTUBE_API_BASE
    threads_access_token: str | None = None
    threads_api_base: str = DEFAULT_THREADS_API_BASE
    http_timeout: float = 30.0
    max_attempts: int = 8
    max_wait: float = 900.0  # the longest rate-limit wait; past it the harvest stops as rate-limited
    thread_deadline: float = 4 * 3600.0  # the longest one thread may take, waits included
    # Mastodon: also ask each reply's own server (from its `uri`) for replies the thread's server lacks
    mastodon_origin: bool = False
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
        reddit_api = (env.get("REPLIES_REDDIT_API_BASE") or DEFAULT_REDDIT_API_BASE).rstrip("/")
        return cls(**{**dict(
            x_bearer_token=env.get("X_BEARER_TOKEN") or None,
            x_api_base=(env.get("REPLIES_X_API_BASE") or DEFAULT_X_API_BASE).rstrip("/"),
            bsky_api_base=(env.get("REPLIES_BSKY_API_BASE") or DEFAULT_BSKY_API_BASE).rstrip("/"),
            mastodon_access_token=env.get("MASTODON_ACCESS_TOKEN") or None,
            mastodon_instance=host_of(env.get("MASTODON_INSTANCE") or "") or None,
            mastodon_tokens={host_of(name.split("@", 1)[1]): value for name, value in env.items()
                             if name.startswith(INSTANCE_TOKEN_PREFIX) and value},
            reddit_client_id=env.get("REDDIT_CLIENT_ID") or None,
            reddit_client_secret=env.get("REDDIT_CLIENT_SECRET") or None,
            reddit_user_agent=env.get("REDDIT_USER_AGENT") or None,
            reddit_api_base=reddit_api,
            # the secret goes where the API is, unless told otherwise: an emulator's address never sends it
            # to www.reddit.com, and the real API's default sends it only to Reddit
            reddit_auth_base=(env.get("REPLIES_REDDIT_AUTH_BASE")
                              or (reddit_api if env.get("REPLIES_REDDIT_API_BASE") else DEFAULT_REDDIT_AUTH_BASE)
                              ).rstrip("/"),
            youtube_api_key=env.get("YOUTUBE_API_KEY") or None,
            youtube_api_base=(env.get("REPLIES_YOUTUBE_API_BASE") or DEFAULT_YOUTUBE_API_BASE).rstrip("/"),
            threads_access_token=env.get("THREADS_ACCESS_TOKEN") or None,
            threads_api_base=(env.get("REPLIES_THREADS_API_BASE") or DEFAULT_THREADS_API_BASE).rstrip("/"),
            http_timeout=seconds,
        ), **overrides})

    def mastodon_token_for(self, base_url: str) -> tuple[str | None, str | None]:
        """(the token to send to the Mastodon server at `base_url`, or None; why none, if one is set).

        A token belongs to one instance: it is sent only to the host it was given for (a
        `[mastodon."host"]` section of the config file, or MASTODON_INSTANCE), and only over HTTPS unless
        that host is this machine (a local server)."""
        host = host_of(base_url)
        token = self.mastodon_tokens.get(host)
        if token is None and self.mastodon_access_token:
            if self.mastodon_instance is None:
                return None, (f"MASTODON_ACCESS_TOKEN is not sent to {host}: name the server it belongs to with "
                              "MASTODON_INSTANCE (or [mastodon.\"HOST\"] access_token in the config file)")
            if self.mastodon_instance == host:
                token = self.mastodon_access_token
        if token is None:
            return None, None
        if in_clear(base_url):
            return None, f"the access token for {host} is not sent over plain http://; use https://"
        return token, None

    def redact(self, text: str) -> str:
        """`text` with this object's tokens replaced by ***, for anything stored or shown."""
        return redact(text, (self.x_bearer_token, self.mastodon_access_token, *self.mastodon_tokens.values(),
                             self.reddit_client_secret, self.youtube_api_key, self.threads_access_token))

    def __repr__(self) -> str:  # keep tokens out of tracebacks and logs
        return (f"Settings(x_api_base={self.x_api_base!r}, bsky_api_base={self.bsky_api_base!r}, "
                f"x_bearer_token={'***' if self.x_bearer_token else None}, "
                f"mastodon_access_token={'***' if self.mastodon_access_token else None})")


def is_token(name: str) -> bool:
    """Whether the setting `name` holds a secret."""
    return name in TOKEN_VARIABLES or name.startswith(INSTANCE_TOKEN_PREFIX)
