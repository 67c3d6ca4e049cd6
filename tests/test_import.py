"""Importing twarc2 JSONL: raw API pages as twarc writes them, and flattened tweets."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from replies import db
from tests.helpers import count, stored

FIELDS = {"tweet.fields": "author_id,conversation_id,created_at,referenced_tweets,public_metrics,lang,note_tweet",
          "expansions": "author_id,referenced_tweets.id", "user.fields": "username,name", "max_results": "100"}


def _twarc_pages(emulator, root_id: str) -> list[dict]:
    """Pages as `twarc2 conversation` writes them: raw API responses plus __twarc metadata."""
    pages, token = [], None
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": "Bearer test-token"}) as client:
        while True:
            params = {**FIELDS, "query": f"conversation_id:{root_id}"}
            if token:
                params["next_token"] = token
            page = client.get("/2/tweets/search/recent", params=params).json()
            page["__twarc"] = {"url": "https://api.twitter.com/2/tweets/search/recent", "version": "2.14.0",
                               "retrieved_at": "2026-11-26T10:00:00+00:00"}
            pages.append(page)
            token = page["meta"].get("next_token")
            if not token:
                return pages


def test_import_matches_a_harvest_of_the_same_thread(run, env, emulator, roots, url, tmp_path):
    path = tmp_path / "conversation.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in _twarc_pages(emulator, roots["x"].id)))
    result = run("import", path)
    assert "65 new" in result.output
    imported = stored(env["REPLIES_DB"])
    harvested_db = tmp_path / "harvested.db"
    run("harvest", url("x"), "--db", harvested_db)
    harvested = {k: v for k, v in stored(harvested_db).items() if v["kind"] == "reply"}
    assert imported.keys() == harvested.keys()
    for key in ("thread_id", "parent_id", "kind", "text", "author_handle", "created_at"):
        assert {i: r[key] for i, r in imported.items()} == {i: r[key] for i, r in harvested.items()}
    # The root came in the same pages: the thread has its own text and author.
    assert count(env["REPLIES_DB"], "select count(*) from threads where author_handle='joy_improves'") == 1
    again = run("import", path)
    assert "0 new, 0 updated" in again.output


def test_flattened_tweets_import_too(run, env, tmp_path):
    lines = [
        {"id": "100", "conversation_id": "100", "text": "Why is lean harder here?", "author_id": "1",
         "author": {"id": "1", "username": "asker"}, "created_at": "2026-11-20T10:00:00.000Z"},
        {"id": "101", "conversation_id": "100", "text": "Money &amp; time", "author_id": "2",
         "author": {"id": "2", "username": "answerer"}, "created_at": "2026-11-20T10:05:00.000Z",
         "referenced_tweets": [{"type": "replied_to", "id": "100"}]},
        {"id": "102", "conversation_id": "102", "text": "Quoting this", "author_id": "3",
         "author": {"id": "3", "username": "quoter"}, "created_at": "2026-11-20T11:00:00.000Z",
         "referenced_tweets": [{"type": "quoted", "id": "100"}]},
    ]
    path = tmp_path / "flat.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    run("import", path)
    rows = stored(env["REPLIES_DB"])
    assert rows["101"]["text"] == "Money & time" and rows["101"]["thread_id"] == "100"
    assert rows["102"]["kind"] == "quote" and rows["102"]["thread_id"] == "100"


def test_bad_files_are_one_clear_line(run, env, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"data": []}\nnot json\n')
    result = run("import", bad, code=1)
    assert "line 2: not JSON" in result.stderr and result.stderr.count("\n") == 1
    deep = tmp_path / "deep.jsonl"  # nested past Python's recursion limit: json.loads raises RecursionError
    deep.write_text('{"data": []}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    for args in ((), ("--format", "jsonl", "--map", "text=text", "--thread-url", "https://x.com/a/status/1")):
        result = run("import", deep, *args, code=1)
        assert "line 2: not JSON" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not Path(env["REPLIES_DB"]).exists()  # imports that stored nothing leave no empty database
    db.open_db(env["REPLIES_DB"]).conn.close()
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    result = run("import-labels", deep, code=1)
    assert "line 1: not JSON" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    other = tmp_path / "other.jsonl"
    other.write_text('{"hello": "world"}\n')
    assert "neither an API v2 page nor a tweet" in run("import", other, code=1).stderr
    assert "cannot read" in run("import", tmp_path / "missing.jsonl", code=1).stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "no tweets found" in run("import", empty, code=1).stderr
    assert count(env["REPLIES_DB"], "select count(*) from replies") == 0


def test_a_tweet_not_shaped_as_documented_costs_only_itself(run, env, tmp_path):
    """Found by the fuzz test: a tweet whose text is not text was a TypeError traceback; now it is a warning,
    kept as malformed with its raw JSON when it belongs to a conversation, and the rest is imported."""
    path = tmp_path / "odd.jsonl"
    path.write_text('{"data": [{"id": "2", "text": true, "conversation_id": "1", "author_id": "5"},'
                    ' {"id": "3", "text": "a reply", "conversation_id": "1", "author_id": "5"}]}\n')
    result = run("import", path)
    assert "2 tweets read: 2 new" in result.output and "Traceback" not in result.stderr
    assert "tweet 2 is not shaped as the X API documents: stored as malformed" in result.stderr
    assert count(env["REPLIES_DB"], "select count(*) from replies where status = 'malformed'") == 1
