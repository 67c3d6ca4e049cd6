"""`replies serve`, route by route, through Flask's test client on a copy of the classified sample, and the
command itself as a process."""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from urllib.parse import quote, unquote

import pytest

from replies.codebook import load
from replies.web.app import create_app
from tests.helpers import count, rows

ORIGIN = "http://localhost"
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.fixture
def client(classified):
    app = create_app(classified, load(), reviewer="ann")
    return app.test_client()


def token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def form(page: str) -> dict:
    """The review or adjudication form's hidden fields, as the page carries them."""
    decision = page.split('id="decision"')[1].split("</form>")[0]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', decision))


def post(client, path: str, data: dict, reviewer: str | None = None, **headers):
    if reviewer:
        client.set_cookie("reviewer", reviewer)
    return client.post(path, data=data, headers={"Origin": ORIGIN, **headers})


def first_reply(classified) -> tuple[str, str]:
    row = rows(classified, "select platform, id from replies where status = 'ok' order by created_at limit 1")[0]
    return row["platform"], row["id"]


def test_every_page_renders_with_a_content_security_policy(client):
    for path, marker in (("/review", 'id="decision"'), ("/replies", 'id="replies"'), ("/overview", "<svg"),
                         ("/codebook", "Money and funding flows"), ("/adjudicate", "Nothing to adjudicate"),
                         ("/overview/chart", "<svg")):
        response = client.get(path)
        assert response.status_code == 200, path
        assert marker in response.text, path
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "<script>" not in response.text  # no inline script: the policy would block it anyway
    assert client.get("/").headers["Location"].endswith("/review")


def test_a_decision_is_saved_at_once_with_its_reviewer_and_shown_on_reload(client, classified):
    page = client.get("/review").text
    fields = form(page)
    platform, reply_id = fields["reply"].split(":", 1)
    response = post(client, "/review", {**fields, "label": ["money", "policy"], "note": "clear case"})
    assert response.status_code == 303
    assert "at=" + quote(fields["next"], safe="") in response.headers["Location"]
    saved = rows(classified, "select labels, note, reviewer from gold_labels where id = ?", [reply_id])
    assert saved == [{"labels": '["money", "policy"]', "note": "clear case", "reviewer": "ann"}]
    again = client.get(f"/review?at={quote(platform + ':' + reply_id)}").text
    assert 'value="money" checked' in again and 'value="policy" checked' in again
    assert 'value="leadership" checked' not in again and "clear case" in again and ">saved<" in again
    # the queue moved on: the next page is the reply the form named, and it is not the saved one
    following = client.get(response.headers["Location"]).text
    assert form(following)["reply"] == fields["next"] != fields["reply"]


def test_a_stale_page_is_told_and_never_overwrites(client, classified):
    fields = form(client.get("/review").text)
    reply_id = fields["reply"].split(":", 1)[1]
    assert post(client, "/review", {**fields, "label": ["money"]}).status_code == 303  # tab A
    stale = post(client, "/review", {**fields, "label": ["leadership"]})  # tab B, loaded before A saved
    assert stale.status_code == 409
    assert "Not saved" in stale.text and 'value="money" checked' in stale.text
    assert rows(classified, "select labels from gold_labels where id = ?", [reply_id]) == [{"labels": '["money"]'}]
    # deciding again from the refreshed page works
    assert post(client, "/review", {**form(stale.text), "label": ["leadership"]}).status_code == 303
    assert rows(classified, "select labels from gold_labels where id = ?", [reply_id]) == [{"labels": '["leadership"]'}]


def test_two_reviewers_on_one_database_keep_their_own_decisions(classified):
    book = load()
    ann, bob = (create_app(classified, book, reviewer=name).test_client() for name in ("ann", "bob"))
    platform, reply_id = first_reply(classified)
    for client, labels in ((ann, ["money"]), (bob, ["policy"])):
        fields = form(client.get(f"/review?at={quote(platform + ':' + reply_id)}&scope=all").text)
        assert post(client, "/review", {**fields, "label": labels}).status_code == 303
    assert rows(classified, "select reviewer, labels from gold_labels where id = ? order by reviewer", [reply_id]) == [
        {"reviewer": "ann", "labels": '["money"]'}, {"reviewer": "bob", "labels": '["policy"]'}]
    # the page's reviewer box changes who decides, for that browser only
    response = post(ann, "/reviewer", {"csrf_token": token(ann.get("/review").text), "name": "cat", "back": "/review"})
    assert response.status_code == 303 and "reviewer=cat" in response.headers["Set-Cookie"]
    assert "reviewing as <strong>cat</strong>" in ann.get("/review").text
    reserved = post(ann, "/reviewer", {"csrf_token": token(ann.get("/review").text), "name": "adjudicated"})
    assert reserved.status_code == 400


def test_cross_site_requests_are_refused(client, classified):
    fields = form(client.get("/review").text)
    data = {**fields, "label": ["money"]}
    assert client.post("/review", data=data, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/review", data=data).status_code == 403  # neither Origin nor Referer
    assert client.post("/review", data=data, headers={"Referer": "http://evil.example/x"}).status_code == 403
    missing = client.post("/review", data={**data, "csrf_token": ""}, headers={"Origin": ORIGIN})
    assert missing.status_code == 403 and "token" in missing.text
    # a page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) is not answered at all
    assert client.get("/review", headers={"Host": "evil.example:8765"}).status_code == 400
    assert count(classified, "select count(*) from gold_labels") == 0
    # the same request from the page itself goes through, by Origin or, failing that, by Referer
    assert client.post("/review", data=data, headers={"Referer": f"{ORIGIN}/review"}).status_code == 303


def plant(classified, text: str = HOSTILE, url: str = "javascript:alert(3)") -> tuple[str, str]:
    platform, reply_id = first_reply(classified)
    conn = sqlite3.connect(classified)
    conn.execute("update replies set text = ?, author_handle = ?, url = ? where id = ?",
                 [text, "<b>mallory</b>", url, reply_id])
    conn.commit()
    conn.close()
    return platform, reply_id


def test_reply_text_is_escaped_everywhere(client, classified):
    platform, reply_id = plant(classified)
    pages = [client.get(f"/review?at={quote(platform + ':' + reply_id)}").text, client.get("/replies?q=alert").text,
             client.get("/replies?sort=time&dir=asc").text]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>mallory" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in page
        assert 'href="javascript:' not in page  # only http(s) URLs become links


def times_of(page: str) -> list[str]:
    return re.findall(r'<td class="when">([^<]+)</td>', page)


def test_the_table_filters_sorts_pages_and_downloads_exactly_what_it_shows(client, classified):
    predicted_money = count(classified, "select count(*) from predictions where category = 'money' and predicted = 1")
    page = client.get("/replies?category=money&source=predicted").text
    assert f'<span id="total">{predicted_money}</span>' in page
    shown = [unquote(ref) for ref in re.findall(r'href="/review\?scope=all&amp;at=([^"]+)"', page)]
    assert len(shown) == min(predicted_money, 50)
    listed = client.get("/replies.csv?category=money&source=predicted")
    assert listed.headers["Content-Disposition"] == 'attachment; filename="replies-lean_nhs.csv"'
    table = list(csv.DictReader(io.StringIO(listed.text)))
    assert len(table) == predicted_money and all("money" in row["labels"].split(";") for row in table)
    assert [f"{r['platform']}:{r['id']}" for r in table][:len(shown)] == shown  # same rows, same order
    jsonl = client.get("/replies.jsonl?category=money&source=predicted").text
    lines = [json.loads(line) for line in jsonl.splitlines()]
    assert [r["id"] for r in lines] == [r["id"] for r in table]
    assert set(lines[0]) == {"platform", "id", "thread", "parent_id", "depth", "kind", "author", "text", "spoiler_text",
                             "quote_of", "created_at", "url", "labels", "scores", "gold", "gold_codebook", "samples"}
    # sorting and paging: oldest first, the second page continues where the first stopped
    total = count(classified, "select count(*) from replies where status = 'ok'")
    first = client.get("/replies?sort=time&dir=asc").text
    second = client.get("/replies?sort=time&dir=asc&page=2").text
    times = re.findall(r'<td class="when">([^<]+)</td>', first) + re.findall(r'<td class="when">([^<]+)</td>', second)
    assert len(times) == min(total, 100) and times == sorted(times)
    # a page past the end, however far, is the last page
    last = -(-total // 50)
    for far in (last + 1, 10**30):
        shown = client.get(f"/replies?sort=time&dir=asc&page={far}")
        assert shown.status_code == 200
        assert times_of(shown.text) == times_of(client.get(f"/replies?sort=time&dir=asc&page={last}").text)
    # full-text search, and a search SQLite cannot parse is one clear message
    assert "funding" in client.get("/replies?q=funding").text.lower()
    for typed in ("can't", "clinician-led", '"unbalanced'):  # what people type is searched as written
        assert client.get("/replies", query_string={"q": typed}).status_code == 200, typed
    assert "Can't" in client.get("/replies", query_string={"q": "can't"}).text.replace("&#39;", "'")
    bad = client.get('/replies?fts=1&q="unbalanced')  # FTS5 syntax only when asked for
    assert bad.status_code == 400 and "cannot search for" in bad.text
    assert client.get('/replies.csv?fts=1&q="unbalanced').status_code == 400  # refused before the download starts


def test_bad_parameters_are_one_clear_message(client):
    for path, words in (("/review?order=loudest", "unknown order 'loudest'"),
                        ("/review?category=nope", "unknown category 'nope'"),
                        ("/replies?since=yesterday", "since must be a date"),
                        ("/replies?sort=colour", "unknown sort 'colour'"),
                        ("/replies?thread=nothing", "no tracked thread matches"),
                        ("/review?at=x:404", "no reply")):
        response = client.get(path)
        assert response.status_code in (400, 404) and words in response.text.replace("&#39;", "'"), path


def test_adjudication_records_a_final_label_that_exports_use_and_agreement_leaves_out(classified):
    book = load()
    ann, bob = (create_app(classified, book, reviewer=name).test_client() for name in ("ann", "bob"))
    platform, reply_id = first_reply(classified)
    for client, labels in ((ann, ["money"]), (bob, ["money", "policy"])):
        fields = form(client.get(f"/review?at={quote(platform + ':' + reply_id)}&scope=all").text)
        post(client, "/review", {**fields, "label": labels})
    page = ann.get("/adjudicate").text
    assert "1 reply where reviewers disagree" in page
    fields = form(page)
    assert fields["reply"] == f"{platform}:{reply_id}"
    assert 'value="money" checked' in page and 'value="policy" checked' not in page  # what both gave
    bobs = form(bob.get("/adjudicate").text)  # bob opens the same disagreement before ann decides
    response = post(ann, "/adjudicate", {**fields, "label": ["money", "policy"], "note": "policy is explicit"})
    assert response.status_code == 303
    assert rows(classified, "select labels, note from gold_labels where reviewer = 'adjudicated'") == [
        {"labels": '["money", "policy"]', "note": "decided by ann: policy is explicit"}]
    assert "Every disagreement has a final decision" in ann.get("/adjudicate").text
    # a second final decision from a page loaded before the first is refused
    assert post(bob, "/adjudicate", {**bobs, "label": ["money"]}).status_code == 409
    exported = [json.loads(line) for line in ann.get("/replies.jsonl").text.splitlines()]
    assert next(r for r in exported if r["id"] == reply_id)["gold"] == ["money", "policy"]
    overview = ann.get("/overview").text
    assert "ann / bob" in overview and "adjudicated /" not in overview and "/ adjudicated" not in overview


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(classified, *args) -> tuple[subprocess.Popen, str]:
    child = subprocess.Popen([sys.executable, "-m", "replies", "serve", "--db", str(classified), *args],
                             stderr=subprocess.PIPE, text=True)
    return child, child.stderr.readline()


def test_the_command_serves_on_loopback_and_stops_cleanly_on_ctrl_c(classified):
    import httpx

    child, line = start(classified, "--port", "0", "--reviewer", "ann")
    try:
        port = int(re.search(r"http://localhost:(\d+)/", line).group(1))
        assert "reviewing as <strong>ann</strong>" in httpx.get(f"http://127.0.0.1:{port}/review").text
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=30) == 0
        assert "Every decision was saved" in child.stderr.read()
    finally:
        child.kill()


def test_the_command_refuses_a_taken_port_and_warns_off_loopback(classified):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    child, line = start(classified, "--port", str(taken.getsockname()[1]))
    assert child.wait(timeout=30) == 2 and "already in use" in line and "--port" in line
    taken.close()
    child, line = start(classified, "--host", "192.0.2.1", "--port", str(free_port()))
    assert child.wait(timeout=30) == 2
    assert "Warning: binding 192.0.2.1" in line and "not an address of this machine" in child.stderr.read()


def test_the_queue_filters_by_reviewer(classified):
    book = load()
    ann, bob = (create_app(classified, book, reviewer=name).test_client() for name in ("ann", "bob"))
    for _ in range(3):
        fields = form(ann.get("/review").text)
        post(ann, "/review", {**fields, "label": ["money"]})
    done = {r["platform"] + ":" + r["id"] for r in rows(classified, "select platform, id from gold_labels")}
    page = bob.get("/review?scope=by:ann&order=thread").text
    assert "Reply 1 of 3" in page and form(page)["reply"] in done and 'value="by:ann" selected' in page
    total = count(classified, "select count(*) from replies where status = 'ok' and text != ''")
    assert f"Reply 1 of {total - 3}" in bob.get("/review?scope=nobody").text
    assert f"Reply 1 of {total}" in bob.get("/review?scope=unreviewed").text  # bob has reviewed nothing


def test_an_empty_database_says_what_to_do(tmp_path):
    client = create_app(tmp_path / "new.db", load(), reviewer="ann").test_client()
    assert "replies harvest URL" in re.sub(r"<[^>]+>", "", client.get("/review").text)  # the words, not markup
    for path in ("/replies", "/overview", "/codebook", "/adjudicate", "/replies.csv"):
        assert client.get(path).status_code == 200, path


def test_any_queue_can_be_coded_blind(client):
    """?blind=1 hides the model's scores and nothing is pre-checked, on any queue; it carries to the next reply."""
    seen = client.get("/review").text
    blind = client.get("/review?blind=1").text
    assert 'class="score"' in seen and 'class="score"' not in blind and 'id="blind"' in blind
    assert "checked" not in blind.split('id="decision"', 1)[1].split("</fieldset>", 1)[0]
    assert 'name="blind" value="1"' in blind.split('id="decision"', 1)[1]


def test_the_thread_page_shows_who_replied_to_whom_in_branches_that_open_and_close(client, classified):
    thread_id = rows(classified, "select id from threads where platform = 'mastodon'")[0]["id"]
    page = client.get("/thread", query_string={"ref": f"mastodon:{thread_id}"})
    assert page.status_code == 200 and "44 posts below the question, 22 deep" in page.text
    assert page.text.count("<details") >= 5 and "<summary>" in page.text  # branches, no script needed
    tree = page.text.split('id="tree"', 1)[1]
    assert tree.count("<li>") == 44
    assert tree.count('<ul class="tree">') >= 22  # the deepest chain nests 22 levels
    assert client.get("/thread").status_code == 200  # the first thread when none is named
    assert client.get("/thread?ref=nope:1").status_code == 400


def test_the_overview_says_when_figures_rest_on_few_replies(client, classified):
    """Two reviewers on five replies: the overview shows n/a where nothing can be measured and warns that five
    replies are too few, beside the model's figures and beside the reviewers' agreement."""
    from replies.db import labels as label_store
    from replies.db import open_db

    database = open_db(classified)
    keys = rows(classified, "select platform, id from replies where status = 'ok' order by id limit 5")
    for reviewer in ("ann", "bob"):
        label_store.set_gold(database, [{"platform": k["platform"], "id": k["id"], "codebook": "lean_nhs",
                                         "reviewer": reviewer, "labels": ["money"]} for k in keys])
    page = client.get("/overview").text
    assert 'id="small-sample"' in page and 'id="agreement-small-sample"' in page and "Only 5 replies" in page
    assert "n/a" in page.split('id="reviewer-agreement"', 1)[1]
