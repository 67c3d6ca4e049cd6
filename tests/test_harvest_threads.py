"""Harvesting Threads with the owner's token: the whole conversation, any depth, over HTTP."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from replies.emulator import World
from replies.emulator.sample import post_url
from replies.emulator.world import threads_conversation
from replies.platforms.builtin.threads import parse_url
from tests.helpers import count, rows


def threads_rows(db_path) -> dict[str, dict]:
    return {r["id"]: r for r in rows(db_path, "select * from replies where platform = 'threads'")}


def test_five_hundred_replies_eight_deep_exactly(serve, run, env):
    world = World()
    root = threads_conversation(world, 500, depth=8)
    for i in range(130):  # the owner's later posts: the URL's code is on the second page of theirs
        world.add("threads", "asker", f"Another post {i}", world.now() - timedelta(hours=1, minutes=i))
    server = serve(world)
    result = run("harvest", post_url(server, root))
    stored = threads_rows(env["REPLIES_DB"])
    assert set(stored) == world.expected("threads", root.id) and len(stored) == 500
    for post in world.thread("threads", root.id):
        assert stored[post.id]["parent_id"] == post.parent and stored[post.id]["text"] == post.text
    assert "coverage 500 of 500" in result.output
    pages = server.requests_to("/conversation")
    assert len(pages) == math.ceil(500 / 100)
    assert all(r["query"]["reverse"] == "false" for r in pages)
    # /me, the owner's posts until the code is found (newest first, 100 a page), the reply count, the pages
    assert len(server.requests_to("/me/threads")) == 2
    assert len(server.requests_to("/v1.0/")) == 1 + 2 + 1 + len(pages)
    assert all(r["query"]["access_token"] == "threads-token" for r in server.requests_to("/v1.0/"))


def test_without_the_owner_s_token_says_what_is_missing(serve, run, env, monkeypatch):
    world = World()
    root = threads_conversation(world, 20)
    server = serve(world, threads_tokens={"threads-token": "asker", "other-token": "someone_else"})
    monkeypatch.delenv("THREADS_ACCESS_TOKEN")
    result = run("harvest", post_url(server, root), code=4)
    assert "only to its owner" in result.stderr and "@asker" in result.stderr
    monkeypatch.setenv("THREADS_ACCESS_TOKEN", "other-token")
    result = run("harvest", post_url(server, root), code=4)
    assert "belongs to @someone_else, not @asker" in result.stderr
    monkeypatch.setenv("THREADS_ACCESS_TOKEN", "expired")
    result = run("harvest", post_url(server, root), code=4)
    assert "rejected THREADS_ACCESS_TOKEN" in result.stderr and "expired" not in result.stderr.split("(")[0]
    monkeypatch.setenv("THREADS_ACCESS_TOKEN", "threads-token")
    result = run("harvest", "https://www.threads.net/@asker/post/DoesNotExist1", code=1)
    assert "no post DoesNotExist1" in result.stderr


def test_rate_limit_error_code_is_waited_out(serve, run, env):
    world = World()
    root = threads_conversation(world, 250)
    server = serve(world)
    server.inject("429", "/conversation", after=1)
    server.inject("500", "/conversation", after=2)
    run("harvest", post_url(server, root))
    assert set(threads_rows(env["REPLIES_DB"])) == world.expected("threads", root.id)
    assert any(w >= 60 for w in run.waits)  # Graph error code 4: wait a minute, then carry on
    assert count(env["REPLIES_DB"], "select count(*) from harvest_runs where outcome = 'ok'") == 1


@pytest.mark.parametrize("url,expected", [
    ("https://www.threads.net/@asker/post/C8abc_DEF-1", ("asker", "C8abc_DEF-1")),
    ("https://threads.com/@Some.User_1/post/C8abcDEF12?xmt=abc", ("some.user_1", "C8abcDEF12")),
    ("https://www.threads.com/@asker/post/C8abcDEF12/", ("asker", "C8abcDEF12")),
    ("https://www.threads.net/@asker", None),
    ("https://www.threads.net.evil.example/@a/post/C8abcDEF12", None),
])
def test_url_forms(url, expected):
    assert parse_url(url) == expected


def test_an_api_base_that_names_the_version_is_taken_as_it_is(serve, run, env, monkeypatch):
    world = World()
    root = threads_conversation(world, 30)
    server = serve(world)
    monkeypatch.setenv("REPLIES_THREADS_API_BASE", f"{server.base_url}/v1.0/")
    run("harvest", post_url(server, root))
    assert set(threads_rows(env["REPLIES_DB"])) == world.expected("threads", root.id)
    assert all(r["path"].startswith("/v1.0/") and not r["path"].startswith("/v1.0/v1.0")
               for r in server.requests_to(""))
