"""A platform added by an installed plugin works everywhere a built-in one does, with no change to replies.

The plugin is a separate distribution kept in tests/plugin_forum: built and installed (as pip installs any
plugin) into a folder of its own, then put on the path of the `replies` program and of this process (whose
emulator serves the plugin's API). Through the `replies.platforms` entry point alone it gets its URL forms and
option in `replies harvest --help`, a harvest from its emulator, labels, exports with its own mention pattern
pseudonymised, and its settings in `replies config`."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from replies import platforms
from replies.emulator import Emulator, World

PLUGIN = Path(__file__).resolve().parent / "plugin_forum"


@pytest.fixture
def installed(tmp_path):
    """The plugin built and installed into its own folder, which this process also imports from."""
    source = tmp_path / "source"
    shutil.copytree(PLUGIN, source)  # the build's own files (build/, egg-info) land here, not in the tree
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, capture_output=True)
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    platforms.reload()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        for name in [m for m in sys.modules if m == "replies_forum" or m.startswith("replies_forum.")]:
            del sys.modules[name]
        importlib.invalidate_caches()
        platforms.reload()


def replies(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "replies", *args], env={**os.environ, **env}, text=True,
                          capture_output=True, timeout=120)


@pytest.mark.slow
def test_a_platform_from_an_installed_plugin_works_everywhere_a_built_in_one_does(installed, tmp_path):
    assert platforms.names()[:6] == ("x", "bluesky", "mastodon", "reddit", "youtube", "threads")
    assert "forum" in platforms.names()
    forum = platforms.get("forum")
    world = World()
    url = platforms.load(forum.sample)(world)
    with Emulator(world) as server:
        env = {**platforms.emulator_environment(server.base_url), "REPLIES_DB": str(tmp_path / "replies.db"),
               "PYTHONPATH": str(installed), "REPLIES_CONFIG": str(tmp_path / "none.toml")}
        assert env["FORUM_API_KEY"] == "forum-key" and env["REPLIES_FORUM_API_BASE"] == server.base_url

        shown = replies("harvest", "--help", env=env)
        assert "https://forum.example/t/ID" in shown.stdout and "--with-hidden" in shown.stdout, shown.stdout

        done = replies("harvest", url, "--with-hidden", env=env)
        assert done.returncode == 0, done.stderr
        assert "forum " in done.stdout and "7 new" in done.stdout and "coverage 7 of 7" in done.stdout, done.stdout
        pages = server.requests_to("/forum-api/topics/")
        posts_pages = [r for r in pages if r["path"].endswith("/posts.json")]
        # the option reached the forum's Source, and the pages were followed to the end (3 a page)
        assert len(posts_pages) == 3 and all(r["query"].get("hidden") == "1" for r in posts_pages)

        listed = json.loads(replies("threads", "--json", env=env).stdout)
        thread, = [row for row in listed if row["platform"] == "forum"]
        assert thread["replies"] == 7 and thread["ref"] == f"forum:{url.rsplit('/', 1)[1]}"

        replied = [p for p in world.thread("forum", url.rsplit("/", 1)[1]) if "~nurse_amy" in p.text][0]
        labelled = replies("label", f"forum:{replied.id}", "time_resources", "--reviewer", "amy", env=env)
        assert labelled.returncode == 0, labelled.stderr

        exported = replies("export", "--format", "jsonl", env=env)
        records = {r["id"]: r for r in map(json.loads, exported.stdout.splitlines())}
        assert len(records) == 7 and records[replied.id]["gold"] == ["time_resources"]
        assert records[replied.id]["platform"] == "forum" and records[replied.id]["author"] == "doc_bob"

        hidden = replies("export", "--format", "jsonl", "--pseudonymize", env=env)
        texts = [json.loads(line) for line in hidden.stdout.splitlines()]
        mentioned = [r for r in texts if r["text"].startswith("Agree with")][0]
        # the plugin's own mention form (~member) is pseudonymised as the same person as the author field
        amy = next(r["author"] for r in texts if r["text"].startswith("Nobody gives us time"))
        assert mentioned["text"] == f"Agree with ~{amy}, there is no protected time at all", mentioned
        assert all(r["author"].startswith("user_") and r["url"] is None for r in texts)
        assert "nurse_amy" not in hidden.stdout and "porter_dan" not in hidden.stdout

        config = replies("config", env={**env, "FORUM_API_KEY": "forum-secret-key-1234"})
        assert config.returncode == 0, config.stderr
        key_line, = [line for line in config.stdout.splitlines() if line.startswith("FORUM_API_KEY")]
        assert "forum-secret-key-1234" not in key_line and "***" in key_line
        assert any(line.startswith("REPLIES_FORUM_API_BASE") and server.base_url in line
                   for line in config.stdout.splitlines())
        assert "[forum]" in replies("config", "--help", env=env).stdout


def test_a_broken_plugin_is_left_out_with_a_warning_and_the_others_still_work(tmp_path, capsys):
    """An entry point that fails to load, or names something that is not a Platform, costs only itself."""
    site = tmp_path / "site"
    info = site / "broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[replies.platforms]\nbroken = no_such_module_here:PLATFORM\n"
                                           "wrong = json:loads\n")
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    platforms.reload()
    try:
        assert platforms.names() == ("x", "bluesky", "mastodon", "reddit", "youtube", "threads")
        said = capsys.readouterr().err
        assert "platform plugin 'broken' (no_such_module_here:PLATFORM) could not be loaded" in said, said
        assert "platform plugin 'wrong' (json:loads) is left out: it names a function, not a " \
               "replies.platforms.Platform" in said, said
    finally:
        sys.path.remove(str(site))
        importlib.invalidate_caches()
        platforms.reload()
