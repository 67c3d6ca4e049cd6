"""Harvesting Mastodon threads, logged out (capped context) and with a token."""

from __future__ import annotations

from replies.emulator import World
from replies.emulator.sample import post_url
from replies.emulator.world import synthetic_thread
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
    """`spoiler_text` is stored and exported, and a reply that also quotes a post (Mastodon
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
    """A logged-out context cut at 59 (as mastodon.social's was) looked complete. Every post
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


def test_origin_servers_fill_the_federation_gaps(serve, run, tmp_path, monkeypatch):
    """A server's context holds only the remote replies it has fetched. With --origin, the
    reply's own server (its `uri`) is asked, logged out, and what this server lacks is merged: matched by
    uri, stored as origin-host/id with `origin` set. No token goes to the origin server."""
    import sqlite3
    from datetime import datetime, timedelta, timezone

    start = datetime.now(timezone.utc) - timedelta(hours=3)
    there = World()  # bob's server: his post and every reply to it
    bobs = there.add("mastodon", "bob", "Staffing. Nobody has slack to improve.", start + timedelta(minutes=1))
    r1 = there.add("mastodon", "carol", "Same on our ward.", start + timedelta(minutes=2), parent=bobs.id)
    r2 = there.add("mastodon", "dave", "And the vacancies.", start + timedelta(minutes=3), parent=bobs.id)
    r3 = there.add("mastodon", "erin", "Bank staff cannot join projects.", start + timedelta(minutes=4), parent=r2.id)
    origin = serve(there)
    here = World()  # the thread's server: it has fetched bob's post and carol's reply, not dave's or erin's
    root = here.add("mastodon", "asker", "What stops improvement?", start)
    uri = lambda post: f"{origin.base_url}/users/{post.author.handle}/statuses/{post.id}"
    copy = here.add("mastodon", "bob", bobs.text, bobs.created_at, parent=root.id, remote_uri=uri(bobs),
                    remote_replies=1)
    here.add("mastodon", "carol", r1.text, r1.created_at, parent=copy.id, remote_uri=uri(r1))
    home = serve(here)  # started last: MASTODON_INSTANCE names it
    db = tmp_path / "m.db"

    first = run("harvest", post_url(home, root), "--db", db)
    assert "1 replies that the posts' own counts report could not be reached" in first.stderr
    assert not origin.requests_to("")

    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "mastodon-token")
    second = run("harvest", post_url(home, root), "--origin", "--db", db)
    host, origin_host = (s.base_url.split("://", 1)[1] for s in (home, origin))
    stored_rows = {r[0]: r[1:] for r in sqlite3.connect(db).execute(
        "select id, parent_id, origin, text, author_handle from replies")}
    assert stored_rows[f"{origin_host}/{r2.id}"] == (f"{host}/{copy.id}", origin_host, r2.text,
                                                     f"dave@{origin_host}")
    assert stored_rows[f"{origin_host}/{r3.id}"][:3] == (f"{origin_host}/{r2.id}", origin_host, r3.text)
    assert len(stored_rows) == 4  # carol's reply is not stored twice
    assert f"{origin_host}/{r1.id}" not in stored_rows
    asked = origin.requests_to("")
    assert [r["path"] for r in asked] == [f"/api/v1/statuses/{bobs.id}/context"]
    assert not any(r["authorization"] for r in asked) and home.requests_to("/context")[-1]["authorization"]
    assert "; coverage 4 of 4" in second.output and "could not be reached" not in second.stderr


def test_origin_follows_only_public_https_servers():
    from replies.harvester.mastodon import origin_of

    public = "https://mastodon.social"
    assert origin_of("https://fosstodon.org/users/bob/statuses/1130", public) == ("https://fosstodon.org", "1130")
    for uri in ("http://fosstodon.org/users/bob/statuses/1",  # not HTTPS
                "https://127.0.0.1:8080/users/bob/statuses/1", "https://10.0.0.7/users/bob/statuses/1",
                "https://[::1]/users/bob/statuses/1", "https://printer.local/users/bob/statuses/1",
                "https://mastodon.social/users/bob/statuses/1",  # the thread's own server
                "https://misskey.io/notes/9abc", "javascript:alert(1)", ["not", "a", "uri"], None):
        assert origin_of(uri, public) is None, uri
    emulator = "http://127.0.0.1:4000"  # a server on this machine may name another one on it, and nothing else
    assert origin_of("http://127.0.0.1:4001/users/bob/statuses/7", emulator) == ("http://127.0.0.1:4001", "7")
    assert origin_of("https://fosstodon.org/users/bob/statuses/7", emulator) is None
