"""Fixtures: the API emulator on loopback with the bundled sample, and a CLI runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from replies import platforms
from replies.cli import main
from replies.emulator import Emulator, World
from replies.emulator.sample import load_sample, post_url

TOKEN = "test-token"

# A suite started in the background by a non-interactive shell (`cmd &`, nohup) inherits SIGINT ignored, and
# so would every command the tests start, and the Ctrl-C tests would fail for a reason that is not the code's.
# A handler here is reset to the default in each child at exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The `replies` processes the tests start compile the project's modules once and reuse them, as an installed
# wheel does, even where the environment asks Python not to write bytecode (this project's machines do): each
# of several hundred processes would otherwise compile every module it imports again (__pycache__ is ignored).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


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
        # every platform's declared settings for the emulator (its address; the emulator is also the Mastodon
        # server a test's MASTODON_ACCESS_TOKEN belongs to), and its X token
        **platforms.emulator_environment(emulator.base_url),
        "X_BEARER_TOKEN": TOKEN,
        "REPLIES_DB": str(tmp_path / "replies.db"),
        "REPLIES_HTTP_TIMEOUT": "2",
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
        for name, value in platforms.emulator_environment(server.base_url).items():
            if "{base}" in _emulator_templates()[name]:
                monkeypatch.setenv(name, value)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory, worker_id):
    """The bundled sample harvested through the emulator and classified zero-shot, made once per run: under
    pytest-xdist the first worker to need it makes it (under a file lock) in the folder the run's workers
    share, and the others read it."""
    from filelock import FileLock

    if worker_id == "master":  # one process: its own folder
        folder = tmp_path_factory.mktemp("demo")
    else:
        folder = tmp_path_factory.getbasetemp().parent / "demo-template"  # this run's, shared by its workers
        folder.mkdir(exist_ok=True)
    path = folder / "demo.db"
    with FileLock(str(folder / "make.lock")):
        if not path.exists():
            import sqlite3

            building = folder / "building.db"
            result = CliRunner().invoke(main, ["demo", "--db", str(building)], catch_exceptions=False)
            assert result.exit_code == 0, result.output
            # one self-contained file (the demo's database is in WAL mode), then in place under its name
            source, copy = sqlite3.connect(building), sqlite3.connect(folder / "copied.db")
            source.backup(copy)
            source.close()
            copy.close()
            (folder / "copied.db").rename(path)
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


def _emulator_templates() -> dict[str, str]:
    """Each declared setting's value for the emulator, with `{base}` where its address goes."""
    return platforms.emulator_environment("{base}")


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory):
    """A deterministic stand-in for the packaged encoder, for tests about what classify does with a model rather
    than how well it codes: one layer 32 wide, seeded weights, the packaged model's tokenizer. It loads and
    fine-tunes in a fraction of a second, through exactly the code paths the real model takes."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from replies.classifier.model import default_model_dir

    folder = tmp_path_factory.mktemp("encoder") / "tiny-encoder"
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=256)
    BertModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(default_model_dir()).save_pretrained(folder)
    return folder


def pytest_collection_modifyitems(config, items):
    """The slow tests first: with one worker per core, a long test started last keeps the run waiting on it."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # a stable sort: the rest keep their order
