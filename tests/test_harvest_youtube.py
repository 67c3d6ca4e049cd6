"""Harvesting YouTube: every comment thread and every reply, the quota counted and its end survived."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from replies.emulator import World
from replies.emulator.sample import post_url
from replies.emulator.world import youtube_video
from replies.platforms.builtin.youtube import parse_url
from tests.helpers import count, rows


def youtube_rows(db_path) -> dict[str, dict]:
    return {r["id"]: r for r in rows(db_path, "select * from replies where platform = 'youtube'")}


def minimum_requests(world, video) -> int:
    """videos.list, the pages of threads, and the reply pages of threads with more than the 5 shown."""
    tops = world.replies_to("youtube", video.id)
    replies = [len(world.replies_to("youtube", t.id)) for t in tops]
    return 1 + math.ceil(len(tops) / 100) + sum(math.ceil(n / 100) for n in replies if n > 5)


@pytest.fixture(scope="module")
def big():
    world = World()
    return world, youtube_video(world, 2500)


def test_two_thousand_five_hundred_threads_and_long_reply_chains_exactly(serve, run, env, big):
    world, video = big
    server = serve(world)
    result = run("harvest", post_url(server, video))
    stored = youtube_rows(env["REPLIES_DB"])
    assert set(stored) == world.expected("youtube", video.id)
    for post in world.thread("youtube", video.id):
        row = stored[post.id]
        assert row["parent_id"] == post.parent and row["text"] == post.text and row["thread_id"] == video.id
        assert row["author_handle"] == post.author.handle and row["like_count"] == post.likes
    long = [t for t in world.replies_to("youtube", video.id) if len(world.replies_to("youtube", t.id)) >= 60]
    assert len(long) == 4 and all(len(world.replies_to("youtube", t.id)) ==
                                  count(env["REPLIES_DB"], "select count(*) from replies where parent_id = ?", [t.id])
                                  for t in long)
    requests = server.requests_to("/youtube/v3/")
    assert len(requests) == minimum_requests(world, video)
    assert all(r["query"]["key"] == "youtube-key" for r in requests)
    assert all(r["query"].get("maxResults") == "100" and r["query"]["textFormat"] == "plainText"
               for r in requests if "comment" in r["path"])
    assert f"{len(requests)} quota units" in result.output
    assert f"coverage {len(stored)} of {len(stored)}" in result.output


def test_quota_exhaustion_stops_with_exit_3_and_the_next_run_carries_on(serve, run, env, big):
    world, video = big
    server = serve(world, youtube_quota=12)
    result = run("harvest", post_url(server, video), code=3)
    assert "quota" in result.stderr and "midnight Pacific" in result.stderr and "youtube-key" not in result.stderr
    assert count(env["REPLIES_DB"], "select outcome = 'rate_limited' from harvest_runs") == 1
    first = len(server.requests_to("/youtube/v3/"))
    server.youtube_quota = 100_000
    run("harvest", post_url(server, video))
    assert set(youtube_rows(env["REPLIES_DB"])) == world.expected("youtube", video.id)
    # the second run began at the page the first stopped on, not at the start
    assert len(server.requests_to("/youtube/v3/")) - first < minimum_requests(world, video)


def test_rate_limit_and_server_errors_are_retried(serve, run, env):
    world = World()
    video = youtube_video(world, 230, long_threads=(120,))
    server = serve(world)
    server.inject("429", "/commentThreads", after=1, reset_in=1)
    server.inject("503", "/comments", after=1)
    run("harvest", post_url(server, video))
    assert set(youtube_rows(env["REPLIES_DB"])) == world.expected("youtube", video.id)
    assert run.waits


def test_key_missing_rejected_video_missing_and_comments_off(serve, run, env, monkeypatch):
    world = World()
    start = datetime.now(timezone.utc) - timedelta(days=1)
    video = world.add("youtube", "channel", "A video", start)
    closed = world.add("youtube", "channel", "Comments off", start, labels=["comments_disabled"])
    server = serve(world)
    monkeypatch.delenv("YOUTUBE_API_KEY")
    assert "YOUTUBE_API_KEY" in run("harvest", post_url(server, video), code=4).stderr
    monkeypatch.setenv("YOUTUBE_API_KEY", "not-the-key")
    result = run("harvest", post_url(server, video), code=4)
    assert "keyInvalid" in result.stderr and "not-the-key" not in result.stderr
    monkeypatch.setenv("YOUTUBE_API_KEY", "youtube-key")
    assert "does not exist" in run("harvest", "https://youtu.be/AAAAAAAAAAA", code=1).stderr
    result = run("harvest", post_url(server, closed))
    assert "comments turned off" in result.stderr
    assert count(env["REPLIES_DB"], "select count(*) from threads where id = ?", [closed.id]) == 1


@pytest.mark.parametrize("url,expected", [
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", ("dQw4w9WgXcQ",)),
    ("https://youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42s", ("dQw4w9WgXcQ",)),
    ("https://m.youtube.com/watch?v=dQw4w9WgXcQ", ("dQw4w9WgXcQ",)),
    ("https://youtu.be/dQw4w9WgXcQ?si=abc", ("dQw4w9WgXcQ",)),
    ("https://www.youtube.com/shorts/dQw4w9WgXcQ", ("dQw4w9WgXcQ",)),
    ("https://www.youtube.com/live/dQw4w9WgXcQ?feature=share", ("dQw4w9WgXcQ",)),
    ("https://www.youtube.com/embed/dQw4w9WgXcQ", ("dQw4w9WgXcQ",)),
    ("https://www.youtube.com/watch?v=short", None),
    ("https://www.youtube.com/@channel", None),
    ("https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ", None),
    ("ftp://youtu.be/dQw4w9WgXcQ", None),
])
def test_url_forms(url, expected):
    assert parse_url(url) == expected
