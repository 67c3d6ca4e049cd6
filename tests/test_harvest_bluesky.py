"""Harvesting Bluesky threads from the emulated AppView over real HTTP."""

from __future__ import annotations

from replies.emulator import World
from replies.emulator.sample import post_url
from replies.emulator.world import synthetic_thread
from tests.helpers import count, stored


def test_whole_tree_including_branches_the_appview_cut(run, env, emulator, world, roots, url):
    result = run("harvest", url("bluesky"))
    rows = stored(env["REPLIES_DB"], "bluesky")
    assert set(rows) == world.expected("bluesky", roots["bluesky"].id)
    # The 14-deep exchange is deeper than the AppView's depth cap: its tail came from a branch fetch.
    threads = emulator.requests_to("getPostThread")
    assert len(threads) == 2 and threads[1]["query"]["uri"] != threads[0]["query"]["uri"]
    by_key = {p.key: p for p in world.posts["bluesky"].values()}
    deepest = rows[by_key["b21"].id]
    assert deepest["parent_id"] == by_key["b20"].id and deepest["text"] == "Can agree with that 😅"
    assert "45 new" in result.output


def test_not_found_and_blocked_posts_are_recorded_as_such(run, env, world, url):
    run("harvest", url("bluesky"))
    rows = stored(env["REPLIES_DB"], "bluesky")
    by_key = {p.key: p for p in world.posts["bluesky"].values()}
    assert rows[by_key["b32"].id]["status"] == "not_found" and rows[by_key["b32"].id]["text"] is None
    assert rows[by_key["b33"].id]["status"] == "blocked"
    assert rows[by_key["b33"].id]["author_id"] == by_key["b33"].author.id


def test_big_threads_served_shallow_are_filled_in_branch_by_branch(serve, env, run):
    world = World()
    root = synthetic_thread(world, "bluesky", 300, quotes=130, branching=3)
    server = serve(world, bsky_big_thread=(50, 2), bsky_max_depth=6)
    run("harvest", post_url(server, root))
    assert set(stored(env["REPLIES_DB"])) == world.expected("bluesky", root.id)
    assert len(server.requests_to("getPostThread")) > 2
    quote_pages = server.requests_to("getQuotes")
    assert len(quote_pages) == 2 and quote_pages[1]["query"]["cursor"]


def test_at_uri_and_did_urls_are_accepted(run, env, roots, world):
    root = roots["bluesky"]
    run("harvest", root.id)
    did_url = f"https://bsky.app/profile/{root.author.id}/post/{root.id.rsplit('/', 1)[-1]}"
    result = run("harvest", did_url)
    assert "0 new" in result.output
    assert count(env["REPLIES_DB"], "select count(*) from threads") == 1


def test_unknown_handle_and_missing_post(run, env, roots):
    result = run("harvest", "https://bsky.app/profile/nobody.example/post/3kabc", code=1)
    assert "does not resolve" in result.stderr
    handle = roots["bluesky"].author.handle
    result = run("harvest", f"https://bsky.app/profile/{handle}/post/3zzzzzzzzzzzz", code=1)
    assert "does not exist" in result.stderr


def test_a_branch_gone_since_the_thread_was_read_costs_only_that_branch(run, env, emulator, world, roots, url):
    """The deep exchange's branch is re-fetched; a NotFound there is that branch's outcome,
    not the whole thread's (it used to fail the harvest)."""
    first = run("harvest", url("bluesky"), "--db", env["REPLIES_DB"] + ".probe")
    branch = emulator.requests_to("getPostThread")[1]["query"]["uri"]
    emulator.record("/xrpc/app.bsky.feed.getPostThread", {"error": "NotFound", "message": f"Post not found: {branch}"},
                    status=400, query={"uri": branch})
    result = run("harvest", url("bluesky"))
    assert f"Bluesky post {branch} shows replies the thread left out, but it is gone now" in result.stderr
    rows = stored(env["REPLIES_DB"], "bluesky")
    by_key = {p.key: p for p in world.posts["bluesky"].values()}
    assert by_key["b21"].id not in rows  # the deleted branch's tail
    below = world.thread("bluesky", branch)  # what only the branch fetch brings
    assert len(rows) == count(env["REPLIES_DB"] + ".probe", "select count(*) from replies") - len(below) > 0
    assert "45 new" in first.output and "coverage" in result.stderr
