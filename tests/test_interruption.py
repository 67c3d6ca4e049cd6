"""A harvest killed mid-way (kill -9 or Ctrl-C) and run again ends exactly like an uninterrupted one."""

from __future__ import annotations

import signal

import pytest

from replies.emulator import World
from replies.emulator.sample import post_url
from replies.emulator.world import reddit_thread, synthetic_thread, youtube_video
from tests.conftest import replies_subprocess
from tests.helpers import count, rows, stored


def outcomes(db_path) -> list[str]:
    return [r["outcome"] for r in rows(db_path, "select outcome from harvest_runs order by id")]


def _kill_after(server, env, url, fragment: str, pages: int, sig=signal.SIGKILL):
    """Start a harvest, send `sig` while it waits for page `pages + 1` (pages 1..`pages` answered)."""
    gate = server.gate(fragment, after=pages)
    proc = replies_subprocess("harvest", "-q", url, env=env)
    assert gate.held.wait(60), f"harvest never asked for page {pages + 1}: {proc.communicate()}"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    gate.release()
    return proc.returncode, err


@pytest.mark.parametrize("platform,fragment,pages", [
    ("x", "/search/recent", 2), ("x", "/search/recent", 6), ("x", "/quote_tweets", 2),
    ("bluesky", "getQuotes", 2), ("mastodon", "/quotes", 2),
    ("reddit", "/api/morechildren", 2), ("reddit", "/_/", 3), ("youtube", "/comments", 2),
    ("youtube", "/commentThreads", 2), ("threads", "/conversation", 2),
])
def test_kill_9_then_rerun_equals_a_clean_harvest(serve, env, run, tmp_path, monkeypatch, platform, fragment,
                                                  pages):
    world = World()
    if platform == "reddit":
        root = reddit_thread(world, 1500, chains=12)
    elif platform == "youtube":
        root = youtube_video(world, 450, long_threads=(150, 130, 40))
    else:
        root = synthetic_thread(world, platform, 900, quotes=0 if platform == "threads" else 220)
    server = serve(world)
    url = post_url(server, root)
    child_env = {**env, "REPLIES_X_API_BASE": server.base_url, "REPLIES_BSKY_API_BASE": server.base_url,
                 "MASTODON_INSTANCE": server.base_url,
                 "MASTODON_ACCESS_TOKEN": "mastodon-token", "REPLIES_REDDIT_API_BASE": server.base_url,
                 "REPLIES_YOUTUBE_API_BASE": server.base_url, "REPLIES_THREADS_API_BASE": server.base_url}
    code, _ = _kill_after(server, child_env, url, fragment, pages)
    assert code == -signal.SIGKILL
    partial = count(env["REPLIES_DB"], "select count(*) from replies")
    assert partial < len(world.expected(platform, root.id))
    rerun = replies_subprocess("harvest", "-q", url, env=child_env)
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert "taking over the lock of a harvest that died" in err  # the killed run's lock is stale
    assert "running" not in outcomes(env["REPLIES_DB"]) and "interrupted" in outcomes(env["REPLIES_DB"])
    clean_db = tmp_path / "clean.db"
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "mastodon-token")
    run("harvest", "-q", url, "--db", clean_db)
    resumed, reference = stored(env["REPLIES_DB"]), stored(clean_db)
    assert set(reference) == world.expected(platform, root.id)
    assert resumed == reference


def test_ctrl_c_stops_cleanly_and_records_the_run(serve, env, tmp_path):
    world = World()
    root = synthetic_thread(world, "x", 900)
    server = serve(world)
    child_env = {**env, "REPLIES_X_API_BASE": server.base_url}
    code, err = _kill_after(server, child_env, post_url(server, root), "/search/recent", 3, signal.SIGINT)
    assert code == 130
    assert "Interrupted" in err and "Traceback" not in err
    assert count(env["REPLIES_DB"], "select count(*) from harvest_runs where outcome = 'interrupted'") == 1
    assert count(env["REPLIES_DB"], "select count(*) from cursors where name = 'search.next_token'") == 1
