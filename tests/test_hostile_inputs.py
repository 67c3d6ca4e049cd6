"""Hostile files and inputs, second round: imports that would overwrite a harvest, platforms only an import
knows, escape sequences in an export on a terminal, header values from a codebook, the page's own addresses,
damaged databases and malformed URLs, endless JSONL lines, and fields a server sends malformed."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from replies.codebook import load
from replies.emulator import World
from replies.emulator.sample import post_url
from replies.web.app import create_app
from tests.helpers import rows


def test_an_import_never_overwrites_a_harvested_reply(cli, classified, tmp_path):
    tweet = rows(classified, "select * from replies where platform = 'x' and status = 'ok' limit 1")[0]
    csv_file = tmp_path / "rows.csv"
    csv_file.write_text(f"id,comment,who\n{tweet['id']},replaced text,mallory\nnew1,a new reply,ann\n")
    args = ("import", csv_file, "--format", "csv", "--map", "id=id,text=comment,author=who", "--platform", "x",
            "--thread-url", "https://example.org/question")
    first = cli(*args)
    assert "1 new, 0 updated; 1 left out (ids already stored from another source)" in first.stdout
    assert "1 rows left out" in first.stderr
    kept = rows(classified, "select * from replies where platform = 'x' and id = ?", [tweet["id"]])[0]
    assert (kept["text"], kept["author_handle"], kept["thread_id"]) == (tweet["text"], tweet["author_handle"],
                                                                        tweet["thread_id"])
    again = cli(*args)  # the same file again adds nothing
    assert "0 new, 0 updated; 1 left out" in again.stdout


def test_replies_an_import_gave_a_platform_of_its_own_can_be_labelled_everywhere(cli, classified, tmp_path):
    source = tmp_path / "linkedin.csv"
    source.write_text("id,comment\na1,Money is the problem\na2,No time at all\n")
    cli("import", source, "--format", "csv", "--map", "id=id,text=comment",
        "--thread-url", "https://www.linkedin.com/posts/question-1")
    cli("label", "linkedin:a1", "money", "--reviewer", "ann")
    (tmp_path / "l.jsonl").write_text(json.dumps({"platform": "linkedin", "id": "a2", "labels": ["time_resources"]}))
    cli("import-labels", tmp_path / "l.jsonl", "--reviewer", "bob")
    (tmp_path / "l.csv").write_text("platform,id,labels\nlinkedin,a2,time_resources\n")
    cli("import-labels", tmp_path / "l.csv", "--reviewer", "cy")
    studio = [{"id": 1, "data": {"platform": "linkedin", "reply_id": "a1", "text": "x"},
               "annotations": [{"completed_by": {"email": "dee@example.org"},
                                "result": [{"from_name": "category", "type": "choices",
                                            "value": {"choices": ["money"]}}]}]}]
    (tmp_path / "studio.json").write_text(json.dumps(studio))
    cli("import-labels", tmp_path / "studio.json")
    labelled = {(r["id"], r["reviewer"]) for r in rows(classified, "select * from gold_labels")}
    assert labelled == {("a1", "ann"), ("a2", "bob"), ("a2", "cy"), ("a1", "dee@example.org")}
    wrong = cli("label", "nowhere:a1", "money", code=1)
    assert "platform one of" in wrong.stderr and "linkedin" in wrong.stderr
    client = create_app(classified, load(), reviewer="ann").test_client()
    page = client.get("/replies?platform=linkedin")
    assert page.status_code == 200 and "Money is the problem" in page.text
    assert client.get("/replies?platform=nowhere").status_code == 400


def test_a_csv_export_to_a_terminal_shows_escape_sequences_and_a_file_keeps_them(classified, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    attack = "clipboard \x1b]52;c;ZXZpbA==\x07 and clear \x1b[2J and \u202eright-to-left"
    with sqlite3.connect(classified) as conn:
        conn.execute("update replies set text = ? where rowid = (select min(rowid) from replies where status = 'ok')",
                     [attack])
    env = {**os.environ, "REPLIES_DB": str(classified), "TERM": "xterm"}
    for fmt in ("csv", "jsonl", "labelstudio"):
        child = pexpect.spawn(sys.executable, ["-m", "replies", "export", "--format", fmt], env=env,
                              encoding="utf-8", timeout=60, dimensions=(50, 200))
        shown = child.read()
        child.close()
        assert child.exitstatus == 0 and "clipboard" in shown, fmt
        assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown, fmt
    piped = subprocess.run([sys.executable, "-m", "replies", "export", "--format", "csv"], env=env,
                           capture_output=True, text=True, check=True)
    assert attack in piped.stdout  # a file (or a pipe) gets the text as written: it is evidence


def test_a_codebook_name_cannot_break_a_header(classified, tmp_path):
    book = tmp_path / "book.yaml"
    book.write_text('name: "lean\\r\\nSet-Cookie: x=1"\ncategories:\n  - {id: money, label: Money, description: m}\n')
    result = subprocess.run([sys.executable, "-m", "replies", "stats", "--codebook", str(book)],
                            env={**os.environ, "REPLIES_DB": str(classified)}, capture_output=True, text=True)
    assert result.returncode == 1 and "must be one line" in result.stderr and "Traceback" not in result.stderr
    stored = load()
    stored = type(stored)(name='a "quoted"\r\nname', question="", categories=stored.categories)
    client = create_app(classified, stored, reviewer="ann").test_client()
    for fmt in ("csv", "jsonl"):
        response = client.get(f"/replies.{fmt}")
        assert response.status_code == 200
        assert response.headers["Content-Disposition"] == f'attachment; filename="replies-a_quoted_name.{fmt}"'


@pytest.mark.parametrize("host, reachable", [("0.0.0.0", "127.0.0.3"), ("127.0.0.2", "127.0.0.2")])
def test_serve_answers_on_the_addresses_it_listens_on_and_prints_one_that_works(classified, host, reachable):
    import httpx
    child = subprocess.Popen([sys.executable, "-m", "replies", "serve", "--host", host, "--port", "0"],
                             env={**os.environ, "REPLIES_DB": str(classified)}, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stderr.readline()
        while "Serving" not in line:
            line = child.stderr.readline()
        url = re.search(r"at (http://\S+/)", line).group(1)
        port = url.rsplit(":", 1)[1].strip("/")
        assert httpx.get(url + "review", timeout=10).status_code == 200
        assert httpx.get(f"http://{reachable}:{port}/review", timeout=10).status_code == 200
        rebound = httpx.get(f"http://{reachable}:{port}/review", headers={"Host": f"evil.example:{port}"},
                            timeout=10)
        assert rebound.status_code == 400  # a name that is not this machine's still gets nothing
    finally:
        child.terminate()
        child.wait(timeout=10)


def damaged(path, tmp_path):
    """A copy of the database with 20 KB of its pages overwritten (its schema, on the first page, intact)."""
    import random
    target = tmp_path / "damaged.db"
    data = bytearray(path.read_bytes())
    data[40960:60960] = random.Random(0).randbytes(20000)
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("args", [
    ("threads",), ("stats",), ("export",),
    ("classify", "--method", "llm", "--llm-base", "http://[::1", "--llm-model", "m"),
    ("classify", "--method", "llm", "--llm-base", "http://127.0.0.1:99999/v1", "--llm-model", "m"),
    ("import", "FILE", "--format", "csv", "--map", "text=a", "--thread-url", "https://[::1"),
    ("export", "--format", "hf", "--out", "/dev/null/x"),
])
def test_no_traceback_for_damaged_databases_or_malformed_addresses(classified, tmp_path, args):
    db = damaged(classified, tmp_path) if args[0] in ("threads", "stats") or args == ("export",) else classified
    (tmp_path / "rows.csv").write_text("a\nx\n")
    args = [str(tmp_path / "rows.csv") if a == "FILE" else a for a in args]
    result = subprocess.run([sys.executable, "-m", "replies", *args], env={**os.environ, "REPLIES_DB": str(db)},
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr[-800:]
    if args[0] in ("stats", "export") and result.returncode == 0:
        return  # what it reads may not touch a damaged page
    assert result.returncode in (1, 2) and result.stderr.strip().splitlines()[-1].startswith("Error: ")


def test_a_jsonl_line_without_end_is_refused_at_its_limit(run, tmp_path, monkeypatch):
    import replies.jsonl
    monkeypatch.setattr(replies.jsonl, "MAX_LINE", 1000)
    path = tmp_path / "endless.jsonl"
    path.write_text('{"text": "fine"}\n{"text": "' + "x" * 5000)
    result = run("import", path, "--format", "jsonl", "--map", "text=text", "--thread-url", "https://e.org/q",
                 code=1)
    assert f"{path} line 2: longer than" in result.stderr and "Traceback" not in result.stderr


def test_fields_a_server_sends_malformed_are_named_and_the_exit_code_says_partial(run, env, serve):
    from replies.emulator import mastodon_api

    now = datetime.now(timezone.utc) - timedelta(hours=1)
    world = World()
    root = world.add("mastodon", "asker", "Why is lean harder in the NHS?", now)
    bad = world.add("mastodon", "bea", "No time to improve anything.", now + timedelta(minutes=1), parent=root.id)
    fine = world.add("mastodon", "cal", "Money flows the wrong way.", now + timedelta(minutes=2), parent=root.id)
    server = serve(world)
    as_sent = {post.id: mastodon_api.status(server, post) for post in (root, bad, fine)}
    as_sent[root.id]["created_at"] = 12345
    as_sent[bad.id]["created_at"] = "garbage"
    server.record(f"/api/v1/statuses/{root.id}", as_sent[root.id])
    server.record(f"/api/v1/statuses/{root.id}/context", {"ancestors": [],
                                                          "descendants": [as_sent[bad.id], as_sent[fine.id]]})
    result = run("harvest", post_url(server, root), code=5)
    assert f"/{bad.id}: created_at 'garbage' is not as the API documents it" in result.stderr
    assert f"/{root.id}: created_at 12345 is not as the API documents it" in result.stderr
    assert "1 of 1 threads were stored without 2 fields" in result.stderr
    stored = {r["author_handle"].split("@")[0]: r for r in rows(env["REPLIES_DB"], "select * from replies")}
    assert stored["bea"]["created_at"] is None and stored["cal"]["created_at"] is not None
    assert '"garbage"' in stored["bea"]["raw"]  # the raw JSON keeps what the server sent
    logged = run("harvest", "--log-json", post_url(server, root), code=5)
    thread = next(json.loads(line) for line in logged.stdout.splitlines() if '"thread"' in line)
    assert thread["malformed_fields"] == 2
