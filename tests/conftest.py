"""Fixtures: the API emulator on loopback with the bundled sample, and a CLI runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from replies.cli import main
from replies.emulator import Emulator, World
from replies.emulator.sample import load_sample, post_url

TOKEN = "test-token"

# A suite started in the background by a non-interactive shell (`cmd &`, nohup) inherits SIGINT ignored, and
# so would every command the tests start, and the Ctrl-C tests would fail for a reason that is not the code's.
# A handler here is reset to the default in each child at exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def world():
    return World()


@pytest.fixture
def roots(world):
    return load_sample(world)


@pytest.fixture
def emulator(world, roots):
    with Emulator(world, x_tokens=[TOKEN]) as server:
        yield server


@pytest.fixture
def env(emulator, tmp_path, monkeypatch):
    """Environment pointing replies at the emulator, with a database in tmp_path."""
    values = {
        "REPLIES_X_API_BASE": emulator.base_url,
        "REPLIES_BSKY_API_BASE": emulator.base_url,
        "X_BEARER_TOKEN": TOKEN,
        "REPLIES_DB": str(tmp_path / "replies.db"),
        "REPLIES_HTTP_TIMEOUT": "2",
        # the emulator is the Mastodon server a test's MASTODON_ACCESS_TOKEN belongs to
        "MASTODON_INSTANCE": emulator.base_url,
        "REPLIES_REDDIT_API_BASE": emulator.base_url,
        "REDDIT_CLIENT_ID": "reddit-client",
        "REDDIT_CLIENT_SECRET": "reddit-secret",
        "REPLIES_YOUTUBE_API_BASE": emulator.base_url,
        "YOUTUBE_API_KEY": "youtube-key",
        "REPLIES_THREADS_API_BASE": emulator.base_url,
        "THREADS_ACCESS_TOKEN": "threads-token",
    }
    monkeypatch.delenv("MASTODON_ACCESS_TOKEN", raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def url(emulator, roots):
    """The web URL of the sample question on a platform."""
    return lambda platform: post_url(emulator, roots[platform])


class Run:
    """The CLI in-process. Retry back-off waits are recorded in `waits` instead of slept (the waits are
    still announced on stderr), so fault tests wait for nothing."""

    def __init__(self):
        self.runner = CliRunner()
        self.waits: list[float] = []

    def __call__(self, *args, code: int = 0, input=None):
        result = self.runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False,
                                    obj={"sleep": self.waits.append})
        assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
        return result


@pytest.fixture
def run(env):
    return Run()


def replies_subprocess(*args, env: dict, **kwargs) -> subprocess.Popen:
    """The real `replies` program in a child process."""
    full_env = {**os.environ, **env}
    return subprocess.Popen([sys.executable, "-m", "replies", *map(str, args)], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture
def serve(env, monkeypatch):
    """Start another emulator (own world or options) and point the environment at it."""
    servers = []

    def start(world: World, **options) -> Emulator:
        options.setdefault("x_tokens", [TOKEN])
        server = Emulator(world, **options).start()
        servers.append(server)
        monkeypatch.setenv("REPLIES_X_API_BASE", server.base_url)
        monkeypatch.setenv("REPLIES_BSKY_API_BASE", server.base_url)
        monkeypatch.setenv("MASTODON_INSTANCE", server.base_url)
        for name in ("REPLIES_REDDIT_API_BASE", "REPLIES_YOUTUBE_API_BASE", "REPLIES_THREADS_API_BASE"):
            monkeypatch.setenv(name, server.base_url)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    """The bundled sample harvested through the emulator and classified zero-shot, made once per session."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = CliRunner().invoke(main, ["demo", "--db", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def classified(demo_template, tmp_path, monkeypatch):
    """A private copy of the classified sample database, set as REPLIES_DB; returns its path."""
    import sqlite3

    target = tmp_path / "replies.db"
    source, copy = sqlite3.connect(demo_template), sqlite3.connect(target)
    source.backup(copy)
    source.close()
    copy.close()
    monkeypatch.setenv("REPLIES_DB", str(target))
    return target


@pytest.fixture
def cli(classified):
    """The CLI runner on the classified sample database."""
    return Run()


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory, monkeypatch):
    """No test reads the developer's own config file."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("no-config")))
    monkeypatch.delenv("REPLIES_CONFIG", raising=False)
