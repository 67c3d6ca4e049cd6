"""The config file (~/.config/replies/config.toml) and `replies config`.

Environment variables win over the file; the file's values are put into this
process's environment, so every command reads one source of settings.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import click
import tomllib

from harvester.errors import ConfigurationError
from harvester.settings import (
    DEFAULT_BSKY_API_BASE,
    DEFAULT_X_API_BASE,
    TOKEN_VARIABLES,
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
}
DEFAULTS = {"REPLIES_DB": "./replies.db", "REPLIES_CODEBOOK": "(the one classify last used, else lean_nhs)",
            "REPLIES_HTTP_TIMEOUT": "30", "REPLIES_X_API_BASE": DEFAULT_X_API_BASE,
            "REPLIES_BSKY_API_BASE": DEFAULT_BSKY_API_BASE}


def config_path() -> Path:
    """$REPLIES_CONFIG, else $XDG_CONFIG_HOME/replies/config.toml, else ~/.config/replies/config.toml."""
    if os.environ.get("REPLIES_CONFIG"):
        return Path(os.environ["REPLIES_CONFIG"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
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


FROM_FILE: dict[str, str] = {}  # the settings this process took from the config file, with their values


def apply_config() -> None:
    """Load the config file into the environment where a variable is not already set."""
    for name, value in read_config(config_path()).items():
        if name in ("REPLIES_DB", "REPLIES_CODEBOOK"):
            value = str(Path(value).expanduser())
        if name not in os.environ:
            os.environ[name] = value
            FROM_FILE[name] = value


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
      access_token = "..."
    """
    path = config_path()
    rows = []
    for name in dict.fromkeys(FILE_KEYS.values()):
        value = os.environ.get(name)
        source = ("config file" if value is not None and FROM_FILE.get(name) == value
                  else "environment" if value is not None else "default")
        if value is None:
            value = DEFAULTS.get(name, "")
        elif name in TOKEN_VARIABLES:
            value = mask(value)
        rows.append({"setting": name, "value": value or "(not set)", "from": source})
    click.echo(f"Config file: {path}" + ("" if path.exists() else " (none)"), err=True)
    write_rows(rows, fmt)
