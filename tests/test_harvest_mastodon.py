"""Harvesting Mastodon threads, logged out (capped context) and with a token."""

from __future__ import annotations

from replies.harvester.emulator import World
from replies.harvester.emulator.sample import post_url
from replies.harvester.emulator.world import synthetic_thread
from tests.helpers import count, stored


def test_depth_cap_is_detected_and_filled(run, env, emulator, world, roots, url):
    run("harvest", url("mastodon"))
    rows = stored(env["REPLIES_DB"], "mastodon")
    replies = {p.id for p in world.thread("mastodon", roots["mastodon"].id)}
    assert set(rows) == replies  # logged out: every reply, no quotes
    contexts = emulator.requests_to("/context")
    assert len(contexts) == 2  # the capped answer, then the context of the deepest post
    assert all(not r["authorization"] for r in emulator.requests_to("/api/"))


def test_plain_text_is_faithful_and_html_is_kept(run, env, world, url):
    run("harvest", url("mastodon"))
    rows = stored(env["REPLIES_DB"], "mastodon")
    for post in world.thread("mastodon", next(iter(world.posts["mastodon"].values())).id):
        assert rows[post.id]["text"] == post.text
    entities = next(p for p in world.posts["mastodon"].values() if p.key == "m39")
    assert "\n" in rows[entities.id]["text"] and "<session>" in rows[entities.id]["text"]
    assert "https://example.org/lean-healthcare/obstacles/2026/thread-notes" in rows[entities.id]["text"]
    import sqlite3
    html = sqlite3.connect(env["REPLIES_DB"]).execute("select html from replies where id like ?",
                                                      ["%/" + entities.id]).fetchone()[0]
    assert "&lt;session&gt;" in html and 'class="invisible"' in html


def test_breadth_cap_warns_without_a_token_and_a_token_gets_everything(serve, env, run, monkeypatch):
    world = World()
    root = synthetic_thread(world, "mastodon", 150, quotes=45)
    server = serve(world)
    result = run("harvest", post_url(server, root))
    assert "MASTODON_ACCESS_TOKEN" in result.stderr
    assert len(stored(env["REPLIES_DB"])) < 150
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "mastodon-token")
    result = run("harvest", post_url(server, root))
    assert set(stored(env["REPLIES_DB"])) == world.expected("mastodon", root.id)
    quotes = server.requests_to("/quotes")
    assert len(quotes) == 2 and quotes[1]["query"].get("max_id")


def test_rejected_token_and_missing_status(run, env, url, monkeypatch, emulator):
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "not-a-token")
    result = run("harvest", url("mastodon"), code=4)
    assert "rejected" in result.stderr and "not-a-token" not in result.stderr
    monkeypatch.delenv("MASTODON_ACCESS_TOKEN")
    result = run("harvest", f"{emulator.base_url}/@joy/123456", code=1)
    assert "does not exist" in result.stderr


def test_rate_limit_reset_header_in_iso_format(run, env, emulator, url, world, roots):
    emulator.inject("429", "/context", reset_in=1)
    result = run("harvest", url("mastodon"))
    assert "Waiting" in result.stderr
    assert len(stored(env["REPLIES_DB"], "mastodon")) == len(world.thread("mastodon", roots["mastodon"].id))


def test_content_warnings_and_quotes_are_kept(serve, run, tmp_path):
    """Issue 11, item 7: `spoiler_text` is stored and exported, and a reply that also quotes a post (Mastodon
    4.5 `quote`, state accepted) keeps the quote and loses the "RE: <link>" fallback paragraph."""
    import json
    import sqlite3
    from datetime import datetime, timedelta, timezone

    world = World()
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    root = world.add("mastodon", "asker", "Why is lean harder in the NHS?", start)
    other = world.add("mastodon", "writer", "An essay on improvement in hospitals.", start + timedelta(minutes=1))
    reply = world.add("mastodon", "nurse", "Burnout. Nobody has the time to improve anything.",
                      start + timedelta(minutes=5), parent=root.id, quote_of=other.id, spoiler="NHS staffing, venting")
    plain = world.add("mastodon", "porter", "Money, mostly.", start + timedelta(minutes=6), parent=root.id)
    server = serve(world)
    db = tmp_path / "m.db"
    run("harvest", post_url(server, root), "--db", db)

    host = server.base_url.split("://", 1)[1]
    conn = sqlite3.connect(db)
    got = {i: (t, cw, q) for i, t, cw, q in conn.execute("select id, text, spoiler_text, quote_of from replies")}
    raw = json.loads(conn.execute("select raw from replies where id = ?", [f"{host}/{reply.id}"]).fetchone()[0])
    assert 'class="quote-inline"' in raw["content"]  # the emulator sends the fallback, as Mastodon 4.5 does
    assert got[f"{host}/{reply.id}"] == (reply.text, "NHS staffing, venting", f"{host}/{other.id}")
    assert got[f"{host}/{plain.id}"] == (plain.text, None, None)

    out = tmp_path / "out.jsonl"
    run("export", "--format", "jsonl", "--out", out, "--db", db)
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records[f"{host}/{reply.id}"]["spoiler_text"] == "NHS staffing, venting"
    assert records[f"{host}/{reply.id}"]["quote_of"] == f"{host}/{other.id}"
    assert records[f"{host}/{plain.id}"]["spoiler_text"] is None


def test_a_context_cut_below_sixty_is_seen_from_the_counts(serve, run, tmp_path, monkeypatch):
    """Issue 11, item 1: a logged-out context cut at 59 (as mastodon.social's was) looked complete. Every post
    whose replies_count exceeds the children seen gets its own context asked; the rest is a warning."""
    from datetime import datetime, timedelta, timezone

    world = World()
    start = datetime.now(timezone.utc) - timedelta(hours=5)
    root = world.add("mastodon", "asker", "What stops improvement?", start)
    moment = iter(start + timedelta(seconds=s) for s in range(1, 1000))
    for i in range(10):
        top = world.add("mastodon", f"user{i}", f"Reason {i}", next(moment), parent=root.id)
        for j in range(7):
            world.add("mastodon", f"user{i}x{j}", f"Agreed, {i}.{j}", next(moment), parent=top.id)
    server = serve(world, mastodon_context_cap=59)
    db = tmp_path / "m.db"
    result = run("harvest", post_url(server, root), "--db", db)

    # depth first: 7 whole branches (56), the 8th branch's top and 2 of its 7 replies; then the 8th's own context
    contexts = [r["path"] for r in server.requests_to("/context")]
    assert len(contexts) == 2 and contexts[0].endswith(f"/{root.id}/context")
    eighth = world.replies_to("mastodon", root.id)[7]
    assert contexts[1].endswith(f"/{eighth.id}/context")
    assert count(db, "select count(*) from replies") == 64
    assert "2 replies that the posts' own counts report could not be reached" in result.stderr

    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "mastodon-token")  # a token lifts the cap: nothing missing
    result = run("harvest", post_url(server, root), "--db", db)
    assert count(db, "select count(*) from replies") == 80
    assert "could not be reached" not in result.stderr
