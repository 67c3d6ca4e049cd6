"""Harvesting X threads through the X API v2 against the emulator over real HTTP."""

from __future__ import annotations

import math
import sqlite3
from datetime import timedelta

from replies import db
from replies.emulator import World
from replies.emulator.sample import post_url
from replies.emulator.world import synthetic_thread
from tests.helpers import count, stored


def test_harvest_stores_every_reply_quote_and_the_root(run, env, emulator, world, roots, url):
    result = run("harvest", url("x"))
    db = env["REPLIES_DB"]
    rows = stored(db, "x")
    assert set(rows) == world.expected("x", roots["x"].id)
    assert "68 new, 0 updated" in result.output
    # The question is a thread row, not a reply.
    assert roots["x"].id not in rows
    assert count(db, "select count(*) from threads where platform='x' and id=?", [roots["x"].id]) == 1
    by_key = {p.key: p for p in world.posts["x"].values()}
    quote = rows[by_key["x62"].id]
    assert quote["kind"] == "quote" and quote["parent_id"] == roots["x"].id
    nested = rows[by_key["x10"].id]
    assert nested["kind"] == "reply" and nested["parent_id"] == by_key["x9"].id
    assert nested["author_handle"] == "ward_sister_bev"
    assert nested["created_at"].endswith("Z") and nested["url"].startswith("https://x.com/ward_sister_bev/status/")


def test_text_survives_exactly_including_long_posts_entities_and_rtl(run, env, world, roots, url):
    run("harvest", url("x"))
    rows = stored(env["REPLIES_DB"], "x")
    for post in world.posts["x"].values():
        if post.id in rows:
            assert rows[post.id]["text"] == post.text
    by_key = {p.key: p for p in world.posts["x"].values()}
    assert len(by_key["x61"].text) > 280 and rows[by_key["x61"].id]["text"] == by_key["x61"].text
    assert rows[by_key["x59"].id]["text"] == "Great question Joy & thanks for asking it <3"
    assert rows[by_key["x57"].id]["text"].startswith("من تجربتي")


def test_requests_equal_the_minimum_the_api_allows(serve, tmp_path, run):
    world = World()
    root = synthetic_thread(world, "x", 450, quotes=120)
    server = serve(world)
    run("harvest", post_url(server, root), "--db", tmp_path / "big.db")
    searches = len(server.requests_to("/search/recent"))
    quotes = len(server.requests_to("/quote_tweets"))
    total = len(server.requests_to(""))
    assert searches == math.ceil(450 / 100)
    assert quotes == 2
    assert total == 1 + searches + quotes
    assert count(tmp_path / "big.db", "select count(*) from replies") == 570
    assert count(tmp_path / "big.db", "select requests from harvest_runs") == total


def test_second_harvest_asks_only_for_new_replies(run, env, emulator, world, roots, url):
    run("harvest", url("x"))
    first = len(emulator.requests_to("/search/recent"))
    later = world.add("x", "late_replier", "Late to this, but it's the money. Always the money.",
                      world.now() - timedelta(minutes=1), parent=roots["x"].id)
    result = run("harvest", url("x"))
    searches = emulator.requests_to("/search/recent")[first:]
    assert len(searches) == 1 and "since_id" in searches[0]["query"]
    assert "1 new" in result.output
    assert later.id in stored(env["REPLIES_DB"], "x")
    assert count(env["REPLIES_DB"], "select count(*) from replies where platform='x'") == 69


def test_changed_counts_are_updates_not_duplicates(run, env, world, roots, url):
    run("harvest", url("x"))
    quoted = next(p for p in world.posts["x"].values() if p.key == "x62")
    quoted.likes += 5
    result = run("harvest", url("x"))
    assert "0 new, 1 updated" in result.output
    assert stored(env["REPLIES_DB"], "x")[quoted.id]["like_count"] == quoted.likes


def test_quote_endpoint_refused_warns_and_keeps_replies(env, serve, world, roots, run):
    server = serve(world, x_quotes_forbidden=True)
    result = run("harvest", post_url(server, roots["x"]))
    assert "quote" in result.stderr and "Warning" in result.stderr
    rows = stored(env["REPLIES_DB"], "x")
    assert len(rows) == 65 and all(r["kind"] == "reply" for r in rows.values())


def test_reply_url_harvests_the_whole_conversation(run, env, world, roots, emulator):
    reply = next(p for p in world.posts["x"].values() if p.key == "x10")
    result = run("harvest", post_url(emulator, reply))
    assert "is a reply" in result.stderr
    assert len(stored(env["REPLIES_DB"], "x")) == 68


def test_old_thread_warns_about_the_seven_day_window(env, serve, run):
    world = World()
    root = synthetic_thread(world, "x", 30, start=world.now() - timedelta(days=9))
    server = serve(world)
    result = run("harvest", post_url(server, root))
    assert "7 days" in result.stderr and "--full-archive" in result.stderr
    recent = count(env["REPLIES_DB"], "select count(*) from replies")
    run("harvest", "--full-archive", post_url(server, root))
    assert server.requests_to("/search/all")
    assert recent < 30
    assert count(env["REPLIES_DB"], "select count(*) from replies") == 30


def test_deleted_and_protected_roots_fail_cleanly(run, env, world, emulator):
    db.open_db(env["REPLIES_DB"]).conn.close()  # a database in use: failed runs are recorded in it
    deleted = next(p for p in world.posts["x"].values() if p.key == "x65")
    protected = next(p for p in world.posts["x"].values() if p.key == "x66")
    result = run("harvest", post_url(emulator, deleted), code=1)
    assert result.stderr.count("\n") == 1 and "does not exist or was deleted" in result.stderr
    result = run("harvest", post_url(emulator, protected), code=1)
    assert "protected" in result.stderr
    assert count(env["REPLIES_DB"], "select count(*) from threads") == 0
    assert count(env["REPLIES_DB"], "select count(*) from harvest_runs where outcome='error'") == 2


def test_deleted_root_as_404(serve, world, roots, run):
    deleted = next(p for p in world.posts["x"].values() if p.key == "x65")
    server = serve(world, x_deleted_as_404=True)
    result = run("harvest", post_url(server, deleted), code=1)
    assert "does not exist or was deleted" in result.stderr


def test_missing_and_rejected_tokens(run, env, url, monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN")
    result = run("harvest", url("x"), code=4)
    assert "X_BEARER_TOKEN" in result.stderr
    monkeypatch.setenv("X_BEARER_TOKEN", "wrong-secret-value")
    result = run("harvest", url("x"), code=4)
    assert "rejected" in result.stderr and "wrong-secret-value" not in result.stderr


def test_rate_limit_is_waited_out_with_a_message(run, env, emulator, world, roots, url):
    emulator.inject("429", "/search/recent", after=0, reset_in=1)
    result = run("harvest", url("x"))
    assert "Waiting" in result.stderr and "rate limit" in result.stderr
    assert set(stored(env["REPLIES_DB"], "x")) == world.expected("x", roots["x"].id)


def test_no_wait_stops_cleanly_and_the_next_run_carries_on(env, serve, run):
    world = World()
    root = synthetic_thread(world, "x", 350)
    server = serve(world)
    server.inject("429", "/search/recent", after=2, reset_in=60)
    result = run("harvest", "--no-wait", post_url(server, root), code=3)
    assert "rate limit" in result.stderr and "run again" in result.stderr
    first_pages = {p.id for p in sorted(world.thread("x", root.id), key=lambda p: -int(p.id))[:200]}
    assert first_pages <= set(stored(env["REPLIES_DB"]))
    run("harvest", post_url(server, root))
    searches = [r["query"] for r in server.requests_to("/search/recent")]
    # Two pages, a refused third, then the rerun resumes at the third page's token.
    assert len(searches) == 5 and searches[3].get("next_token") == searches[2].get("next_token")
    assert set(stored(env["REPLIES_DB"])) == world.expected("x", root.id)
    assert outcomes(env["REPLIES_DB"]) == ["rate_limited", "ok"]


def outcomes(db_path) -> list[str]:
    conn = sqlite3.connect(db_path)
    found = [r[0] for r in conn.execute("select outcome from harvest_runs order by id")]
    conn.close()
    return found


def test_server_errors_are_retried_with_backoff(run, env, emulator, world, roots, url):
    emulator.inject("503", "/search/recent", times=3)
    emulator.inject("reset", "/quote_tweets", times=1)
    emulator.inject("truncate", "/2/tweets/", times=1)
    result = run("harvest", url("x"))
    assert result.stderr.count("retrying") >= 5
    assert set(stored(env["REPLIES_DB"], "x")) == world.expected("x", roots["x"].id)


def test_an_answer_that_is_not_json_is_a_clear_error(run, env, emulator, url):
    emulator.inject("html", "/search/recent", times=100)
    result = run("harvest", url("x"), code=1)
    assert "not answer with the JSON expected" in result.stderr
    assert "Traceback" not in result.stderr
