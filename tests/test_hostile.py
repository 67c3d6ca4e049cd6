"""Hostile servers and hostile text: what a stranger writes or a server sends never acts on a
terminal, a spreadsheet or a page."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replies.emulator import World
from replies.emulator.sample import post_url
from replies.text import visible
from tests.helpers import rows

CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"  # OSC 52: write the clipboard
TITLE = "\x1b]0;owned\x07"
CLEAR = "\x1b[2J\x1b[H"
HOSTILE_TEXT = f"Staffing{CLIPBOARD} is{TITLE} the{CLEAR} problem \u202etxet desrever\u202c\x9b31m"


def _acts(text: str) -> bool:
    return any(c in text for c in ("\x1b", "\x07", "\x9b", "\u202e"))


def test_a_hostile_server_and_hostile_replies(run, env, serve, tmp_path):
    now = datetime.now(timezone.utc) - timedelta(hours=2)
    world = World()
    root = world.add("mastodon", "asker", "Why is lean harder in the NHS?", now)
    world.add("mastodon", f"evil{TITLE}", HOSTILE_TEXT, now + timedelta(minutes=1), parent=root.id,
              likes="<img src=x onerror=alert(1)>")
    world.add("mastodon", "plain", "No backfill, so no time to improve anything.", now + timedelta(minutes=2),
              parent=root.id, likes=3)
    server = serve(world)
    harvested = run("harvest", post_url(server, root), code=5)  # stored, but not whole: said, not silent
    assert not _acts(harvested.output + harvested.stderr)
    assert "like_count '<img src=x onerror=alert(1)>' is not as the API documents it" in harvested.stderr
    stored = {r["author_handle"].split("@")[0][:4]: r for r in rows(env["REPLIES_DB"], "select * from replies")}
    assert stored["evil"]["like_count"] is None and stored["plai"]["like_count"] == 3  # validated at the edge
    assert stored["evil"]["text"].startswith("Staffing\x1b]52")  # stored as written: it is evidence
    for command in (["search", "staffing"], ["query", "select author_handle, text from replies"], ["threads"]):
        out = run(*command)
        assert not _acts(out.output), command
    as_json = json.loads(run("query", "select text from replies order by id", "--json").output)
    assert HOSTILE_TEXT in [r["text"] for r in as_json]  # JSON escapes, and the text survives intact
    run("classify")
    page = tmp_path / "report.html"
    run("report", "--out", page)
    html = page.read_text()
    assert "<img" not in html and "\x1b" not in html and "<blockquote dir=auto>" in html


def test_csv_shows_controls_on_a_terminal_and_keeps_them_in_a_file():
    import csv
    import io

    from replies.cli.output import write_rows

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen, file = Terminal(), io.StringIO()
    for out in (screen, file):
        write_rows([{"text": HOSTILE_TEXT}], "csv", out)
    assert not _acts(screen.getvalue())
    assert list(csv.DictReader(io.StringIO(file.getvalue()))) == [{"text": HOSTILE_TEXT}]


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_visible_text_never_holds_a_control_character(text):
    shown = visible(text)
    assert not any((unicodedata.category(c) == "Cc" and c not in "\n\t") or 0x202A <= ord(c) <= 0x202E
                   or 0x2066 <= ord(c) <= 0x2069 for c in shown)
    flat = visible(text, keep_newlines=False)
    assert "\n" not in flat and "\t" not in flat
    if not any(unicodedata.category(c) == "Cc" or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069
               for c in text):
        assert flat == text  # ordinary text, emoji and Arabic included, is shown as it is


def test_a_mastodon_token_goes_only_to_its_own_server(run, env, serve, monkeypatch, tmp_path):
    from replies.emulator.world import synthetic_thread

    world = World()
    mine, other = serve(world), serve(world)  # two servers; the token belongs to the first
    root = synthetic_thread(world, "mastodon", 5)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "mastodon-token")
    monkeypatch.setenv("MASTODON_INSTANCE", mine.base_url)
    run("harvest", post_url(other, root))
    assert other.requests_to("/api/") and not any(r["authorization"] for r in other.requests_to("/api/"))
    run("harvest", post_url(mine, root))
    assert all(r["authorization"] for r in mine.requests_to("/api/"))
    monkeypatch.delenv("MASTODON_INSTANCE")  # a token that names no server is sent to none, and says so
    before = len(mine.requests_to("/api/"))
    warned = run("harvest", post_url(mine, root))
    assert "not sent to 127.0.0.1" in warned.stderr and "MASTODON_INSTANCE" in warned.stderr
    assert not any(r["authorization"] for r in mine.requests_to("/api/")[before:])


def test_a_config_file_gives_each_server_its_own_token(run, env, serve, monkeypatch, tmp_path):
    from replies.emulator.world import synthetic_thread

    world = World()
    server = serve(world)
    root = synthetic_thread(world, "mastodon", 5)
    host = server.base_url.split("//")[1]
    config = tmp_path / "config.toml"
    config.write_text(f'[mastodon."{host}"]\naccess_token = "mastodon-token"\n[mastodon."elsewhere.example"]\n'
                      'access_token = "elsewhere-secret-token"\n')
    config.chmod(0o600)
    monkeypatch.setenv("REPLIES_CONFIG", str(config))
    monkeypatch.delenv("MASTODON_INSTANCE")
    run("harvest", post_url(server, root))
    assert all(r["authorization"] for r in server.requests_to("/api/"))
    shown = run("config").output
    assert "elsewhere-secret-token" not in shown and f"MASTODON_ACCESS_TOKEN@{host}" in shown


def test_a_token_is_never_sent_over_plain_http_to_another_machine():
    from replies.harvester.mastodon import token_for
    from replies.harvester.settings import Settings

    settings = Settings.from_env({"MASTODON_ACCESS_TOKEN": "secret-token", "MASTODON_INSTANCE": "mastodon.social"})
    assert token_for(settings, "https://mastodon.social") == ("secret-token", None)
    token, why = token_for(settings, "http://mastodon.social")
    assert token is None and "not sent over plain http" in why
    assert token_for(settings, "https://mastodon.social.evil.example") == (None, None)
    local = Settings.from_env({"MASTODON_ACCESS_TOKEN": "secret-token", "MASTODON_INSTANCE": "localhost:3000"})
    assert token_for(local, "http://localhost:3000") == ("secret-token", None)  # this machine: allowed


def _harvest_child(env, server, url, *args):
    from tests.conftest import replies_subprocess

    child_env = {**env, "REPLIES_X_API_BASE": server.base_url, "REPLIES_BSKY_API_BASE": server.base_url,
                 "MASTODON_INSTANCE": server.base_url}
    proc = replies_subprocess("harvest", url, *args, env=child_env)
    out, err = proc.communicate(timeout=120)  # a harvest that never ended would fail here, not hang the suite
    return proc.returncode, out, err


@pytest.mark.slow
def test_a_server_that_repeats_its_cursor_or_never_stops_paging_is_stopped(env, serve):
    from replies.emulator.world import synthetic_thread
    from tests.helpers import count

    for mode, message in (("repeat_cursor", "sent the same page cursor twice"),
                          ("endless_cursor", "kept sending pages")):
        world = World()
        root = synthetic_thread(world, "bluesky", 30, quotes=120)
        server = serve(world, hostile=(mode,))
        code, _, err = _harvest_child(env, server, post_url(server, root), "-q")
        assert code == 1 and message in err and err.count("\n") == 1, (mode, err)
        replies = count(env["REPLIES_DB"], "select count(*) from replies where kind = 'reply' and thread_id = ?",
                        [root.id])
        assert replies == 30  # what came before the bad pages is kept
        assert len(server.requests_to("getQuotes")) < 400


def test_a_rate_limit_reset_far_away_stops_the_thread_instead_of_waiting(run, env, emulator, url):
    emulator.inject("429", "/search/recent", reset_in=6 * 3600)
    result = run("harvest", url("x"), "--max-wait", "60", code=3)
    assert "more than --max-wait 60s" in result.stderr and not run.waits
    assert "is not a number of seconds" in run("harvest", url("x"), "--max-wait", "nan", code=2).stderr
    emulator.inject("429", "/search/recent", reset_in=10**12)  # a reset in a year no clock shows
    result = run("harvest", url("x"), code=3)
    assert "rate limit reached" in result.stderr and "Traceback" not in result.stderr and not run.waits


def test_bad_paths_and_files_are_one_line_never_a_traceback(run, env, tmp_path, classified):
    import os

    missing = tmp_path / "missing" / "x.db"
    result = run("harvest", "--db", missing, "https://x.com/a/status/1", code=1)
    assert "folder" in result.stderr and "does not exist" in result.stderr and result.stderr.count("\n") == 1
    assert not missing.parent.exists()  # no lock file made on the way
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    for out, kind in ((link, "a symbolic link"), (fifo, "a FIFO")):
        for command in (["export", "--out", out], ["report", "--out", out]):
            result = run(*command, code=1)
            assert f"it is {kind}" in result.stderr and result.stderr.count("\n") == 1, command
    assert link.is_symlink() and target.read_text() == "keep me" and fifo.is_fifo()
    codebook = tmp_path / "listkey.yaml"
    codebook.write_text("name: t\ncategories:\n  - {id: a, label: A, description: d}\n? [1, 2]\n: x\n")
    assert f"{codebook}:4: a key of the codebook must be a plain word" in run("classify", "--codebook", codebook,
                                                                                code=1).stderr
    for timeout in ("nan", "-1", "inf", "soon"):
        os.environ["REPLIES_HTTP_TIMEOUT"] = timeout
        assert "is not a number of seconds above 0" in run("harvest", "https://x.com/a/status/1", code=4).stderr
    os.environ["REPLIES_HTTP_TIMEOUT"] = "2"


def test_a_server_time_that_is_not_a_time_is_kept_raw_not_a_traceback(run, env, tmp_path):
    from replies.db.times import normalise_iso

    assert normalise_iso("2026-11-26T17:51:12.018-05:00") == "2026-11-26T22:51:12.018Z"  # offset after a fraction
    twarc = tmp_path / "odd.jsonl"
    twarc.write_text(json.dumps({"id": "5", "text": "q", "author_id": "1", "conversation_id": "5",
                                 "created_at": "garbage"}) + "\n" +
                     json.dumps({"id": "6", "text": "a reply", "author_id": "2", "conversation_id": "5",
                                 "created_at": "yesterday-ish", "referenced_tweets": [{"type": "replied_to",
                                                                                       "id": "5"}]}) + "\n")
    assert "2 tweets read" in run("import", twarc).output
    stored = rows(env["REPLIES_DB"], "select id, created_at, raw from replies")
    assert [(r["id"], r["created_at"]) for r in stored] == [("6", None)] and "yesterday-ish" in stored[0]["raw"]


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.timezones()),
       st.integers(0, 9), st.sampled_from(["Z", "offset"]))
def test_the_time_parser_reads_every_form_the_platforms_send(moment, fraction_digits, zone):
    from datetime import timezone

    from replies.db.times import parse_iso

    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    micro = f"{moment.microsecond:06d}"
    if fraction_digits:
        text += "." + (micro + "000")[:fraction_digits]
    offset = moment.utcoffset()
    if zone == "Z" or not offset:
        expected_utc = moment.astimezone(timezone.utc)
        text = (moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
                + (("." + (f"{moment.astimezone(timezone.utc).microsecond:06d}" + "000")[:fraction_digits])
                   if fraction_digits else "") + "Z")
    else:
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        text += f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        expected_utc = moment.astimezone(timezone.utc)
    kept = min(fraction_digits, 6)
    truncated = expected_utc.replace(microsecond=int(f"{expected_utc.microsecond:06d}"[:kept].ljust(6, "0"))
                                     if kept else 0)
    assert parse_iso(text) == truncated


def test_malformed_posts_cost_only_themselves(run, env, serve, world, roots):
    """A context holding a string, a status whose id is a list and a status whose account is a string: the
    first two are skipped, the third is recorded as malformed with its raw JSON, and every other reply
    of the thread, and every other thread, still arrives."""
    from replies.emulator.world import synthetic_thread

    garbled = serve(world, hostile=("garbled_context",))  # the sample's world, one server gone bad
    bad_root = synthetic_thread(world, "mastodon", 10)
    run("track", post_url(garbled, roots["x"]), post_url(garbled, bad_root), post_url(garbled, roots["bluesky"]))
    result = run("harvest", "--all", code=5)  # every thread harvested, one not whole: said, not silent
    assert result.output.count(" new, ") == 3 and "Traceback" not in result.stderr
    assert "/990000000000000001: the post as a whole (kept with its raw JSON" in result.stderr
    mastodon = rows(env["REPLIES_DB"], "select id, status, raw from replies where platform = 'mastodon'")
    statuses = sorted(r["status"] for r in mastodon)
    assert statuses == ["malformed"] + ["ok"] * 10
    malformed = next(r for r in mastodon if r["status"] == "malformed")
    assert malformed["id"].endswith("/990000000000000001") and '"not an account"' in malformed["raw"]
    assert "not an id" not in " ".join(r["raw"] for r in mastodon)
    exported = [json.loads(line) for line in run("export").output.splitlines()]
    assert not any(r["id"] == malformed["id"] for r in exported)  # no content: not in datasets


@pytest.mark.slow
def test_a_server_that_trickles_its_answer_is_given_up_on(run, env, serve, world, roots, monkeypatch):
    slow = serve(world, hostile=("trickle",))  # a byte every 5 ms: each read is quick, the answer never ends
    monkeypatch.setenv("REPLIES_HTTP_TIMEOUT", "0.25")  # so a whole answer must arrive within 1 s
    result = run("harvest", post_url(slow, roots["bluesky"]), code=1)
    last = result.stderr.splitlines()[-1]
    assert last.startswith("Error: ") and "still arriving after 1s" in last and "Traceback" not in result.stderr


def test_two_servers_statuses_with_the_same_id_are_two_posts(run, env, serve):
    """Status ids are unique per server only: the second server's status 1234 must not overwrite the first's
    reply, nor the labels on it."""
    now = datetime.now(timezone.utc) - timedelta(hours=1)
    first_world, second_world = World(), World()
    texts = {}
    for world_, name in ((first_world, "first"), (second_world, "second")):
        root = world_.add("mastodon", "asker", f"Question on the {name} server", now)
        world_.add("mastodon", "someone", f"Reply on the {name} server", now + timedelta(minutes=1), parent=root.id)
        texts[name] = root
    assert texts["first"].id == texts["second"].id  # the emulator numbers statuses alike: ids collide
    first, second = serve(first_world), serve(second_world)
    run("harvest", post_url(first, texts["first"]))
    reply = rows(env["REPLIES_DB"], "select id from replies")[0]["id"]
    run("label", f"mastodon:{reply}", "money", "--reviewer", "ann")
    run("harvest", post_url(second, texts["second"]))
    stored = {r["id"]: r for r in rows(env["REPLIES_DB"], "select id, text, thread_id from replies")}
    assert len(stored) == 2 and {r["text"] for r in stored.values()} == {"Reply on the first server",
                                                                          "Reply on the second server"}
    assert all(r["id"].split("/")[0] == r["thread_id"].split("/")[0] for r in stored.values())
    gold = rows(env["REPLIES_DB"], "select id from gold_labels")
    assert [g["id"] for g in gold] == [reply] and stored[reply]["text"] == "Reply on the first server"


def test_an_older_database_gets_its_mastodon_ids_qualified(tmp_path):
    import sqlite3

    from replies import db

    path = tmp_path / "old.db"
    db.open_db(path).close()
    conn = sqlite3.connect(path)  # a database as the previous version wrote it: bare status ids
    conn.execute("insert into threads (platform, id, url) values ('mastodon', '99', 'https://Social.Example/@a/99')")
    conn.execute("insert into replies (platform, id, thread_id, parent_id, kind, status, text) values "
                 "('mastodon', '100', '99', '99', 'reply', 'ok', 'a reply')")
    conn.execute("insert into gold_labels (platform, id, codebook, reviewer, labels, created_at) values "
                 "('mastodon', '100', 'lean_nhs', 'ann', '[\"money\"]', 'now')")
    conn.execute("insert into tracked (url, platform, thread_id) values ('https://social.example/@a/99', "
                 "'mastodon', '99')")
    conn.execute("delete from _sqlite_migrations where name = 'm007_mastodon_ids_per_server'")
    conn.commit()
    conn.close()
    db.open_db(path).close()  # the upgrade runs
    assert rows(path, "select id, thread_id, parent_id from replies") == [
        {"id": "social.example/100", "thread_id": "social.example/99", "parent_id": "social.example/99"}]
    assert rows(path, "select id from threads") == [{"id": "social.example/99"}]
    assert rows(path, "select id from gold_labels") == [{"id": "social.example/100"}]
    assert rows(path, "select thread_id from tracked") == [{"thread_id": "social.example/99"}]


def test_a_thread_that_takes_too_long_stops_with_what_it_has(env, serve):
    from replies import db
    from replies.emulator.world import synthetic_thread
    from replies.harvester.errors import BadResponse
    from replies.harvester.run import harvest
    from replies.harvester.settings import Settings

    world = World()
    root = synthetic_thread(world, "x", 500)
    server = serve(world)
    ticks = iter(range(0, 10**6, 600))  # each look at the clock: ten more minutes
    settings = Settings(x_bearer_token="test-token", x_api_base=server.base_url, thread_deadline=1800,
                        clock=lambda: float(next(ticks)), sleep=lambda s: None)
    database = db.open_db(env["REPLIES_DB"])
    try:
        harvest(database, post_url(server, root), settings)
        raise AssertionError("the deadline never stopped the harvest")
    except BadResponse as exc:
        assert "taken longer than 30 minutes" in str(exc)
    stored = database.execute("select count(*) from replies").fetchone()[0]
    assert 0 < stored < 500
    assert database.execute("select outcome from harvest_runs").fetchone()[0] == "error"


def test_json_nested_100000_deep_is_a_bad_answer_not_a_crash(run, env, serve):
    from replies.emulator.world import synthetic_thread

    world = World()
    root = synthetic_thread(world, "bluesky", 20, quotes=5)
    server = serve(world, hostile=("deep_json",))  # getQuotes answers with 100,000 nested arrays
    result = run("harvest", post_url(server, root), code=1)
    last = result.stderr.splitlines()[-1]
    assert "nested too deep" in last and "Traceback" not in result.stderr
    assert len(rows(env["REPLIES_DB"], "select id from replies where kind = 'reply'")) == 20  # replies kept


def test_hostile_reddit_youtube_and_threads_answers_cost_only_the_bad_items(run, env, serve):
    """Values of the wrong type or shape from the three new platforms are dropped at the edge: a bad
    comment is stored as `malformed` (or left out when it has no usable id), bad counts and times become
    nothing, a stub's ids that are not Reddit ids are never asked for, and the harvest finishes."""
    server = serve(World())
    link = {"kind": "t3", "data": {"name": "t3_abc123", "id": "abc123", "title": {"x": 1}, "num_comments": "9",
                                   "created_utc": "yesterday", "permalink": "javascript:alert(1)"}}
    good = {"kind": "t1", "data": {"name": "t1_good1", "id": "good1", "parent_id": "t3_abc123",
                                   "body": HOSTILE_TEXT, "author": f"evil{TITLE}", "score": "<img>",
                                   "created_utc": 1e300, "permalink": "/r/x/comments/abc123/_/good1/",
                                   "replies": {"kind": "Listing", "data": {"children": "not a list"}}}}
    bad = {"kind": "t1", "data": {"name": "t1_bad1", "parent_id": ["t3_abc123"], "body": 5}}
    noid = {"kind": "t1", "data": {"name": "<script>", "parent_id": "t3_abc123", "body": "x"}}
    stub = {"kind": "more", "data": {"count": 3, "parent_id": "t3_abc123", "children": ["../../api", 7, "ok1"]}}
    listing = {"kind": "Listing", "data": {"children": [good, bad, noid, stub, "junk"]}}
    server.record("/comments/abc123", [{"kind": "Listing", "data": {"children": [link]}}, listing])
    server.record_morechildren([{"kind": "t1", "data": {"name": "t1_ok1", "id": "ok1", "parent_id": "t1_good1",
                                                        "body": "Fine.", "author": "a", "created_utc": 1700000000}}])
    result = run("harvest", "https://redd.it/abc123", code=5)  # stored without the bad fields, and said so
    assert not _acts(result.output + result.stderr)
    assert "reddit post t1_good1: like_count '<img>' is not as the API documents it" in result.stderr
    assert "reddit post t1_good1: created_at 1e+300" in result.stderr
    stored = {r["id"]: r for r in rows(env["REPLIES_DB"], "select * from replies")}
    assert set(stored) == {"t1_good1", "t1_bad1", "t1_ok1"} and stored["t1_bad1"]["status"] == "malformed"
    assert stored["t1_good1"]["like_count"] is None and stored["t1_good1"]["created_at"] is None
    asked = [r["query"]["children"] for r in server.requests_to("/api/morechildren")]
    assert asked == ["ok1"]
    thread = rows(env["REPLIES_DB"], "select * from threads")[0]
    assert thread["text"] == "" and thread["url"] is None and thread["reply_count"] is None

    video = {"id": "AAAAAAAAAAA", "snippet": {"title": ["x"], "publishedAt": "<b>"},
             "statistics": {"commentCount": "-1"}}
    server.record("/youtube/v3/videos", {"items": [video]})
    top = {"id": "Ugtop", "snippet": {"textOriginal": HOSTILE_TEXT, "likeCount": "9", "authorDisplayName": 5}}
    server.record("/youtube/v3/commentThreads", {"items": [
        {"snippet": {"topLevelComment": top, "totalReplyCount": "many"}},
        {"snippet": {"topLevelComment": {"id": {"a": 1}, "snippet": {}}}}, "junk", {"snippet": "junk"}],
        "nextPageToken": {"not": "a string"}})
    result = run("harvest", "https://youtu.be/AAAAAAAAAAA", code=5)
    assert not _acts(result.output + result.stderr) and "youtube post Ugtop: like_count '9'" in result.stderr
    stored = {r["id"]: r for r in rows(env["REPLIES_DB"], "select * from replies where platform = 'youtube'")}
    assert set(stored) == {"Ugtop"} and stored["Ugtop"]["like_count"] is None
    assert stored["Ugtop"]["author_handle"] is None and not server.requests_to("/youtube/v3/comments")

    server.record("/v1.0/me", {"id": "1", "username": "asker"})
    server.record("/v1.0/me/threads", {"data": [{"id": "170", "shortcode": "CODE1", "text": {"x": 1},
                                                 "permalink": "javascript:x"}]})
    server.record("/v1.0/170/conversation", {"data": [
        {"id": "171", "text": HOSTILE_TEXT, "replied_to": {"id": "170"}, "timestamp": 5},
        {"id": "172", "text": "no parent"}, {"id": ["x"]}, "junk"],
        "paging": {"cursors": {"after": "QQ=="}, "next": "https://attacker.example/steal"}})
    server.record("/v1.0/170/conversation", {"data": [], "paging": {"cursors": {"after": "Qg=="}}},
                  query={"after": "QQ=="})
    result = run("harvest", "https://www.threads.net/@asker/post/CODE1", code=5)
    assert not _acts(result.output + result.stderr) and "threads post 171: created_at 5" in result.stderr
    stored = {r["id"]: r for r in rows(env["REPLIES_DB"], "select * from replies where platform = 'threads'")}
    assert stored["171"]["status"] == "ok" and stored["172"]["status"] == "malformed" and set(stored) == {"171", "172"}
    assert all("attacker" not in r["path"] for r in server.requests_to(""))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, a device that is always full")
@pytest.mark.parametrize("command", [["export"], ["stats"], ["search", "funding", "--json"]])
def test_output_to_a_full_disk_is_one_line_not_a_traceback(classified, command):
    import os
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "replies", *command, "--db", str(classified)], stdout=full,
                              stderr=subprocess.PIPE, text=True, env=os.environ, timeout=120)
    assert done.returncode == 1 and done.stderr == ("Error: could not write the output: No space left on device; "
                                                    "free some space, or send the output elsewhere\n"), done.stderr
