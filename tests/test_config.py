"""The config file, `replies config`, and tokens kept out of output, logs, the database and exports."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import TOKEN
from tests.helpers import rows

SECRET_X = "x-secret-token-0123456789"


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    path = tmp_path / "home" / ".config" / "replies" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.delenv("REPLIES_CONFIG", raising=False)
    return path


def test_settings_come_from_the_file_and_the_environment_wins(run, env, config_file, tmp_path, monkeypatch, url,
                                                              world, roots):
    other_db = tmp_path / "from-config.db"
    write_config(config_file, f'db = "{other_db}"\n[x]\nbearer_token = "{TOKEN}"\napi_base = "{env["REPLIES_X_API_BASE"]}"\n'
                              f'[mastodon]\naccess_token = "mastodon-token"\n')
    for name in ("REPLIES_DB", "X_BEARER_TOKEN", "REPLIES_X_API_BASE"):
        monkeypatch.delenv(name)
    run("harvest", "-q", url("x"))  # token and API base from the file
    assert other_db.exists()
    shown = {r["setting"]: r for r in json.loads(run("config", "--json").stdout)}
    assert shown["REPLIES_DB"] == {"setting": "REPLIES_DB", "value": str(other_db), "from": "config file"}
    assert shown["X_BEARER_TOKEN"]["value"] == "***" and shown["X_BEARER_TOKEN"]["from"] == "config file"
    assert shown["REPLIES_BSKY_API_BASE"]["from"] == "environment"
    assert shown["MASTODON_ACCESS_TOKEN"]["value"] == "***oken"  # only the last 4 of a long token
    monkeypatch.setenv("REPLIES_DB", str(tmp_path / "from-env.db"))  # the environment wins
    shown = {r["setting"]: r for r in json.loads(run("config", "--json").stdout)}
    assert shown["REPLIES_DB"]["value"] == str(tmp_path / "from-env.db") and shown["REPLIES_DB"]["from"] == "environment"
    long_token = "abcdefghijklmnopqrstuvwxyz0123456789"
    monkeypatch.setenv("X_BEARER_TOKEN", long_token)
    table = run("config").stdout
    assert long_token not in table and "***6789" in table


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_config_file_others_can_read_is_refused(run, env, config_file, mode):
    write_config(config_file, f'[x]\nbearer_token = "{SECRET_X}"\n', mode)
    result = run("threads", code=4)
    assert "can be read by other users" in result.stderr and "chmod 600" in result.stderr
    assert SECRET_X not in result.stderr


def test_bad_config_files_are_one_line_errors(run, env, config_file):
    write_config(config_file, "db = \n")
    assert "not valid TOML" in run("threads", code=4).stderr
    write_config(config_file, '[x]\ntoken = "a"\n')
    assert "unknown setting '[x] token'" in run("threads", code=4).stderr


def test_config_shows_a_setting_commands_refuse_and_says_so(run, env, config_file, monkeypatch):
    monkeypatch.delenv("REPLIES_HTTP_TIMEOUT")  # the tests' own short timeout would win over the file
    write_config(config_file, 'http_timeout = "nan"\n')
    result = run("config", "--json")
    shown = {r["setting"]: r for r in json.loads(result.stdout)}
    assert shown["REPLIES_HTTP_TIMEOUT"] == {"setting": "REPLIES_HTTP_TIMEOUT", "value": "nan", "from": "config file"}
    assert "Warning: REPLIES_HTTP_TIMEOUT='nan' is not a number of seconds above 0" in result.stderr
    assert "is not a number" in run("harvest", "--all", code=4).stderr
    write_config(config_file, 'http_timeout = 12\n')
    assert "Warning" not in run("config").stderr


def test_tokens_never_reach_output_logs_database_or_exports(run, env, url, world, roots, monkeypatch, emulator,
                                                             tmp_path):
    monkeypatch.setenv("X_BEARER_TOKEN", SECRET_X)  # not a token the emulator knows: it is rejected
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "mastodon-secret-987654")
    rejected = run("harvest", url("x"), code=4)
    assert SECRET_X not in rejected.output + rejected.stderr
    run("track", url("x"), url("mastodon"))
    logged = run("harvest", "--all", "--log-json", code=4)
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)
    run("harvest", url("x"))
    outputs = [rejected.stderr, logged.output, logged.stderr, run("export").output,
               run("query", "select * from harvest_runs", "--json").output]
    dump = "\n".join(sqlite3.connect(env["REPLIES_DB"]).iterdump())
    for text in outputs + [dump]:
        assert SECRET_X not in text and "mastodon-secret-987654" not in text


def test_an_error_that_quotes_a_token_is_redacted(run, env, monkeypatch):
    from replies.cli.common import redact
    from replies.harvester.settings import Settings

    monkeypatch.setenv("X_BEARER_TOKEN", SECRET_X)
    assert redact(f"401 for Bearer {SECRET_X} at /2/tweets") == "401 for Bearer *** at /2/tweets"
    assert Settings(x_bearer_token=SECRET_X).redact(f"x {SECRET_X} y") == "x *** y"
    assert SECRET_X not in repr(Settings.from_env(os.environ))


def test_config_names_the_codebook_commands_will_use(cli, classified, tmp_path, monkeypatch):
    """Not "(the one classify last used, else lean_nhs)": the name, and where it comes from."""
    import shutil

    from replies.codebook import load

    def shown() -> dict:
        return next(r for r in json.loads(cli("config", "--json").stdout) if r["setting"] == "REPLIES_CODEBOOK")

    mine = tmp_path / "cycling.yaml"
    shutil.copy(Path(__file__).parent / "data" / "cycling.yaml", mine)
    cli("label", f"x:{first_reply_id(classified)}", "--codebook", mine, "--reviewer", "ann")
    cli("classify", "--codebook", mine, "--method", "zero-shot")
    book = load(mine)
    assert shown() == {"setting": "REPLIES_CODEBOOK", "from": "database",
                       "value": f"{book.name} ({book.hash}, the one classify last used on {classified})"}
    monkeypatch.setenv("REPLIES_DB", str(tmp_path / "none.db"))
    assert shown()["value"] == f"lean_nhs (bundled; no database at {tmp_path / 'none.db'})"
    monkeypatch.setenv("REPLIES_CODEBOOK", str(mine))
    assert shown() == {"setting": "REPLIES_CODEBOOK", "value": str(mine), "from": "environment"}


def first_reply_id(path) -> str:
    return rows(path, "select id from replies where platform = 'x' and status = 'ok' order by id limit 1")[0]["id"]
