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
    url = platforms.resolve(forum.sample)(world)
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

    # `replies emulator` serves the plugin's API and its sample thread beside the built-in ones
    served = subprocess.Popen([sys.executable, "-m", "replies", "emulator", "--port", "0"], text=True,
                              env={**os.environ, "PYTHONPATH": str(installed)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        printed = [served.stdout.readline() for _ in range(8)]
    finally:
        served.terminate()
        served.wait(timeout=30)
    exported = printed[0]
    assert "REPLIES_FORUM_API_BASE=http://127.0.0.1:" in exported and "FORUM_API_KEY=forum-key" in exported
    assert printed[-1].startswith("forum: https://forum.example/t/"), printed


def test_a_broken_plugin_is_left_out_with_a_warning_and_the_others_still_work(tmp_path, capsys):
    """An entry point that fails to load, or names something that is not a Platform, costs only itself."""
    site = tmp_path / "site"
    info = site / "broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[replies.platforms]\nbroken = no_such_module_here:PLATFORM\n"
                                           "wrong = json:loads\ngreedy = greedy_plugin:PLATFORM\n")
    # a platform whose option would take a flag `replies harvest` has already
    (site / "greedy_plugin.py").write_text(
        "from replies.platforms import Option, Platform\n"
        "PLATFORM = Platform(name='greedy', title='Greedy', url_forms=('https://greedy.example/ID',),\n"
        "                    parse_url=lambda url: None, source='greedy_plugin:Source',\n"
        "                    options=(Option('everything', '--all', 'takes --all'),))\n")
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    platforms.reload()
    try:
        assert platforms.names() == ("x", "bluesky", "mastodon", "reddit", "youtube", "threads", "greedy")
        said = capsys.readouterr().err
        assert "platform plugin 'broken' (no_such_module_here:PLATFORM) could not be loaded" in said, said
        assert "platform plugin 'wrong' (json:loads) is left out: it names a function, not a " \
               "replies.platforms.Platform" in said, said
        shown = replies("harvest", "--help", env={"PYTHONPATH": str(site)})
        assert shown.returncode == 0 and "Harvest every tracked thread" in shown.stdout  # --all is still its own
        assert "the option --all (everything) of greedy is left out" in shown.stderr, shown.stderr
    finally:
        sys.path.remove(str(site))
        importlib.invalidate_caches()
        platforms.reload()


KEYWORD_METHOD = '''
import numpy as np
from replies.classifier.methods import Option, Scorer, ScoringMethod


class Keyword(ScoringMethod):
    """Scores 1 where a reply's text holds a category's id (underscores as spaces), else 0."""
    name = "keyword"
    summary = "a category wherever its name appears in the text"
    options = (Option("ignore_case", "--ignore-case", "keyword: match whatever the case"),)

    def prepare(self, database, codebook, gold, run, *, ignore_case=False):
        fold = (lambda t: t.lower()) if ignore_case else (lambda t: t)
        words = [fold(c.replace("_", " ")) for c in codebook.ids]
        score = lambda texts, on_share: np.array([[float(w in fold(t)) for w in words] for t in texts])
        return Scorer("keyword", "keyword-" + ("folded" if ignore_case else "exact"), score)
'''


def test_a_method_from_an_installed_plugin_is_one_class_and_one_registration(tmp_path):
    """A scoring method registered through the `replies.methods` entry point: `replies classify` offers it
    and its option, refuses its option for another method and another method's option for it, and stores
    its labels with their provenance through the shared loop."""
    from replies import db

    site = tmp_path / "site"
    (site / "keyword_method").mkdir(parents=True)
    (site / "keyword_method" / "__init__.py").write_text(KEYWORD_METHOD)
    info = site / "keyword_method-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: keyword-method\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[replies.methods]\nkeyword = keyword_method:Keyword\n")
    database = db.open_db(tmp_path / "replies.db")
    db.upsert_thread(database, {"platform": "x", "id": "1", "text": "Why is lean harder?"})
    db.store_replies(database, [{"platform": "x", "id": str(i), "thread_id": "1", "kind": "reply", "status": "ok",
                                 "text": text} for i, text in enumerate(
        ["It is all about Money", "policy churn", "no money and bad policy", "nothing to add"], start=2)])
    env = {"REPLIES_DB": str(tmp_path / "replies.db"), "PYTHONPATH": str(site),
           "REPLIES_CONFIG": str(tmp_path / "none.toml")}

    shown = replies("classify", "--help", env=env)
    assert "keyword: a category wherever its name appears" in " ".join(shown.stdout.split())
    assert "--ignore-case" in shown.stdout
    refused = replies("classify", "--method", "zero-shot", "--ignore-case", env=env)
    assert refused.returncode == 2 and "--ignore-case is for --method keyword, not zero-shot" in refused.stderr
    refused = replies("classify", "--method", "keyword", "--backend", "int8", env=env)
    assert refused.returncode == 2 and "--backend is for --method auto or zero-shot or few-shot, not keyword" \
        in refused.stderr, refused.stderr

    done = replies("classify", "--method", "keyword", "--ignore-case", "--threshold", "0.5", env=env)
    assert done.returncode == 0, done.stderr
    assert "4 replies classified with keyword (keyword-folded)" in done.stdout, done.stdout
    tagged = database.execute("select id, category, method, model from predictions where predicted = 1"
                              " order by id, category").fetchall()
    assert tagged == [("2", "money", "keyword", "keyword-folded"), ("3", "policy", "keyword", "keyword-folded"),
                      ("4", "money", "keyword", "keyword-folded"), ("4", "policy", "keyword", "keyword-folded")]
