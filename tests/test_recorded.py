"""Real answers recorded from the live services (tests/data/recorded, see its README), replayed through the
emulator's HTTP layer: what `replies` stores must match them field by field."""

from __future__ import annotations

import html
import json
from pathlib import Path

from replies.emulator import World
from tests.helpers import rows

RECORDED = Path(__file__).parent / "data" / "recorded"


def recorded(name: str):
    """A recorded answer: a JSON file, or the first line of a twarc2 JSONL file without twarc's own key."""
    text = (RECORDED / name).read_text()
    if name.endswith(".jsonl"):
        page = json.loads(text.splitlines()[0])
        page.pop("__twarc", None)
        return page
    return json.loads(text)


def test_x_quote_endpoint_retweets_are_not_stored_as_quotes(serve, run, tmp_path):
    """7 of the 9 items of a real quote_tweets page are retweets ("RT @…", cut short)."""
    server = serve(World())
    root = "1293593516040269825"
    server.record(f"/2/tweets/{root}", recorded("x_tweepy_get_tweet.json"))
    page = recorded("x_tweepy_quote_tweets.json")
    server.record(f"/2/tweets/{root}/quote_tweets", page)
    server.record(f"/2/tweets/{root}/quote_tweets", {"meta": {"result_count": 0}},
                  query={"pagination_token": page["meta"]["next_token"]})  # the second page was not recorded
    db = tmp_path / "x.db"
    result = run("harvest", f"https://x.com/TwitterDev/status/{root}", "--db", db)
    assert f"X listed 7 retweets among the quote posts of {root}" in result.stderr

    quotes = {r["id"]: r for r in rows(db, "select * from replies")}
    real = [t for t in page["data"] if not t["text"].startswith("RT @")]
    assert len(page["data"]) == 9 and len(real) == 2
    assert set(quotes) == {t["id"] for t in real}
    for tweet in real:
        row = quotes[tweet["id"]]
        assert (row["kind"], row["parent_id"], row["thread_id"]) == ("quote", root, root)
        assert row["text"] == html.unescape(tweet["text"])
        assert json.loads(row["raw"]) == tweet
    assert all(r["query"].get("exclude") == "retweets" for r in server.requests_to("/quote_tweets"))
    thread = rows(db, "select * from threads")[0]
    assert thread["text"] == recorded("x_tweepy_get_tweet.json")["data"]["text"]


def test_x_edited_post_is_harvested_through_its_latest_version(serve, run, tmp_path):
    """Harvesting an edited post by its original URL finds the reply that lives in the
    latest version's conversation, stores the edit as such, and expands t.co links from `entities.urls`."""
    before, after = recorded("x_twarc_csv_edited_before.jsonl"), recorded("x_twarc_csv_edited_after.jsonl")
    reply_page = recorded("x_twarc_csv_quoted_edit.jsonl")
    original, latest = before["data"][0]["id"], after["data"][0]["id"]
    reply = reply_page["data"][0]
    assert before["data"][0]["edit_history_tweet_ids"] == [original, latest]
    assert reply["conversation_id"] == latest != original
    server = serve(World())
    # The API answers GET /2/tweets/:id with one object in `data`; these files hold the ids= form's list.
    server.record(f"/2/tweets/{original}", {**before, "data": before["data"][0]})
    server.record(f"/2/tweets/{latest}", {**after, "data": after["data"][0]})
    server.record("/2/tweets/search/all", {**reply_page, "meta": {"result_count": 1, "newest_id": reply["id"],
                                                                  "oldest_id": reply["id"]}})
    db = tmp_path / "x.db"
    result = run("harvest", f"https://x.com/wongmjane/status/{original}", "--full-archive", "--db", db)

    assert f"X post {original} was edited; harvesting its latest version, {latest}" in result.stderr
    searches = server.requests_to("/search/all")
    assert searches and all(r["query"]["query"] == f"conversation_id:{latest}" for r in searches)
    thread = rows(db, "select * from threads")[0]
    assert (thread["id"], json.loads(thread["edit_history"])) == (latest, [original])
    assert thread["text"] == "hey :) https://twitter.com/i/web/status/1576994789110992896"

    stored = rows(db, "select * from replies")
    assert [r["id"] for r in stored] == [reply["id"]]
    row = stored[0]
    users = {u["id"]: u for u in reply_page["includes"]["users"]}
    metrics = reply["public_metrics"]
    assert (row["kind"], row["parent_id"], row["thread_id"]) == ("reply", latest, latest)
    assert row["text"] == "@wongmjane Test \nhttps://twitter.com/wongmjane/status/1576994746135764992"
    assert "https://t.co/rBFwqjVr6B" in json.loads(row["raw"])["text"]  # the raw answer keeps the t.co form
    assert row["author_id"] == reply["author_id"]
    assert row["author_handle"] == users[reply["author_id"]]["username"]
    assert row["created_at"] == "2022-10-03T18:00:23.000Z" == reply["created_at"]
    assert row["lang"] == reply["lang"]
    assert (row["like_count"], row["repost_count"], row["reply_count"], row["quote_count"]) == (
        metrics["like_count"], metrics["retweet_count"], metrics["reply_count"], metrics["quote_count"])
    assert row["edit_history"] is None


def test_twarc_files_import_everything_they_hold(run, tmp_path):
    """On real twarc2 files: a root held only in `includes` is imported whole (it was an
    empty placeholder), a retweet is left out rather than made a question thread, and stream output
    (`data` holding one tweet, with `matching_rules`) is read."""
    db = tmp_path / "t.db"
    result = run("import", RECORDED / "x_twarc_csv_quoted_edit.jsonl", "--db", db)
    page = recorded("x_twarc_csv_quoted_edit.jsonl")
    reply = page["data"][0]
    by_id = {t["id"]: t for t in page["includes"]["tweets"]}
    threads = {t["id"]: t for t in rows(db, "select * from threads")}
    latest = reply["conversation_id"]
    assert threads[latest]["text"] == html.unescape(by_id[latest]["text"]).replace(
        "https://t.co/rnwEIoNuqd", "https://twitter.com/i/web/status/1576994789110992896")
    assert threads[latest]["author_handle"] == "wongmjane"
    assert threads[latest]["created_at"] == by_id[latest]["created_at"] == "2022-10-03T17:57:11.000Z"
    stored = {r["id"]: r for r in rows(db, "select * from replies")}
    assert stored[reply["id"]]["thread_id"] == latest and stored[reply["id"]]["parent_id"] == latest
    assert stored[reply["id"]]["quote_of"] == "1576994746135764992"
    assert "in 2 threads" in result.output  # the reply's conversation, and the first version's own
    listed = {t["id"]: t for t in json.loads(run("threads", "--json", "--db", db).output)}
    counts = by_id[latest]["public_metrics"]
    promised = counts["reply_count"] + counts["quote_count"] + reply["public_metrics"]["reply_count"]
    assert promised > 1 and listed[latest]["coverage"] == f"1 of {promised}; {promised - 1} deleted, hidden or unreachable"

    db = tmp_path / "rt.db"
    result = run("import", RECORDED / "x_twarc_csv_two_tweets.jsonl", "--db", db)
    search = recorded("x_twarc_csv_two_tweets.jsonl")
    retweet, original = search["data"][0], search["includes"]["tweets"][0]
    assert retweet["referenced_tweets"] == [{"type": "retweeted", "id": original["id"]}]
    assert "1 retweets left out" in result.output
    assert [t["id"] for t in rows(db, "select id from threads")] == [original["id"]]
    assert rows(db, "select count(*) as n from replies")[0]["n"] == 0

    stream = tmp_path / "stream.jsonl"  # twarc2 stream's line shape, around the recorded reply
    stream.write_text(json.dumps({"data": reply, "includes": page["includes"],
                                  "matching_rules": [{"id": "1", "tag": "lean"}]}) + "\n")
    db = tmp_path / "s.db"
    run("import", stream, "--db", db)
    assert [r["id"] for r in rows(db, "select id from replies")] == [reply["id"]]


def test_mastodon_quote_and_content_warning_from_a_real_server(serve, run, tmp_path, monkeypatch):
    """On answers a Mastodon 4.5 server gave Mastodon.py's test suite: a quote post keeps
    what it quotes (`quote.state` accepted) without the "RE: <link>" fallback paragraph, and a content warning
    (`spoiler_text`) is stored."""
    quoted, quote = recorded("mastodon_py_quoted_status.json"), recorded("mastodon_py_quote_status.json")
    assert 'class="quote-inline"' in quote["content"] and quote["quote"]["state"] == "accepted"
    server = serve(World())
    server.record(f"/api/v1/statuses/{quoted['id']}", quoted)
    server.record(f"/api/v1/statuses/{quoted['id']}/context", recorded("mastodon_py_empty_context.json"))
    server.record(f"/api/v1/statuses/{quoted['id']}/quotes", [quote])
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "mastodon-token")  # the quotes endpoint needs a user
    db = tmp_path / "m.db"
    run("harvest", f"{server.base_url}/@{quoted['account']['acct']}/{quoted['id']}", "--db", db)

    host = server.base_url.split("://", 1)[1]
    row = rows(db, "select * from replies")[0]
    assert (row["id"], row["kind"], row["parent_id"], row["quote_of"]) == (
        f"{host}/{quote['id']}", "quote", f"{host}/{quoted['id']}", f"{host}/{quoted['id']}")
    assert row["text"] == "yoooooooo"  # the fallback "RE: http://localhost:3000/@…" paragraph is gone
    assert row["html"] == quote["content"] and json.loads(row["raw"]) == quote
    assert row["author_id"] == quote["account"]["id"] and row["author_handle"] == f"mastodonpy_test@{host}"
    assert row["created_at"] == quote["created_at"] and row["url"] == quote["url"]
    assert (row["lang"], row["like_count"], row["repost_count"], row["reply_count"], row["quote_count"]) == (
        quote["language"], quote["favourites_count"], quote["reblogs_count"], quote["replies_count"],
        quote["quotes_count"])
    assert row["spoiler_text"] is None and quote["spoiler_text"] == ""

    warned = recorded("mastodon_py_cw_status.json")
    server.record(f"/api/v1/statuses/{warned['id']}", warned)
    server.record(f"/api/v1/statuses/{warned['id']}/context", recorded("mastodon_py_empty_context.json"))
    server.record(f"/api/v1/statuses/{warned['id']}/quotes", [])
    run("harvest", f"{server.base_url}/@mastodonpy_test/{warned['id']}", "--db", db)
    thread = rows(db, "select * from threads where id = ?", [f"{host}/{warned['id']}"])[0]
    assert thread["spoiler_text"] == warned["spoiler_text"] == "Content warning"
    assert thread["text"] == "Toot!"


def test_origin_reads_the_uri_form_real_servers_send():
    from replies.harvester.mastodon import origin_of

    uri = recorded("mastodon_py_quote_status.json")["uri"]  # Mastodon 4.4+: /ap/users/<account id>/statuses/<id>
    assert uri.startswith("http://localhost:3000/ap/users/")
    assert origin_of(uri, "http://127.0.0.1:9") == ("http://localhost:3000", uri.rsplit("/", 1)[1])
    assert origin_of(uri.replace("http://localhost:3000", "https://example.social"), "https://mastodon.social") \
        == ("https://example.social", uri.rsplit("/", 1)[1])


def _reddit_comments(node, found: dict[str, dict], stubs: list[dict]) -> None:
    """Every t1 comment (by id) and every `more` stub anywhere in a recorded Reddit answer."""
    if isinstance(node, list):
        for item in node:
            _reddit_comments(item, found, stubs)
    elif isinstance(node, dict):
        if node.get("kind") == "t1":
            found[node["data"]["id"]] = node["data"]
        elif node.get("kind") == "more":
            stubs.append(node["data"])
        for value in node.values():
            if isinstance(value, (dict, list)):
                _reddit_comments(value, found, stubs)


def test_reddit_thread_as_reddit_served_it(serve, run, env):
    """A 543-comment Reddit thread from PRAW's cassettes (its first page, morechildren answers and
    continue-this-thread pages, all Reddit's own JSON) is harvested complete: every comment Reddit sent is
    stored once with its parent, every stub expanded, every continue page read, no id asked twice."""
    import gzip

    recorded = json.loads(gzip.decompress((RECORDED / "reddit_praw_3hahrw.json.gz").read_bytes()))
    server = serve(World())
    server.record("/comments/3hahrw", recorded["first"])
    for path, body in recorded["continue"].items():
        server.record(path, body)
    server.record_morechildren(recorded["morechildren_things"])
    result = run("harvest", "https://www.reddit.com/r/funny/comments/3hahrw/")
    sent: dict[str, dict] = {}
    stubs: list[dict] = []
    _reddit_comments([recorded["first"], recorded["morechildren_things"], *recorded["continue"].values()], sent,
                     stubs)
    stored = {r["id"]: r for r in rows(env["REPLIES_DB"], "select * from replies")}
    assert {i.split("_", 1)[1] for i in stored} == set(sent) and len(stored) > 400
    from datetime import datetime, timezone
    negative = edited = 0
    for cid, data in sent.items():
        row = stored[f"t1_{cid}"]
        assert row["parent_id"] == data["parent_id"] and row["thread_id"] == "t3_3hahrw"
        assert row["text"] == (None if data["body"] in ("[deleted]", "[removed]") else data["body"])
        assert row["like_count"] == data["score"]  # the score, whatever its sign: upvotes less downvotes
        negative += data["score"] < 0
        if data["edited"]:  # false, or when it was last edited
            edited += 1
            when = datetime.fromtimestamp(data["edited"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
            assert row["edited_at"].startswith(when)
        else:
            assert row["edited_at"] is None
    assert (negative, edited) == (57, 13)  # what the recording holds: 57 comments scored below zero, 13 edited
    hidden = {c for s in stubs for c in s["children"]}
    asked = [c for r in server.requests_to("/api/morechildren") for c in r["query"]["children"].split(",")]
    continued = {r["path"] for r in server.requests_to("/comments/3hahrw/_/")}
    assert continued == set(recorded["continue"])
    # a stub lists the ids at its level; Reddit answers them with the replies below them, so an id already
    # received that way is not asked again: each asked once, and no more calls than 100 ids a call needs
    assert set(asked) <= hidden and len(asked) == len(set(asked))
    assert hidden - set(asked) <= set(sent)
    assert len(server.requests_to("/api/morechildren")) <= -(-len(asked) // 100) + len(continued)
    thread = rows(env["REPLIES_DB"], "select * from threads")[0]
    assert thread["reply_count"] == 543 and thread["id"] == "t3_3hahrw"
    assert f"coverage {sum(r['status'] == 'ok' for r in stored.values())} of 543" in result.output


def test_youtube_reply_counts_and_a_reply_page_that_fails_are_never_silent(serve, run, env):
    """A page of comment threads as YouTube served it (python-youtube's recorded answer): each top-level
    comment keeps YouTube's count of its replies, and the one comment with replies not carried in the page,
    whose reply page answers 404 here, is a warning naming it, the thread is partial (exit code 5), its
    coverage shows what is missing, and the next run asks for that page again."""
    page = recorded("youtube_python_youtube_comment_threads_page.json")
    page.pop("nextPageToken", None)  # the recording is the second page of a longer list: served as the last
    server = serve(World())
    video = {"kind": "youtube#video", "id": "F1UP7wRCPH8", "snippet": {"title": "Chrome Dev Summit"},
             "statistics": {"commentCount": "7"}}
    server.record("/youtube/v3/videos", {"items": [video]})
    server.record("/youtube/v3/commentThreads", page)
    result = run("harvest", "https://youtu.be/F1UP7wRCPH8", code=5)
    stored = {r["id"]: r for r in rows(env["REPLIES_DB"], "select * from replies")}
    for item in page["items"]:
        top = item["snippet"]["topLevelComment"]
        assert stored[top["id"]]["reply_count"] == item["snippet"]["totalReplyCount"]
        assert stored[top["id"]]["text"] == top["snippet"]["textOriginal"]
    wanting = [i["id"] for i in page["items"] if i["snippet"]["totalReplyCount"]]
    assert wanting == ["UgwI_ylXVnzPS8Q-oAV4AaABAg"]
    assert f"YouTube comment {wanting[0]}'s replies could not be read: not found (404)" in result.stderr
    assert "coverage 5 of 7" in result.stdout + result.stderr
    asked = lambda: [r for r in server.requests_to("/youtube/v3/comments") if r["query"]["parentId"] == wanting[0]]
    assert len(asked()) == 1
    run("harvest", "https://youtu.be/F1UP7wRCPH8", code=5)
    assert len(asked()) == 2  # asked again


def test_a_twarc_stream_cut_off_mid_line_imports_its_complete_lines(run, env):
    """twarc-csv's recorded stream output ends in the middle of a line (a collection killed while writing):
    its 7 whole lines are imported and the cut one is a warning."""
    path = RECORDED / "x_twarc_csv_streaming_output_with_error.jsonl"
    lines = path.read_text().split("\n")
    assert len(lines) == 8 and len(lines[-1]) == 44  # the last line has no end
    result = run("import", path)
    assert "line 8 is cut off" in result.stderr and "the lines before it imported" in result.stderr
    stored = {r["id"] for r in rows(env["REPLIES_DB"], "select id from replies union select id from threads")}
    assert {json.loads(line)["data"]["id"] for line in lines[:-1]} <= stored


def test_a_quote_post_that_starts_a_conversation_is_stored_whole_as_its_question(run, env, tmp_path):
    """The recording's first tweet quotes another and starts a conversation of its own; with a reply to it in
    the file (a tweet of the documented shape), it is that conversation's question, stored whole, and still a
    quote of the post it quotes."""
    first = json.loads((RECORDED / "x_twarc_csv_streaming_output_with_error.jsonl").read_text().split("\n")[0])
    quoting = first["data"]
    reply = {"data": {"id": "1377650090978992999", "conversation_id": quoting["id"], "author_id": "41783881",
                      "text": "@blackheart_265 ha", "created_at": "2021-04-01T16:00:00.000Z",
                      "referenced_tweets": [{"type": "replied_to", "id": quoting["id"]}]},
             "includes": {"users": [{"id": "41783881", "username": "Manie_DS", "name": "Gary"}]}}
    path = tmp_path / "conversation.jsonl"
    path.write_text(json.dumps(first) + "\n" + json.dumps(reply) + "\n")
    run("import", path)
    threads = {r["id"]: r for r in rows(env["REPLIES_DB"], "select * from threads")}
    stored = {r["id"]: r for r in rows(env["REPLIES_DB"], "select * from replies")}
    assert threads[quoting["id"]]["text"] and threads[quoting["id"]]["text"] == stored[quoting["id"]]["text"]
    assert threads[quoting["id"]]["author_handle"] == "blackheart_265"
    assert stored[quoting["id"]]["kind"] == "quote" and stored[quoting["id"]]["parent_id"] == "1377640162566496258"
    assert stored["1377650090978992999"]["thread_id"] == quoting["id"]


def test_an_error_object_in_a_stream_file_is_a_warning_not_the_end(run, env, tmp_path):
    path = tmp_path / "stream.jsonl"
    good = (RECORDED / "x_twarc_csv_streaming_output_with_error.jsonl").read_text().split("\n")[:3]
    error = json.dumps({"errors": [{"title": "operational-disconnect",
                                    "disconnect_type": "UpstreamOperationalDisconnect",
                                    "detail": "This stream has been disconnected upstream for operational reasons.",
                                    "type": "https://api.twitter.com/2/problems/operational-disconnect"}]})
    path.write_text("\n".join([good[0], error, good[1], good[2]]) + "\n")
    result = run("import", path)
    assert "line 2 is an error X sent, not tweets (operational-disconnect)" in result.stderr
    assert "3 tweets read" in result.stdout or "tweets read" in result.stdout
    stored = {r["id"] for r in rows(env["REPLIES_DB"], "select id from replies union select id from threads")}
    assert {json.loads(line)["data"]["id"] for line in good} <= stored
