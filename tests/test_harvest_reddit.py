"""Harvesting Reddit: the whole comment tree behind "more" and "continue this thread" stubs, over HTTP."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from replies.emulator import World
from replies.emulator.sample import post_url
from replies.emulator.world import reddit_thread
from replies.platforms.builtin.reddit import parse_url
from tests.helpers import count, rows


def reddit_rows(db_path) -> dict[str, dict]:
    """Stored Reddit comments by the emulator's id (the stored id is Reddit's fullname, t1_ + id)."""
    return {r["id"].split("_", 1)[1]: r for r in rows(db_path, "select * from replies where platform = 'reddit'")}


def fullname(world, post_id: str) -> str:
    return ("t3_" if world.posts["reddit"][post_id].parent is None else "t1_") + post_id


@pytest.fixture(scope="module")
def big():
    world = World()
    return world, reddit_thread(world, 3000)


def test_three_thousand_comments_behind_stubs_are_harvested_exactly(serve, run, env, big):
    world, root = big
    server = serve(world)
    result = run("harvest", post_url(server, root))
    stored = reddit_rows(env["REPLIES_DB"])
    assert set(stored) == world.expected("reddit", root.id) and len(stored) == 3000
    for post in world.thread("reddit", root.id):
        row = stored[post.id]
        assert row["parent_id"] == fullname(world, post.parent) and row["thread_id"] == f"t3_{root.id}"
        if post.state == "ok":
            assert row["status"] == "ok" and row["text"] == post.text and row["author_handle"] == post.author.handle
        else:  # kept in the tree with its status, and nothing of what it said
            assert row["status"] == post.state and row["text"] is None and row["author_handle"] is None
    assert {r["status"] for r in stored.values()} == {"ok", "deleted", "removed"}
    # every stub expanded, each hidden id asked once, 100 at most a call
    asked = [i for r in server.requests_to("/api/morechildren") for i in r["query"]["children"].split(",")]
    assert len(asked) == len(set(asked)) and set(asked) <= server.reddit_stubbed
    assert all(len(r["query"]["children"].split(",")) <= 100 for r in server.requests_to("/api/morechildren"))
    continued = [r for r in server.requests_to("/comments/") if "/_/" in r["path"]]
    assert len(continued) >= 40  # "continue this thread" chains, followed to their ends
    assert all(r["query"]["sort"] == "old" and r["query"]["limit"] == "500" for r in server.requests_to("/comments/"))
    # coverage is measured against the post's own num_comments: the deleted and removed are counted by Reddit
    assert "coverage 2950 of 3000; 50 unavailable (30 deleted, 20 removed)" in result.output
    calls = len(server.requests_to("/api/morechildren"))
    assert calls <= math.ceil(len(set(asked)) / 100) + len(continued)  # batches are full but for each stage's last


def test_a_comment_permalink_harvests_that_comment_s_replies(serve, run, env, big):
    world, root = big
    server = serve(world)
    top = max(world.replies_to("reddit", root.id), key=lambda p: len(world.thread("reddit", p.id)))
    url = f"https://old.reddit.com/r/NHS/comments/{root.id}/a_question/{top.id}/?context=3"
    run("harvest", url)
    stored = reddit_rows(env["REPLIES_DB"])
    assert set(stored) == {p.id for p in world.thread("reddit", top.id)}
    assert count(env["REPLIES_DB"], "select count(*) from threads where id = ?", [f"t1_{top.id}"]) == 1
    assert server.requests_to(f"/comments/{root.id}/_/{top.id}")


def _small():
    world = World()
    start = datetime.now(timezone.utc) - timedelta(hours=5)
    root = world.add("reddit", "asker", "Why is lean harder in the NHS?", start)
    for i in range(700):
        world.add("reddit", f"u{i}", f"Comment {i}", start + timedelta(seconds=i + 1), parent=root.id)
    return world, root


def test_rate_limit_headers_and_429_are_honoured(serve, run, env):
    world, root = _small()
    server = serve(world)
    server.inject("429", "/api/morechildren", reset_in=7)
    server.inject("503", "/api/morechildren", after=1)
    result = run("harvest", post_url(server, root))
    assert count(env["REPLIES_DB"], "select count(*) from replies") == 700
    assert any(7 <= w <= 9 for w in run.waits)  # X-Ratelimit-Reset is seconds from now, waited through
    assert "Waiting" in result.stderr


def test_a_spent_window_stops_with_no_wait_and_the_next_run_carries_on(serve, run, env):
    world, root = _small()
    server = serve(world)
    server.limits["reddit"] = 2  # the first page and one morechildren call, then the window is spent
    result = run("harvest", "--no-wait", post_url(server, root), code=3)
    assert "rate limit" in result.stderr.lower()
    partial = count(env["REPLIES_DB"], "select count(*) from replies")
    assert 500 <= partial < 700
    server.limits["reddit"] = 100_000
    run("harvest", post_url(server, root))
    assert count(env["REPLIES_DB"], "select count(*) from replies") == 700
    # the second run read its checkpoint: the first page again, then only the ids still hidden
    second = server.requests_to("/api/morechildren")[1:]
    assert len(second) == 1


def test_credentials_missing_rejected_and_a_post_that_is_not_there(serve, run, env, monkeypatch):
    world, root = _small()
    server = serve(world)
    url = post_url(server, root)
    monkeypatch.delenv("REDDIT_CLIENT_SECRET")
    result = run("harvest", url, code=4)
    assert "REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET" in result.stderr
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "wrong-secret")
    result = run("harvest", url, code=4)
    assert "rejected" in result.stderr and "wrong-secret" not in result.stderr
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "reddit-secret")
    result = run("harvest", "https://www.reddit.com/r/NHS/comments/zzzzzz/gone/", code=1)
    assert "not there or not public" in result.stderr
    monkeypatch.setenv("REPLIES_REDDIT_API_BASE", "http://reddit.example.org")
    result = run("harvest", url, code=4)
    assert "not sent over plain http://" in result.stderr


def test_the_secret_goes_only_to_the_api_host_named(serve, run, env):
    """With only REPLIES_REDDIT_API_BASE set, the client secret goes to that host, never to www.reddit.com."""
    from replies.harvester.settings import Settings
    settings = Settings.from_env({"REPLIES_REDDIT_API_BASE": "http://127.0.0.1:9"})
    assert settings.reddit_auth_base == "http://127.0.0.1:9"
    assert Settings.from_env({}).reddit_auth_base == "https://www.reddit.com"


@pytest.mark.parametrize("url,expected", [
    ("https://www.reddit.com/r/NHS/comments/1abc2d/why_is_lean_harder/", ("1abc2d", None)),
    ("https://reddit.com/r/NHS/comments/1abc2d", ("1abc2d", None)),
    ("https://old.reddit.com/r/NHS/comments/1abc2d/slug/k9x8y7z/", ("1abc2d", "k9x8y7z")),
    ("https://www.reddit.com/r/NHS/comments/1abc2d/comment/k9x8y7z/?utm_source=share", ("1abc2d", "k9x8y7z")),
    ("https://np.reddit.com/comments/1abc2d", ("1abc2d", None)),
    ("https://redd.it/1abc2d", ("1abc2d", None)),
    ("https://www.reddit.com/r/NHS/", None),
    ("https://www.reddit.com.evil.example/r/NHS/comments/1abc2d/", None),
    ("https://redd.it/1abc2d/../x", None),
])
def test_url_forms(url, expected):
    assert parse_url(url) == expected
