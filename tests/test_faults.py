"""Faults during a multi-page harvest: each run ends with the same database as a clean harvest."""

from __future__ import annotations

import resource
import signal
import sqlite3

import pytest

from replies.emulator import World
from replies.emulator.sample import post_url
from replies.emulator.world import synthetic_thread
from tests.conftest import replies_subprocess
from tests.helpers import stored


def clean_copy(run, url, tmp_path):
    path = tmp_path / "clean.db"
    run("harvest", "-q", url, "--db", path)
    return stored(path)


@pytest.mark.parametrize("platform,kind,path,options", [
    ("x", "429", "/search/recent", {"after": 3, "reset_in": 1}),
    ("x", "503", "/search/recent", {"after": 2, "times": 5}),
    ("x", "reset", "/search/recent", {"after": 4}),
    ("x", "truncate", "/search/recent", {"after": 5}),
    ("x", "timeout", "/search/recent", {"after": 1, "delay": 3}),
    ("bluesky", "503", "getQuotes", {"after": 1, "times": 5}),
    ("bluesky", "truncate", "getQuotes", {"after": 2}),
    ("mastodon", "reset", "/context", {}),
    ("mastodon", "timeout", "/quotes", {"after": 1, "delay": 3}),
])
def test_fault_mid_harvest_then_same_as_clean(serve, run, env, tmp_path, monkeypatch, platform, kind, path, options):
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "mastodon-token")
    world = World()
    root = synthetic_thread(world, platform, 900, quotes=220)
    server = serve(world)
    url = post_url(server, root)
    fault = server.inject(kind, path, **options)
    result = run("harvest", url)
    assert fault.seen > fault.after, "the fault never fired"
    assert ("Waiting" in result.stderr) or ("retrying" in result.stderr)
    assert run.waits, "no retry waited"
    assert set(stored(env["REPLIES_DB"])) == world.expected(platform, root.id)
    assert stored(env["REPLIES_DB"]) == clean_copy(run, url, tmp_path)


def _limit_file_size(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_disk_full_is_a_clear_error_nothing_is_corrupt_and_a_rerun_completes(serve, run, env, tmp_path):
    world = World()
    root = synthetic_thread(world, "x", 2000, quotes=100)
    server = serve(world)
    url = post_url(server, root)
    child_env = {**env, "REPLIES_X_API_BASE": server.base_url}
    # room for the schema and its indexes and the first pages, not for the whole thread
    proc = replies_subprocess("harvest", "-q", url, env=child_env, preexec_fn=_limit_file_size(1_000_000))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    # a file-size limit gives EFBIG, which SQLite reports as an I/O error; a full disk gives "disk is full"
    assert err.startswith("Error: could not write the database: disk I/O error (is the disk full")
    assert "Traceback" not in err and err.count("\n") == 1
    conn = sqlite3.connect(env["REPLIES_DB"])
    assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    partial = conn.execute("select count(*) from replies").fetchone()[0]
    conn.close()
    assert 0 < partial < len(world.expected("x", root.id))
    rerun = replies_subprocess("harvest", "-q", url, env=child_env)
    assert rerun.wait(timeout=120) == 0, rerun.communicate()
    assert stored(env["REPLIES_DB"]) == clean_copy(run, url, tmp_path)
