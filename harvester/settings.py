"""Settings for harvesting: each platform's declared settings (tokens, API base URLs), time-outs, and the
clock and sleep the retries use.

Each platform module declares what it reads (`SETTINGS`, see `replies.setting`); this object holds their
values under the declared names (`settings.x_bearer_token`), so adding a platform adds no line here. The CLI
builds it from the environment and the config file (`Settings.from_env`); Python callers and tests build it
directly, and may inject `clock` and `sleep` so that back-off waits take no time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from replies import platforms
from replies.net.hosts import host_of, in_clear, is_local_url, is_loopback, redact, require_secure
from replies.setting import Setting, http_timeout

__all__ = ["Settings", "host_of", "in_clear", "is_local_url", "is_loopback", "redact", "require_secure"]

GENERAL = {  # the settings every harvest has, whatever the platform
    "http_timeout": 30.0,
    "max_attempts": 8,
    "max_wait": 900.0,  # the longest rate-limit wait; past it the harvest stops as rate-limited
    "thread_deadline": 4 * 3600.0,  # the longest one thread may take, waits included
}


def declared() -> dict[str, Setting]:
    """Every platform's declared settings, by the name they have on `Settings`."""
    return {setting.name: setting for _, setting in platforms.settings()}


class Settings:
    """Where and how to reach each platform. Tokens never leave this object (its repr masks them)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 **values: Any):
        known = declared()
        unknown = sorted(set(values) - set(known) - set(GENERAL))
        if unknown:
            raise TypeError(f"Settings: no platform declares {', '.join(unknown)} (declared: {', '.join(known)})")
        merged = {**GENERAL, **{name: _fresh(s.default) for name, s in known.items()}, **values}
        object.__setattr__(self, "_values", merged)
        object.__setattr__(self, "_secrets", [name for name, s in known.items() if s.secret])
        object.__setattr__(self, "clock", clock)
        object.__setattr__(self, "sleep", sleep)

    def __getattr__(self, name: str) -> Any:  # only names not found the usual way: the declared settings
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"Settings has no {name!r}: no platform declares it") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Settings are read-only; use .replace(name=value)")

    def replace(self, **changes: Any) -> "Settings":
        """A copy with `changes` made."""
        return Settings(clock=self.clock, sleep=self.sleep, **{**self._values, **changes})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings from environment-style names (REPLIES_X_API_BASE, X_BEARER_TOKEN, ...): the process
        environment, or the mapping given (the CLI passes the environment merged with the config file)."""
        env = os.environ if environ is None else environ
        values = {name: setting.read(env) for name, setting in declared().items()}
        return cls(**{**values, "http_timeout": http_timeout(env), **overrides})

    def redact(self, text: str) -> str:
        """`text` with this object's tokens replaced by ***, for anything stored or shown."""
        tokens = []
        for name in self._secrets:
            value = self._values[name]
            tokens += list(value.values()) if isinstance(value, Mapping) else [value]
        return redact(text, tokens)

    def __repr__(self) -> str:  # keep tokens out of tracebacks and logs
        shown = ", ".join(f"{name}={'***' if value else None}" if name in self._secrets else f"{name}={value!r}"
                          for name, value in self._values.items())
        return f"Settings({shown})"


def _fresh(default: Any) -> Any:
    return dict(default) if isinstance(default, dict) else default
