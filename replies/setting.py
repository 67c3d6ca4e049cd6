"""How a part of the project declares a setting it reads: its environment name, its key in the config file,
its default, whether it is a secret, and what it means. `replies config`, the config-file reader, the demo
and the settings table in the docs are all derived from these declarations, so a new platform declares its
settings once, in its own module."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from replies.errors import ConfigurationError


@dataclass(frozen=True)
class Setting:
    """One setting. `name` is the attribute it becomes on the settings object (`x_bearer_token`); `env` its
    environment name (`X_BEARER_TOKEN`); `key` its key in the config file's section (`[x] bearer_token`)."""

    name: str
    env: str
    key: str
    meaning: str
    default: Any = None
    shown_default: str | None = None  # the default as the docs and `replies config` say it, where not `default`
    secret: bool = False
    # the value that points replies at the project's API emulator ("{base}" is its address); None: not needed
    emulator: str | None = None
    parse: Callable[[str], Any] | None = None  # turns the text given into the value used
    fallback: str | None = None  # another setting's environment name whose value, when given, is the default
    per_host: bool = False  # one value per server: `ENV@HOST` in the environment, [section."HOST"] in the file

    def read(self, environ: Mapping[str, str]) -> Any:
        """This setting's value from environment-style names (the environment merged with the config file)."""
        if self.per_host:
            prefix = self.env + "@"
            found = {name[len(prefix):]: value for name, value in environ.items()
                     if name.startswith(prefix) and value}
            if self.secret:
                for host, value in found.items():
                    check_secret(f"{self.env}@{host}", value)
            return {self.parse(host) if self.parse else host: value for host, value in found.items()}
        text = environ.get(self.env) or (environ.get(self.fallback) if self.fallback else None)
        if not text:
            return self.default
        if self.secret:
            check_secret(self.env, text)
        return self.parse(text) if self.parse else text

    def default_text(self) -> str:
        """The default as a person reads it."""
        if self.shown_default is not None:
            return self.shown_default
        return str(self.default) if self.default is not None else "none"


def check_secret(name: str, value: str) -> None:
    """ConfigurationError, naming the setting and never the value, for a secret holding a line end, a space or
    another control character: a key copied with the end of its line is refused at once, not sent (where it
    fails as a broken header, retried for a minute) nor half-redacted in a message."""
    bad = next((ch for ch in value if ord(ch) < 33 or ord(ch) == 127), None)
    if bad is not None:
        what = {"\r": "a carriage return", "\n": "a line end", " ": "a space", "\t": "a tab"}.get(
            bad, f"the control character U+{ord(bad):04X}")
        raise ConfigurationError(f"{name} holds {what} (copied with the value?): remove it and set it again")


def is_secret(name: str, declared: Iterable[Setting]) -> bool:
    """Whether the environment name `name` holds a secret (a per-host one included)."""
    return any(s.secret and (name == s.env or s.per_host and name.startswith(s.env + "@")) for s in declared)


def url(text: str) -> str:
    """An address as given, without the trailing slash paths are joined to."""
    return text.rstrip("/")


def http_timeout(environ: Mapping[str, str]) -> float:
    """REPLIES_HTTP_TIMEOUT in seconds (default 30): how long one HTTP answer may take, for every client;
    ConfigurationError for a value that is not a number above 0."""
    text = environ.get("REPLIES_HTTP_TIMEOUT")
    try:
        seconds = float(text) if text else 30.0
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigurationError(f"REPLIES_HTTP_TIMEOUT={text!r} is not a number of seconds above 0")
    return seconds
