"""The config file (~/.config/replies/config.toml), the settings every command reads, and `replies config`.

Environment variables win over the file. The merged values travel in a `Config` object on the click
context (`ctx.obj`); nothing is written into the process environment.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import click

from replies import platforms
from replies.classifier.llm.settings import SETTINGS as LLM_SETTINGS
from replies.errors import ConfigurationError
from replies.harvester.settings import Settings
from replies.net.proxy import Proxies
from replies.setting import Setting, is_secret

from .output import output_options, write_rows

GENERAL = (  # the settings of every command, not of one platform or of the language-model coder
    Setting("db", "REPLIES_DB", "db", "the SQLite database (`--db PATH`); `harvest`, `import` and `track` create it, "
            "every other command refuses a path with no database (a typo leaves no empty file behind)",
            default="./replies.db"),
    Setting("codebook", "REPLIES_CODEBOOK", "codebook", "the codebook for commands given no `--codebook`",
            shown_default="(the one classify last used, else lean_nhs)"),
    Setting("http_timeout", "REPLIES_HTTP_TIMEOUT", "http_timeout", "seconds to wait for an answer", default="30"),
)


def declared() -> list[tuple[str, Setting]]:
    """(config-file section, setting) for every setting: '' for the general ones, then each platform's own
    (from its module's SETTINGS), then the language-model coder's [llm]."""
    return [("", s) for s in GENERAL] + platforms.settings() + [("llm", s) for s in LLM_SETTINGS]


def file_keys() -> dict[tuple[str, str], str]:
    """(section, key) in the file -> the environment variable it stands for."""
    return {(section, s.key): s.env for section, s in declared() if not s.per_host}


def is_token(name: str) -> bool:
    """Whether the environment name `name` holds a secret."""
    return is_secret(name, (s for _, s in declared()))


def settings_table() -> str:
    """The settings as a Markdown table, for docs/settings.md (written by scripts/cli_reference.py)."""
    rows = ["| Setting | Config file | Meaning | Default |", "| --- | --- | --- | --- |"]
    for section, s in declared():
        env = f"`{s.env}@HOST`" if s.per_host else f"`{s.env}`"
        key = f'[{section}."HOST"] {s.key}' if s.per_host else f"[{section}] {s.key}" if section else s.key
        rows.append(f"| {env} | `{key}` | {s.meaning} | {s.default_text() if s.shown_default else (f'`{s.default}`' if s.default not in (None, {}) else 'none')} |")
    rows.append("| `REPLIES_CONFIG` | | the config file | `~/.config/replies/config.toml` (`$XDG_CONFIG_HOME` respected) |")
    return "\n".join(rows) + "\n"


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
    import tomllib  # only where there is a file to read

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
                per_host = [s for section, s in declared() if section == key and s.per_host]
                if per_host and isinstance(item, dict):  # [mastodon."host"] access_token = ...
                    setting = per_host[0]
                    if set(item) != {setting.key}:
                        raise ConfigurationError(f"config file {path}: [{key}.\"{sub}\"] takes {setting.key} only")
                    values[f"{setting.env}@{sub}"] = _text(path, f"{key}.{sub}.{setting.key}", item[setting.key])
                    continue
                values[_name(path, key, sub)] = _text(path, f"{key}.{sub}", item)
        else:
            values[_name(path, "", key)] = _text(path, key, value)
    return values


def _name(path: Path, section: str, key: str) -> str:
    keys = file_keys()
    if (section, key) not in keys:
        known = ", ".join(f"{s}.{k}" if s else k for s, k in keys)
        where = f"[{section}] {key}" if section else key
        raise ConfigurationError(f"config file {path}: unknown setting {where!r} (known: {known})")
    return keys[(section, key)]


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
        names = set(file_keys().values()) | set(from_file)
        values = {name: env[name] if name in env else from_file[name]
                  for name in names if name in env or name in from_file}
        return cls(values=values, from_file={k: v for k, v in from_file.items() if k not in env}, path=path,
                   **options)

    @classmethod
    def environment_only(cls, environ: Mapping[str, str] | None = None) -> "Config":
        """The environment's settings alone: what a command still knows when the config file is refused."""
        env = os.environ if environ is None else environ
        return cls(values={name: env[name] for name in set(file_keys().values()) if name in env})

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def source(self, name: str) -> str:
        return "config file" if name in self.from_file else "environment" if name in self.values else "default"

    def tokens(self) -> list[str]:
        return [value for name, value in self.values.items() if is_token(name) and value]

    def settings(self) -> Settings:
        """The harvest settings these values describe."""
        return Settings.from_env(self.values, clock=self.clock, sleep=self.sleep)


def current_config() -> Config:
    """The running command's Config; outside a command, one read from the environment now."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Config) if ctx else None
    return found if found is not None else Config.environment_only()


def mask(value: str) -> str:
    return "***" + value[-4:] if len(value) > 12 else "***"


def _codebook_in_use(config: Config) -> tuple[str, str]:
    """The codebook a command given no --codebook would use, by name, and where that comes from: the one
    `classify` last used on the database the settings name, else the bundled default. Read from the database's
    stored copy, never parsed from YAML: `config` stays quick."""
    from replies.codebook import DEFAULT_CODEBOOK, last_used
    from replies.db import open_db
    from replies.db.connection import resolve_path
    from replies.errors import RepliesError

    path = resolve_path(config.get("REPLIES_DB"))
    try:
        database = open_db(path, readonly=True)
    except (RepliesError, OSError):
        return f"{DEFAULT_CODEBOOK} (bundled; no database at {path})", "default"
    try:
        used = last_used(database)
    except RepliesError:
        used = None
    finally:
        database.close()
    if used and used[1].get("name"):
        return f"{used[1]['name']} ({used[0]}, the one classify last used on {path})", "database"
    return f"{DEFAULT_CODEBOOK} (bundled; classify has not run on {path})", "default"


class ExampleHelp(click.Command):
    """A command whose help shows an example config file with a section for each registered platform, from
    the settings the platforms declare: a plugin's platform appears in it without an edit."""

    def format_help_text(self, ctx, formatter):
        original = self.help
        self.help = original.replace("{platform_sections}", "\n      ".join(example_sections()))
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = original


def example_sections() -> list[str]:
    """Each platform's section of an example config file: the settings a person fills in (tokens, ids) as
    "...", a server's own token in a section of its own; a platform needing none shows its first setting's
    default."""
    lines = []
    for name, platform in platforms.registered().items():
        lines.append(f"[{name}]")
        to_fill = [s for s in platform.settings if not s.per_host and (s.secret or s.default in (None, {}))]
        for setting in to_fill:
            lines.append(f'{setting.key} = "..."')
        if not to_fill and platform.settings:
            lines.append(f'{platform.settings[0].key} = "{platform.settings[0].default}"')
        for setting in platform.settings:
            if setting.per_host:
                lines += [f'[{name}."HOST"]  # {setting.meaning}', f'{setting.key} = "..."']
    return lines


@click.command(name="config", cls=ExampleHelp)
@output_options
def config_command(fmt):
    """Show the effective settings, where each comes from, with tokens masked.

    Environment variables win over the config file, which wins over the
    defaults. The proxy comes from the environment alone (HTTP_PROXY,
    HTTPS_PROXY, ALL_PROXY, NO_PROXY, as for other tools); servers on this
    machine are always reached directly. The file is ~/.config/replies/config.toml (or $REPLIES_CONFIG);
    replies refuses it when other users can read it (chmod 600).

    \b
    Example config.toml:
      db = "/home/me/research/replies.db"
      codebook = "/home/me/research/codebook.yaml"
      {platform_sections}
      [llm]
      base = "http://127.0.0.1:11434/v1"   # Ollama; any OpenAI-compatible /v1
      model = "llama3.1:8b"
      api_key = "..."                  # only if the server wants one
      allow_host = "api.example.com"   # a server off this machine you agree to send replies to
    """
    config = current_config()
    path = config.path
    rows = []
    declared_here = [s for _, s in declared()]
    per_host = tuple(s.env + "@" for s in declared_here if s.per_host)
    names = [*file_keys().values(), *sorted(n for n in config.values if per_host and n.startswith(per_host))]
    defaults = {s.env: s.default_text() for s in declared_here if s.shown_default or s.default not in (None, {})}
    for name in dict.fromkeys(names):
        value = config.get(name)
        source = config.source(name)
        if value is None and name == "REPLIES_CODEBOOK":
            value, source = _codebook_in_use(config)
        elif value is None:
            value = defaults.get(name, "")
        elif is_token(name):
            value = mask(value)
        rows.append({"setting": name, "value": value or "(not set)", "from": source})
    problems = []
    try:
        proxies = Proxies.from_environment()
    except ConfigurationError as exc:
        problems.append(str(exc))
    else:
        for name, value, source in proxies.shown():
            if name == "NO_PROXY":
                value = ", ".join(filter(None, [value, "this machine's own addresses (always)"]))
            rows.append({"setting": name, "value": value or "(not set)", "from": source})
    click.echo(f"Config file: {path}" + ("" if path.exists() else " (none)"), err=True)
    write_rows(rows, fmt)
    try:
        config.settings()
    except ConfigurationError as exc:
        problems.append(str(exc))
    for problem in problems:  # shown as it is, but said: every command that reads it will refuse it
        click.echo(f"Warning: {problem}; harvest and classify --method llm refuse it until it is corrected",
                   err=True)
