"""The config file (~/.config/replies/config.toml), the settings every command reads, and `replies config`.

Environment variables win over the file. The merged values travel in a `Config` object on the click
context (`ctx.obj`); nothing is written into the process environment.
"""

from __future__ import annotations

import os
import stat
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import click

from replies.harvester.errors import ConfigurationError
from replies.harvester.settings import (
    DEFAULT_BSKY_API_BASE,
    DEFAULT_REDDIT_API_BASE,
    DEFAULT_THREADS_API_BASE,
    DEFAULT_X_API_BASE,
    DEFAULT_YOUTUBE_API_BASE,
    INSTANCE_TOKEN_PREFIX,
    Settings,
    is_token,
)

from .output import output_options, write_rows

# (section, key) in the file -> the environment variable it stands for
FILE_KEYS = {
    ("", "db"): "REPLIES_DB",
    ("", "codebook"): "REPLIES_CODEBOOK",
    ("", "http_timeout"): "REPLIES_HTTP_TIMEOUT",
    ("x", "bearer_token"): "X_BEARER_TOKEN",
    ("x", "api_base"): "REPLIES_X_API_BASE",
    ("bluesky", "api_base"): "REPLIES_BSKY_API_BASE",
    ("mastodon", "access_token"): "MASTODON_ACCESS_TOKEN",
    ("mastodon", "instance"): "MASTODON_INSTANCE",
    ("reddit", "client_id"): "REDDIT_CLIENT_ID",
    ("reddit", "client_secret"): "REDDIT_CLIENT_SECRET",
    ("reddit", "user_agent"): "REDDIT_USER_AGENT",
    ("reddit", "api_base"): "REPLIES_REDDIT_API_BASE",
    ("reddit", "auth_base"): "REPLIES_REDDIT_AUTH_BASE",
    ("youtube", "api_key"): "YOUTUBE_API_KEY",
    ("youtube", "api_base"): "REPLIES_YOUTUBE_API_BASE",
    ("threads", "access_token"): "THREADS_ACCESS_TOKEN",
    ("threads", "api_base"): "REPLIES_THREADS_API_BASE",
    ("llm", "base"): "REPLIES_LLM_BASE",
    ("llm", "model"): "REPLIES_LLM_MODEL",
    ("llm", "api_key"): "REPLIES_LLM_API_KEY",
    ("llm", "allow_host"): "REPLIES_LLM_ALLOW_HOST",
}
DEFAULTS = {"REPLIES_DB": "./replies.db", "REPLIES_CODEBOOK": "(the one classify last used, else lean_nhs)",
            "REPLIES_HTTP_TIMEOUT": "30", "REPLIES_X_API_BASE": DEFAULT_X_API_BASE,
            "REPLIES_BSKY_API_BASE": DEFAULT_BSKY_API_BASE,
            "MASTODON_INSTANCE": "(none: MASTODON_ACCESS_TOKEN is sent to no server)",
            "REPLIES_REDDIT_API_BASE": DEFAULT_REDDIT_API_BASE,
            "REPLIES_REDDIT_AUTH_BASE": "(REPLIES_REDDIT_API_BASE where set, else https://www.reddit.com)",
            "REDDIT_USER_AGENT": "python:replies:VERSION (reply harvester for research)",
            "REPLIES_YOUTUBE_API_BASE": DEFAULT_YOUTUBE_API_BASE,
            "REPLIES_THREADS_API_BASE": DEFAULT_THREADS_API_BASE,
            "REPLIES_LLM_BASE": "(none: --method llm needs one, e.g. http://127.0.0.1:11434/v1)",
            "REPLIES_LLM_ALLOW_HOST": "(none: reply texts go to a server off this machine only with --yes)"}


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """$REPLIES_CONFIG, else $XDG_CONFIG_HOME/replies/config.toml, else ~/.config/replies/config.toml."""
    env = os.environ if environ is None else environ
    if env.get("REPLIES_CONFIG"):
        return Path(env["REPLIES_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "replies" / "config.toml"


def read_config(path: Path) -> dict[str, str]:
    """The file's settings as environment names; refuses a file other users can read."""
    if not path.exists():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigurationError(f"config file {path} can be read by other users (mode {mode:04o}); it may hold "
                                 f"tokens, so replies will not use it: run `chmod 600 {path}`")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from None
    values = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, item in value.items():
                if key == "mastodon" and isinstance(item, dict):  # [mastodon."host"] access_token = ...
                    if set(item) != {"access_token"}:
                        raise ConfigurationError(f"config file {path}: [mastodon.\"{sub}\"] takes access_token only")
                    values[INSTANCE_TOKEN_PREFIX + sub] = _text(path, f"mastodon.{sub}.access_token",
                                                                item["access_token"])
                    continue
                values[_name(path, key, sub)] = _text(path, f"{key}.{sub}", item)
        else:
            values[_name(path, "", key)] = _text(path, key, value)
    return values


def _name(path: Path, section: str, key: str) -> str:
    if (section, key) not in FILE_KEYS:
        known = ", ".join(f"{s}.{k}" if s else k for s, k in FILE_KEYS)
        where = f"[{section}] {key}" if section else key
        raise ConfigurationError(f"config file {path}: unknown setting {where!r} (known: {known})")
    return FILE_KEYS[(section, key)]


def _text(path: Path, key: str, value) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigurationError(f"config file {path}: {key} must be a string or a number")
    return str(value)


@dataclass
class Config:
    """The effective settings of one command: the environment over the config file.

    `clock` and `sleep` are what harvest retries use to wait; tests pass their own as overrides
    (`main(obj={"sleep": ...})`, through click's runner) so that back-off waits take no time."""

    values: dict[str, str] = field(default_factory=dict)
    from_file: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **options) -> "Config":
        """Read the config file named by `environ` (default: the process environment) and merge."""
        env = os.environ if environ is None else environ
        path = config_path(env)
        from_file = {name: str(Path(value).expanduser()) if name in ("REPLIES_DB", "REPLIES_CODEBOOK") else value
                     for name, value in read_config(path).items()}
        names = set(FILE_KEYS.values()) | set(from_file)
        values = {name: env[name] if name in env else from_file[name]
                  for name in names if name in env or name in from_file}
        return cls(values=values, from_file={k: v for k, v in from_file.items() if k not in env}, path=path,
                   **options)

    @classmethod
    def environment_only(cls, environ: Mapping[str, str] | None = None) -> "Config":
        """The environment's settings alone: what a command still knows when the config file is refused."""
        env = os.environ if environ is None else environ
        return cls(values={name: env[name] for name in set(FILE_KEYS.values()) if name in env})

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def source(self, name: str) -> str:
        return "config file" if name in self.from_file else "environment" if name in self.values else "default"

    def tokens(self) -> list[str]:
        return [value for name, value in self.values.items() if is_token(name) and value]

    def settings(self) -> Settings:
        """The harvest settings these values describe."""
        return Settings.from_env(self.values, clock=self.clock, sleep=self.sleep)

    def llm_settings(self, base: str | None = None, model: str | None = None):
        """The language-model settings (--llm-base and --llm-model win over the settings)."""
        from replies.classifier.llm import LlmSettings
        timeout = self.settings().http_timeout
        return LlmSettings(base=base or self.get("REPLIES_LLM_BASE"), model=model or self.get("REPLIES_LLM_MODEL"),
                           api_key=self.get("REPLIES_LLM_API_KEY") or None,
                           allow_host=(self.get("REPLIES_LLM_ALLOW_HOST") or "").lower() or None,
                           timeout=max(timeout, 120.0))


def current_config() -> Config:
    """The running command's Config; outside a command, one read from the environment now."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Config) if ctx else None
    return found if found is not None else Config.environment_only()


def mask(value: str) -> str:
    return "***" + value[-4:] if len(value) > 12 else "***"


@click.command(name="config")
@output_options
def config_command(fmt):
    """Show the effective settings, where each comes from, with tokens masked.

    Environment variables win over the config file, which wins over the
    defaults. The file is ~/.config/replies/config.toml (or $REPLIES_CONFIG);
    replies refuses it when other users can read it (chmod 600).

    \b
    Example config.toml:
      db = "/home/me/research/replies.db"
      codebook = "/home/me/research/codebook.yaml"
      [x]
      bearer_token = "..."
      [bluesky]
      api_base = "https://public.api.bsky.app"
      [mastodon]
      instance = "mastodon.social"   # the one server access_token belongs to
      access_token = "..."
      [mastodon."scholar.social"]     # a token of another server, sent to it only
      access_token = "..."
      [reddit]
      client_id = "..."
      client_secret = "..."
      user_agent = "python:replies:0.1 (by /u/YOURNAME)"
      [youtube]
      api_key = "..."
      [threads]
      access_token = "..."             # the question post's owner's token
      [llm]
      base = "http://127.0.0.1:11434/v1"   # Ollama; any OpenAI-compatible /v1
      model = "llama3.1:8b"
      api_key = "..."                  # only if the server wants one
      allow_host = "api.example.com"   # a server off this machine you agree to send replies to
    """
    config = current_config()
    path = config.path
    rows = []
    names = [*FILE_KEYS.values(), *sorted(n for n in config.values if n.startswith(INSTANCE_TOKEN_PREFIX))]
    for name in dict.fromkeys(names):
        value = config.get(name)
        source = config.source(name)
        if value is None:
            value = DEFAULTS.get(name, "")
        elif is_token(name):
            value = mask(value)
        rows.append({"setting": name, "value": value or "(not set)", "from": source})
    click.echo(f"Config file: {path}" + ("" if path.exists() else " (none)"), err=True)
    write_rows(rows, fmt)
    try:
        config.settings()
    except ConfigurationError as exc:  # shown as it is, but said: every command that reads it will refuse it
        click.echo(f"Warning: {exc}; harvest and classify --method llm refuse it until it is corrected", err=True)
