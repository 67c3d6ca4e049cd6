"""`replies thread`: the tree of who replied to whom, its depth everywhere, and the reply network for Gephi."""

from __future__ import annotations

import json

import networkx as nx

from replies import db
from tests.helpers import rows


def _mastodon(classified) -> str:
    return "mastodon:" + rows(classified, "select id from threads where platform = 'mastodon'")[0]["id"]


def test_the_tree_puts_each_reply_under_its_parent_depth_first(cli, classified):
    ref = _mastodon(classified)
    posts = [json.loads(line) for line in cli("thread", ref, "--json").output.splitlines()]
    stored = rows(classified, "select id, parent_id from replies where platform = 'mastodon'")
    assert {p["id"] for p in posts} == {r["id"] for r in stored}  # every post, once
    seen = {}
    for post in posts:  # depth first: a reply comes after its parent, one level deeper
        if post["parent_id"] in seen:
            assert post["depth"] == seen[post["parent_id"]] + 1
        else:
            assert post["depth"] == 1
        seen[post["id"]] = post["depth"]
    assert max(seen.values()) == 22
    top = [p for p in posts if p["depth"] == 1]
    assert sum(p["below"] for p in top) + len(top) == len(posts)

    shown = cli("thread", ref, "--depth", "2")
    lines = shown.output.splitlines()
    assert "44 posts below it, 22 deep" in lines[1] and "down to depth 2" in lines[1]
    assert all(not line.startswith("    └") for line in lines[2:])  # nothing deeper than 2
    assert any("below)" in line for line in lines) and any("[" in line for line in lines[2:])  # counts and tags


def test_parents_that_loop_cannot_keep_the_tree_or_the_export_going(cli, classified):
    database = db.open_db(classified)
    thread_id = rows(classified, "select id from threads where platform = 'x'")[0]["id"]
    database["replies"].insert_all([
        {"platform": "x", "id": "loop-a", "thread_id": thread_id, "parent_id": "loop-b", "kind": "reply",
         "status": "ok", "text": "a"},
        {"platform": "x", "id": "loop-b", "thread_id": thread_id, "parent_id": "loop-a", "kind": "reply",
         "status": "ok", "text": "b"}])
    database.conn.commit()
    posts = {p["id"]: p for p in map(json.loads, cli("thread", f"x:{thread_id}", "--json").output.splitlines())}
    # every stored reply is shown: the loop opened at its oldest post, at depth 1 and marked
    assert posts["loop-a"]["loop"] and posts["loop-a"]["depth"] == 1 and posts["loop-b"]["depth"] == 2
    exported = {r["id"]: r for r in map(json.loads, cli("export").output.splitlines())}
    assert 1 <= exported["loop-a"]["depth"] <= 1000


def test_the_reply_network_opens_in_gephi_formats(cli, classified, tmp_path):
    ref = _mastodon(classified)
    for suffix, read in (("gexf", nx.read_gexf), ("graphml", nx.read_graphml)):
        path = tmp_path / f"replies.{suffix}"
        result = cli("thread", ref, "--network", path)
        assert "who-replied-to-whom links" in result.stderr
        graph = read(path)
        assert graph.is_directed() and graph.number_of_edges() > 10
        authors = {r["author_handle"] for r in rows(classified, "select author_handle from replies "
                                                                 "where platform = 'mastodon'")}
        assert authors <= set(graph.nodes)
        asker = next(n for n, data in graph.nodes(data=True) if str(data.get("asker")).lower() == "true")
        assert graph.in_degree(asker) >= 10  # most replies answer the question's author
        assert sum(d["weight"] for *_, d in graph.edges(data=True)) <= 44
    assert "name a .gexf or .graphml file" in cli("thread", ref, "--network", tmp_path / "x.csv", code=2).stderr


def test_a_thread_is_found_by_the_reference_a_user_has_in_hand(cli, classified):
    """The README's `replies thread mastodon:<id>` (the status id without its server), Reddit's post id
    without `t3_`, URLs in the forms a browser or an app gives; several matches or none name the stored form."""
    database = db.open_db(classified)
    for platform, stored, url in (
            ("reddit", "t3_gk5b18", "https://www.reddit.com/r/NHS/comments/gk5b18/a_question/"),
            ("youtube", "RqCHDnzjK8H", "https://www.youtube.com/watch?v=RqCHDnzjK8H"),
            ("threads", "18796443111316300", "https://www.threads.net/@asker/post/BCx0PysNtM"),
            ("mastodon", "other.example/117000000000000001", "https://other.example/@a/117000000000000001"),
            ("mastodon", "third.example/117000000000000001", "https://third.example/@b/117000000000000001")):
        db.upsert_thread(database, {"platform": platform, "id": stored, "url": url, "text": "question"})
    database.close()
    mastodon = _mastodon(classified)
    status = mastodon.rsplit("/", 1)[1]
    web = rows(classified, "select url from threads where platform = 'mastodon' and id = ?",
               (mastodon.split(":", 1)[1],))[0]["url"]
    bluesky = rows(classified, "select id, url from threads where platform = 'bluesky'")[0]
    x = rows(classified, "select id, url from threads where platform = 'x'")[0]

    def shown(ref: str) -> str:  # the thread's root line, which names the platform and the asker
        return cli("thread", ref, "--depth", "1").output.splitlines()[0]

    for refs in ([mastodon, f"mastodon:{status}", status, web + "/", web.replace("http://", "https://")],
                 [f"bluesky:{bluesky['id']}", bluesky["url"], bluesky["id"].rsplit("/", 1)[1]],
                 [x["url"], x["url"].replace("https://x.com", "https://twitter.com") + "?s=20", x["id"]],
                 ["reddit:t3_gk5b18", "reddit:gk5b18", "gk5b18", "https://old.reddit.com/r/NHS/comments/gk5b18"],
                 ["youtube:RqCHDnzjK8H", "https://youtu.be/RqCHDnzjK8H", "youtube.com/watch?v=RqCHDnzjK8H&t=9"],
                 ["threads:BCx0PysNtM", "https://www.threads.com/@asker/post/BCx0PysNtM/"]):
        first = cli("thread", refs[0]).output
        assert first and all(cli("thread", ref).output == first for ref in refs[1:]), refs
    assert shown("gk5b18").startswith("reddit:") and shown(status).startswith("mastodon:")

    two = cli("thread", "mastodon:117000000000000001", code=1).stderr
    assert "matches 2 tracked threads" in two and "mastodon:other.example/117000000000000001" in two \
        and "mastodon:third.example/117000000000000001" in two
    near = cli("thread", f"mastodon:{status[:-2]}", code=1).stderr
    assert f"did you mean {mastodon}?" in near and len(near.strip().splitlines()) == 1
    assert "give its URL, id or PLATFORM:ID" in cli("thread", "reddit:nothing", code=1).stderr
