"""A new platform is one declaration: its declared settings reach the settings object, the config file,
`replies config`, the emulator's environment and the docs' table with no other change. (A platform installed
by a plugin distribution, through the entry points, is tested in test_plugin.py.)"""

from __future__ import annotations

from click.testing import CliRunner

from replies import platforms
from replies.cli import main
from replies.cli.config import settings_table
from replies.harvester.settings import Settings
from replies.setting import Setting, url


def _register(monkeypatch) -> None:
    settings = (
        Setting("lemmy_token", "LEMMY_TOKEN", "token", "a Lemmy token", secret=True, emulator="lemmy-token"),
        Setting("lemmy_api_base", "REPLIES_LEMMY_API_BASE", "api_base", "Lemmy API host",
                default="https://lemmy.example", parse=url, emulator="{base}"),
    )
    lemmy = platforms.Platform(name="lemmy", title="Lemmy", url_forms=("https://example.invalid/p/ID",),
                               parse_url=lambda address: None, source="replies_test_platform:Source",
                               settings=settings)
    monkeypatch.setitem(platforms.registered(), "lemmy", lemmy)


def test_a_new_platforms_settings_reach_every_place_from_its_module_alone(monkeypatch, tmp_path):
    _register(monkeypatch)
    settings = Settings.from_env({"LEMMY_TOKEN": "lemmy-secret-value", "REPLIES_LEMMY_API_BASE": "https://l.example/"})
    assert (settings.lemmy_token, settings.lemmy_api_base) == ("lemmy-secret-value", "https://l.example")
    assert Settings.from_env({}).lemmy_api_base == "https://lemmy.example"
    assert "lemmy-secret-value" not in repr(settings) and settings.redact("x lemmy-secret-value") == "x ***"
    assert platforms.emulator_environment("http://127.0.0.1:9")["REPLIES_LEMMY_API_BASE"] == "http://127.0.0.1:9"
    assert "| `LEMMY_TOKEN` | `[lemmy] token` | a Lemmy token | none |" in settings_table()

    config = tmp_path / "config.toml"
    config.write_text('[lemmy]\ntoken = "from-the-file-1234567"\napi_base = "https://file.example"\n')
    config.chmod(0o600)
    result = CliRunner().invoke(main, ["config"], env={"REPLIES_CONFIG": str(config), "LEMMY_TOKEN": None})
    assert result.exit_code == 0, result.output
    token_line, = [line for line in result.output.splitlines() if line.startswith("LEMMY_TOKEN")]
    assert "from-the-file" not in token_line and "***" in token_line and "config file" in token_line
    assert any(line.startswith("REPLIES_LEMMY_API_BASE") and "https://file.example" in line
               for line in result.output.splitlines())


def test_an_undeclared_setting_is_refused_by_name():
    try:
        Settings(lemmy_token="x")
    except TypeError as exc:
        assert "lemmy_token" in str(exc)
    else:
        raise AssertionError("Settings took a setting no platform declares")
