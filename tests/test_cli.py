"""The command line as a user meets it: help, listings, the demo, bad input."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from replies.cli import COMMANDS, commands, main
from replies.platforms.builtin import bluesky, mastodon, x

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_and_is_in_the_readme(name):
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0 and len(result.output.splitlines()) > 3
    assert f"replies {name}" in README.read_text()


def test_the_list_of_commands_says_what_each_command_says_of_itself():
    """`replies --help` lists the commands without importing them, from a table: each line there is the first
    sentence of that command's own help, and every command the table names exists."""
    loaded = commands()
    assert set(loaded) == set(COMMANDS)
    for name, command in loaded.items():
        assert command.name == name
        assert COMMANDS[name][2] == command.get_short_help_str(limit=10_000), name
    listing = CliRunner().invoke(main, ["--help"]).output
    assert [line.split()[0] for line in listing.split("Commands:\n", 1)[1].splitlines()] == sorted(COMMANDS)


def test_readme_opens_with_a_two_command_quick_start():
    text = README.read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    assert text.index("Quick start") < text.index("```sh")
    assert len([line for line in block.splitlines() if line.strip()]) == 2


def test_the_readme_says_how_to_get_the_same_torch_as_a_cpu_build_off_this_machine():
    """The Quick start's torch comes as a CPU build only where one lies on disk; beside it, the same version
    from PyTorch's CPU index, for a machine where pip would take the CUDA build."""
    text = README.read_text()
    pinned = re.search(r"pip install -q (torch==[0-9.]+)", text).group(1)
    assert f"pip install {pinned} --index-url https://download.pytorch.org/whl/cpu" in text


HEAVY = ("httpx", "httpcore", "tweepy", "requests", "bs4", "tenacity", "yaml", "numpy", "torch", "transformers",
         "sklearn", "onnxruntime", "flask", "werkzeug", "pyarrow", "networkx", "tabulate")


def _loaded(code: str, tmp_path) -> set[str]:
    """The heavy libraries a fresh Python running `code` has loaded when it exits (a module bound lazily and never
    used does not count)."""
    import subprocess
    import sys

    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('LOADED', *sorted(n for n, m in sys.modules.items() if m is not None and "
             f"type(m).__name__ != '_LazyModule' and n in {HEAVY!r})))\n" + code)
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "REPLIES_DB": str(tmp_path / "replies.db")})
    line = next(line for line in ran.stdout.splitlines() if line.startswith("LOADED"))
    return set(line.split()[1:])


def test_commands_that_list_and_show_load_no_heavy_library(tmp_path, run, url):
    """`replies --help`, `threads`, `config`, `query` and a command's --help start at once: the HTTP stack, the
    model, the web server and the data libraries load only in the commands that use them."""
    run("harvest", url("mastodon"))
    already = _loaded("import click, sqlite_utils", tmp_path)  # sqlite-utils loads numpy and pandas if there
    for args in (["--help"], ["threads"], ["config"], ["classify", "--help"], ["serve", "--help"],
                 ["query", "select count(*) from replies"]):
        code = f"from replies.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        extra = _loaded(code, tmp_path) - already - ({"tabulate"} if args[-1] != "--help" else set())
        assert not extra, (args, extra)


@pytest.mark.parametrize("url,expected", [
    ("https://x.com/joy/status/1234567890123", "1234567890123"),
    ("https://twitter.com/joy/status/1234567890123?s=20", "1234567890123"),
    ("https://mobile.twitter.com/joy/statuses/42", "42"),
    ("https://x.com/i/web/status/42", "42"),
    ("https://x.com/joy", None),
    ("https://x.com/joy/status/notanumber", None),
])
def test_x_urls(url, expected):
    assert x.parse_url(url) == expected


@pytest.mark.parametrize("url,expected", [
    ("https://bsky.app/profile/joy.bsky.social/post/3kabc2xyz", ("joy.bsky.social", "3kabc2xyz")),
    ("https://bsky.app/profile/did:plc:abc123/post/3kabc", ("did:plc:abc123", "3kabc")),
    ("at://did:plc:abc123/app.bsky.feed.post/3kabc", ("did:plc:abc123", "3kabc")),
    ("at://did:plc:abc123/app.bsky.feed.like/3kabc", None),
    ("https://bsky.app/profile/joy.bsky.social", None),
])
def test_bluesky_urls(url, expected):
    assert bluesky.parse_url(url) == expected


@pytest.mark.parametrize("url,expected", [
    ("https://mastodon.social/@joy/110123456789", ("https://mastodon.social", "110123456789")),
    ("https://mastodon.social/@joy@example.org/110123456789", ("https://mastodon.social", "110123456789")),
    ("https://fosstodon.org/users/joy/statuses/110123", ("https://fosstodon.org", "110123")),
    ("http://127.0.0.1:8765/@joy/5", ("http://127.0.0.1:8765", "5")),
    ("https://mastodon.social/@joy", None),
    ("ftp://mastodon.social/@joy/1", None),
])
def test_mastodon_urls(url, expected):
    assert mastodon.parse_url(url) == expected


def test_unrecognised_url_is_one_line_and_leaves_no_database(run, env, tmp_path):
    result = run("harvest", "https://example.com/some/page", code=1)
    assert result.stderr.startswith("Error: not a post URL") and result.stderr.count("\n") == 1
    database = Path(env["REPLIES_DB"])
    assert not database.exists() and not Path(f"{database}.lock").exists()


@pytest.mark.parametrize("command", ["emulator", "serve"])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(run, command):
    result = run(command, "--port", "70000", code=2)
    assert "70000 is not in the range 0<=x<=65535" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["stats"], ["threads"], ["export"], ["evaluate"], ["report"], ["discover"],
                                     ["classify"], ["label", "x:1", "money"], ["untrack", "x:1"],
                                     ["search", "lean"], ["query", "select 1"]])
def test_a_mistyped_db_is_an_error_and_no_empty_database_is_left(run, tmp_path, command):
    typo = tmp_path / "replis.db"
    result = run(*command, "--db", typo, code=1)
    assert result.stderr == f"Error: no database at {typo}: run `replies harvest URL` first or pass --db\n"
    assert list(tmp_path.iterdir()) == []


def test_threads_lists_counts_in_every_format(run, env, url):
    """Replies and quotes with content, as `sample` counts them: Bluesky's two placeholders (a blocked post and
    one not found) are not replies, and its coverage names them rather than a different shortfall."""
    harvested = run("harvest", url("x"), url("bluesky"), url("mastodon")).output
    assert "coverage 43 of 44; 2 unavailable (1 blocked, 1 not found)" in harvested
    rows = json.loads(run("threads", "--json").output)
    assert [(r["platform"], r["replies"], r["quotes"], r["unavailable"]) for r in rows] == [
        ("x", 65, 3, 0), ("bluesky", 41, 2, 2), ("mastodon", 44, 0, 0)]
    assert rows[1]["coverage"] == "43 of 44; 2 unavailable (1 blocked, 1 not found)"
    assert all(r["last_harvest_at"] for r in rows)
    drawn = run("sample", "--size", "5", "--include-asker", "--keep-duplicates").output  # every reply with text
    assert f"5 of {sum(r['replies'] + r['quotes'] for r in rows)} replies drawn" in drawn
    csv_out = run("threads", "--csv").output.splitlines()
    assert csv_out[0].startswith("platform,id,url") and len(csv_out) == 4
    assert len(run("threads", "--nl").output.splitlines()) == 3
    assert "joy_improves" in run("threads").output  # the whole table, in a pipe
    # each row's ref opens its thread
    for row in rows:
        assert run("thread", row["ref"], "--depth", "1").output.startswith(f"{row['platform']}:")


def test_threads_fits_an_80_column_terminal_with_a_ref_to_copy(env, url, run):
    pexpect = pytest.importorskip("pexpect")
    run("harvest", url("x"), url("bluesky"), url("mastodon"))
    child = pexpect.spawn(sys.executable, ["-m", "replies", "threads"], env={**os.environ, **env, "COLUMNS": "80"},
                          encoding="utf-8", dimensions=(24, 80), timeout=60)
    child.expect(pexpect.EOF)
    lines = child.before.replace("\r", "").splitlines()
    assert lines[0].split() == ["ref", "replies", "quotes", "coverage", "harvested", "text"]
    assert all(len(line) <= 80 for line in lines) and len(lines) == 5
    stored = {r["ref"]: r for r in json.loads(run("threads", "--json").output)}
    shown = {line.split()[0]: line for line in lines[2:]}
    assert set(shown) == set(stored) and all("…" not in ref for ref in shown)  # a reference to copy, whole
    for ref, line in shown.items():  # the coverage's count and the harvest's minute, whole too
        minute = stored[ref]["last_harvest_at"][5:16].replace("T", " ")
        assert re.search(rf"\s{stored[ref]['coverage'].split(';')[0]}\s+{minute}\s", line), line


def test_one_failing_thread_does_not_stop_the_others(run, env, url):
    result = run("harvest", url("x"), "https://bsky.app/profile/nobody.example/post/3kabc", url("mastodon"), code=5)
    assert "1 of 3 threads failed" in result.stderr
    assert "x " in result.output and "mastodon " in result.output


@pytest.mark.slow
def test_demo_harvests_the_sample_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "157 posts stored" in result.output
    again = CliRunner().invoke(main, ["demo"], catch_exceptions=False)  # the demo's own database is replaced
    assert again.exit_code == 0 and "157 posts stored" in again.output
    from replies.db import open_db, upsert_thread
    other = tmp_path / "mine.db"
    upsert_thread(open_db(other), {"platform": "x", "id": "1", "author_handle": "someone_else"})
    refused = CliRunner().invoke(main, ["demo", "--db", str(other)])  # another database is never replaced
    assert refused.exit_code == 1 and "not the demo's" in refused.stderr


def test_coverage_is_stored_on_the_run_and_shown(run, env, url, emulator, world, roots):
    """What was stored against the platform's own counts, in `threads` and `--log-json`,
    and a fall in coverage is a warning. Logged out, Mastodon's quote is out of reach: 44 of 45."""
    out = run("harvest", url("mastodon"), "--log-json").output.splitlines()
    thread = next(json.loads(line) for line in out if '"event": "thread"' in line)
    assert (thread["found"], thread["expected"]) == (44, 45)
    warning = next(json.loads(line) for line in out if '"event": "warning"' in line)
    assert warning["message"].startswith("coverage: 44 of the 45 replies and quotes the platform counts")
    rows = {r["platform"]: r for r in json.loads(run("threads", "--json").output)}
    assert rows["mastodon"]["coverage"] == "44 of 45; 1 deleted, hidden or unreachable"

    run("harvest", url("x"))
    rows = {r["platform"]: r for r in json.loads(run("threads", "--json").output)}
    assert rows["x"]["coverage"] == "68 of 68"
    assert "; coverage 68 of 68" in run("harvest", url("x")).output


def test_a_fall_in_coverage_is_a_warning(serve, run, tmp_path):
    from datetime import datetime, timedelta, timezone

    from replies.emulator import World
    from replies.emulator.sample import post_url

    world = World()
    start = datetime.now(timezone.utc) - timedelta(hours=2)
    root = world.add("mastodon", "asker", "What stops improvement?", start)
    for i in range(3):
        world.add("mastodon", f"early{i}", f"Reason {i}", start + timedelta(minutes=i + 1), parent=root.id)
    server = serve(world, mastodon_context_cap=5)
    db = tmp_path / "m.db"
    first = run("harvest", post_url(server, root), "--db", db)
    assert "; coverage 3 of 3" in first.output and "Warning" not in first.stderr
    for i in range(10):  # ten more, but this server shows logged-out clients only 5 descendants
        world.add("mastodon", f"late{i}", f"Reason {i}", start + timedelta(minutes=10 + i), parent=root.id)
    second = run("harvest", post_url(server, root), "--db", db)
    assert ("coverage: 5 of the 13 replies and quotes the platform counts were stored; 8 deleted, hidden or "
            "unreachable (down from 3 of 3 at the last harvest)") in second.stderr


def test_a_server_not_started_is_said_at_once_and_a_failed_first_run_leaves_no_files(run, env, tmp_path,
                                                                                    monkeypatch):
    """A refused connection to this machine is one line at once (it took 31 s of retries), and a first
    harvest or import that stores nothing leaves no empty database or lock file behind."""
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # a port nothing listens on
    fresh = tmp_path / "fresh.db"
    monkeypatch.setenv("REPLIES_BSKY_API_BASE", f"http://127.0.0.1:{port}")
    result = run("harvest", "https://bsky.app/profile/a.bsky.social/post/3abc", "--db", fresh, code=1)
    assert f"nothing is listening at http://127.0.0.1:{port}" in result.stderr and not run.waits
    assert not list(tmp_path.glob("fresh.db*"))
    not_json = tmp_path / "comments.csv"
    not_json.write_text("id,comment\n1,hello\n")
    refused = run("import", not_json, "--db", fresh, code=1)
    assert "--format csv --map" in refused.stderr and not list(tmp_path.glob("fresh.db*"))


def test_the_emulator_and_the_web_page_do_not_share_a_default_port():
    from replies.cli.demo_cmds import emulator
    from replies.cli.serve_cmds import serve

    port = lambda command: next(p.default for p in command.params if p.name == "port")
    assert port(emulator) != port(serve)
