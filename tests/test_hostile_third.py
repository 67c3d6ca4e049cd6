"""Hostile input, third round: servers that compress without limit, outputs that must hide people, coding that
must stay blind, trees and codebooks shaped to break things, writers that meet, and text that breaks outputs.
Each server is a stdlib socket server inside the test (tests/hostile_server.py), on loopback."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib

import pytest

from tests.helpers import count, rows
from tests.hostile_server import Hostile, answering, respond


def bomb(decoded: int, codings: tuple[str, ...]) -> bytes:
    """`decoded` zero bytes compressed with each of `codings` in turn (as a Content-Encoding lists them),
    built a megabyte at a time so that the test itself stays small."""
    layer = zlib.compressobj(9, zlib.DEFLATED, 31 if codings[0] == "gzip" else 15)
    data = b"".join(layer.compress(b"\0" * (1 << 20)) for _ in range(decoded >> 20)) + layer.flush()
    for coding in codings[1:]:
        data = gzip.compress(data, 9) if coding == "gzip" else zlib.compress(data, 9)
    return data


def _peak_mb(args: list[str], env: dict) -> tuple[int, str, str]:
    """(peak memory in MB, stdout, stderr) of `replies ARGS` in its own process."""
    child = subprocess.run([sys.executable, "-c", (
        "import resource, sys; from replies.cli import main\n"
        f"try: main({args!r})\n"
        "except SystemExit as exc: print('EXIT', exc.code)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")],
        capture_output=True, text=True, env=env, timeout=300)
    return int(child.stdout.split()[-1]), child.stdout, child.stderr


@pytest.mark.parametrize("codings", [("gzip", "gzip"), ("deflate",), ("gzip",)])
def test_a_compressed_answer_is_never_inflated_past_the_limit(codings, env, url, monkeypatch):
    """A Bluesky answer of a few KB that inflates to 1 GB (stacked gzip, deflate, gzip): the harvest refuses it
    as a bad answer with its memory what an honest harvest takes, instead of inflating it (whole, or 64 MB at a
    time) before the 64 MB limit is checked."""
    honest, _, _ = _peak_mb(["harvest", url("bluesky")], {**os.environ, **env})
    body = bomb(1 << 30, codings)
    assert len(body) < 2 << 20
    header = ", ".join(reversed(codings))  # the coding applied last is listed last
    with Hostile(answering(lambda raw: respond(200, body, {"Content-Encoding": header}))) as server:
        environ = {**os.environ, **env, "REPLIES_BSKY_API_BASE": server.base_url}
        peak, out, err = _peak_mb(["harvest", url("bluesky"), "--no-wait"], environ)
    assert "EXIT 1" in out and "larger than 64 MB once decompressed" in err, err[-500:]
    assert peak < honest + 64 + 30, (peak, honest)  # at most the 64 MB limit itself, decoded, is ever held


def test_a_language_model_answer_that_is_a_bomb_fails_that_reply_with_memory_flat(classified):
    """The same bomb as a chat-completions answer: each reply it answers fails as a bad answer, and the run's
    memory is what a run of honest answers takes (the model's libraries), not a gigabyte more."""
    bombed = bomb(1 << 30, ("gzip", "gzip"))
    honest = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "{}"},
                                      "finish_reason": "stop"}]}).encode()

    def run_against(body: bytes, encoding: str) -> tuple[int, str]:
        with Hostile(answering(lambda raw: respond(200, body, {"Content-Encoding": encoding}))) as server:
            environ = {**os.environ, "REPLIES_DB": str(classified), "REPLIES_LLM_BASE": server.base_url + "/v1",
                       "REPLIES_LLM_MODEL": "hostile", "REPLIES_HTTP_TIMEOUT": "5"}
            peak, out, err = _peak_mb(["classify", "--method", "llm", "--no-examples", "--concurrency", "1",
                                       "--thread", "x:" + _x_root(classified), "--redo"], environ)
        return peak, out + err

    honest_peak, _ = run_against(gzip.compress(honest), "gzip")
    bomb_peak, said = run_against(bombed, "gzip, gzip")
    assert "larger than 64 MB once decompressed" in said, said[-800:]
    assert bomb_peak < honest_peak + 150, (bomb_peak, honest_peak)


def _x_root(path) -> str:
    import sqlite3

    conn = sqlite3.connect(path)
    found = conn.execute("select id from threads where platform = 'x'").fetchone()[0]
    conn.close()
    return found


def test_an_encoding_replies_did_not_ask_for_is_refused_and_gzip_and_deflate_are_read(env, url):
    """br or zstd (which replies cannot bound, so does not ask for) is refused as a bad answer; an honest gzip
    or deflate answer (zlib-wrapped or raw) is read as before."""
    from replies.net.errors import BadResponse
    from replies.net.events import Events
    from replies.net.http import JsonClient
    from replies.net.retry import RetryPolicy

    answer = json.dumps({"ok": True}).encode()
    forms = {"gzip": gzip.compress(answer), "deflate": zlib.compress(answer),
             "raw-deflate": zlib.compress(answer)[2:-4], "br": b"\x8b\x03\x80{}\x03"}
    seen = []

    def serve(raw: bytes) -> bytes:
        seen.append(raw)
        form = raw.split(b" ", 2)[1].decode().strip("/")
        return respond(200, forms[form], {"Content-Encoding": form.replace("raw-", "")})

    with Hostile(answering(serve)) as server:
        client = JsonClient(server.base_url, RetryPolicy(Events(), sleep=lambda s: None, max_attempts=2), timeout=5)
        for form in ("gzip", "deflate", "raw-deflate"):
            assert client.get(f"/{form}")[0] == {"ok": True}
        with pytest.raises(BadResponse, match="compressed with br, which replies did not ask for"):
            client.get("/br")
    assert all(b"accept-encoding: gzip, deflate\r\n" in raw.lower() for raw in seen)


def _secrets(path) -> set[str]:
    """What names a person or a post in the database: every post and thread id long enough to be unmistakable,
    every quoted post, every author's @handle (and the bare handle where it is not a plain word), every handle a
    reply mentions, every DID, every post's URL."""
    import re
    import sqlite3

    from replies.export.pseudonym import _bare_worthy

    conn = sqlite3.connect(path)
    found: set[str] = set()
    for table, column in (("replies", "id"), ("replies", "quote_of"), ("replies", "thread_id"), ("threads", "id"),
                          ("replies", "url"), ("threads", "url")):
        found |= {v for (v,) in conn.execute(f"select {column} from {table} where {column} is not null")
                  if len(v) >= 6}
    for (handle,) in conn.execute("select author_handle from replies union select author_handle from threads"):
        if handle:
            found.add("@" + handle)
            if _bare_worthy(handle):
                found.add(handle)
    everything = " ".join(str(v) for row in conn.execute("select id, quote_of, text, spoiler_text from replies")
                          for v in row if v)
    found |= set(re.findall(r"did:plc:[a-z0-9]+", everything))
    found |= {m.rstrip(".") for m in re.findall(r"(?<![\w@])@[A-Za-z0-9_][A-Za-z0-9_.]+", everything)}  # mentions
    conn.close()
    return found


@pytest.mark.slow
def test_every_pseudonymised_output_holds_no_id_handle_did_or_url_of_the_database(classified, tmp_path,
                                                                                   monkeypatch):
    """Export in every format, the report (with the themes the codebook leaves uncovered), the reply tree, its
    network and discover's draft, all --pseudonymize, scanned whole for anything that names a person or a post
    of the database: quote_of, content warnings, links to a person's page, bare handles included."""
    from datetime import timedelta

    from replies import platforms
    from replies.emulator import Emulator, World
    from replies.emulator.sample import post_url
    from tests.conftest import Run

    world = World()
    now = world.now()
    root = world.add("mastodon", "asker_nhs", "Why is lean harder in the NHS?", now - timedelta(hours=5))
    first = world.add("mastodon", "secret_handle", "Funding: the money never reaches the ward, the budget is cut "
                      "every year", now - timedelta(hours=4), parent=root.id,
                      spoiler="@real_person@mastodon.social money talk")
    for n in range(6):  # a theme no category of lean_nhs covers, so the report quotes it among the uncovered
        world.add("mastodon", f"ward_nurse_{n}", f"secret_handle is right about the car park: parking charges and "
                  f"no spaces for night staff, see x.com/secret_handle and "
                  f"https://bsky.app/profile/real.person.bsky.social ({n})",
                  now - timedelta(hours=3, minutes=n), parent=first.id)
    world.add("mastodon", "quoter_99", "quoting this", now - timedelta(hours=2), quote_of=root.id)
    with Emulator(world) as server:
        for name, value in platforms.emulator_environment(server.base_url).items():
            monkeypatch.setenv(name, value)
        run = Run()
        run("harvest", post_url(server, root))
    run("classify")
    run("discover", "--codebook", "lean_nhs", "--min-size", "2")
    outputs = tmp_path / "out"
    outputs.mkdir()
    for fmt in ("jsonl", "csv", "parquet", "labelstudio", "hf"):
        run("export", "--format", fmt, "--pseudonymize", "--out", outputs / f"export.{fmt}")
    run("report", "--pseudonymize", "--out", outputs / "report.html")
    thread_ref = "mastodon:" + rows(classified, "select id from threads where platform = 'mastodon' "
                                                "order by added_at desc")[0]["id"]
    (outputs / "tree.txt").write_text(run("thread", thread_ref, "--pseudonymize").stdout)
    (outputs / "tree.jsonl").write_text(run("thread", thread_ref, "--json", "--pseudonymize").stdout)
    run("thread", thread_ref, "--pseudonymize", "--network", outputs / "network.gexf")
    run("thread", thread_ref, "--pseudonymize", "--network", outputs / "network.graphml")
    (outputs / "themes.json").write_text(run("discover", "--pseudonymize", "--json", "--out",
                                             outputs / "draft.yaml").stdout)
    texts = {}
    for path in outputs.rglob("*"):
        if path.suffix == ".parquet" or path.name.endswith("export.parquet"):
            import pyarrow.parquet as pq

            texts[path.name] = json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False, default=str)
        elif path.is_file():
            texts[path.name] = path.read_text(encoding="utf-8")
    assert {"export.jsonl", "export.csv", "export.parquet", "export.labelstudio", "report.html", "tree.jsonl",
            "network.gexf", "network.graphml", "draft.yaml", "themes.json"} <= set(texts)
    secrets = _secrets(classified) | {"real_person", "real.person.bsky.social", "x.com/secret_handle"}
    leaks = sorted({f"{name}: {secret}" for name, text in texts.items() for secret in secrets if secret in text})
    assert not leaks, leaks[:20]
    assert "user_" in texts["export.jsonl"] and "[link]" in texts["export.jsonl"]
    uncovered = texts["report.html"].split("Themes the codebook leaves uncovered", 1)[1]
    assert "@user_" in uncovered  # replies that mention people are quoted there


def _import(run, tmp_path, rows_: list[tuple[str, str, str]], name: str) -> str:
    """Import (id, parent, text) rows as a forum thread through `replies import`; returns its PLATFORM:ID."""
    import csv

    path = tmp_path / f"{name}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "parent", "text"])
        writer.writerows(rows_)
    run("import", path, "--format", "csv", "--map", "id=id,parent=parent,text=text",
        "--thread-url", f"https://forum.example/t/{name}")
    return "forum:" + rows(os.environ["REPLIES_DB"], "select id from threads where url = ?",
                           [f"https://forum.example/t/{name}"])[0]["id"]


def _nesting(html: str) -> tuple[int, dict[str, int]]:
    """(deepest nesting of the tree's lists, unclosed tags by name) of the page's tree."""
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.open, self.depth, self.deepest = {"ul": 0, "li": 0, "details": 0}, 0, 0

        def handle_starttag(self, tag, attrs):
            if tag in self.open:
                self.open[tag] += 1
                if tag == "ul":
                    self.depth += 1
                    self.deepest = max(self.deepest, self.depth)

        def handle_endtag(self, tag):
            if tag in self.open:
                self.open[tag] -= 1
                if tag == "ul":
                    self.depth -= 1

    parser = Tags()
    parser.feed(html.split('id="tree"', 1)[1].split("</main>", 1)[0])
    return parser.deepest, {k: v for k, v in parser.open.items() if v}


@pytest.fixture
def page(classified):
    from replies.codebook import load
    from replies.web.app import create_app

    app = create_app(str(classified), load(), reviewer="ann")
    app.config["TESTING"] = True
    return app.test_client()


def test_replies_that_are_their_own_parent_or_each_others_are_shown_and_marked(run, env, tmp_path, classified,
                                                                                 page):
    ref = _import(run, tmp_path, [("a", "a", "my own parent"), ("b", "c", "mutual one"), ("c", "b", "mutual two"),
                                  ("d", "b", "under the loop"), ("e", "", "plain"), ("f", "e", "reply to plain")],
                  "loops")
    shown = run("thread", ref).stdout
    assert "6 posts below it" in shown and shown.count("@? (loop):") == 2
    for text in ("my own parent", "mutual one", "mutual two", "under the loop", "plain", "reply to plain"):
        assert text in shown
    posts = [json.loads(line) for line in run("thread", ref, "--json").stdout.splitlines()]
    assert sorted(p["id"] for p in posts) == list("abcdef") and sum(p["loop"] for p in posts) == 2
    html = page.get("/thread", query_string={"ref": ref}).text
    assert html.count("<em class=\"loop\"") == 2 and "6 posts below the question" in html
    assert _nesting(html)[1] == {}


def test_a_chain_hundreds_deep_renders_and_the_cli_says_where_it_cut(run, env, tmp_path, classified, page):
    chain = lambda n: [(f"n{n}-{i}", f"n{n}-{i - 1}" if i else "", f"step {i}") for i in range(n)]
    ref = _import(run, tmp_path, chain(300), "deep300")
    html = page.get("/thread", query_string={"ref": ref})
    assert html.status_code == 200  # a recursive template answered 500 (RecursionError)
    deepest, unclosed = _nesting(html.text)
    assert deepest == 300 and unclosed == {}
    ref = _import(run, tmp_path, chain(1500), "deep1500")
    cut = run("thread", ref, "--depth", "1000").stdout
    assert "1500 posts below it, 1500 deep" in cut and "shown down to depth 1000, 500 deeper counted below" in cut
    assert "(+500 below)" in cut
    posts = [json.loads(line) for line in run("thread", ref, "--json").stdout.splitlines()]
    assert len(posts) == 1500 and max(p["depth"] for p in posts) == 1500


@pytest.mark.slow
def test_a_fan_of_a_hundred_thousand_replies_is_paged(run, env, tmp_path, classified, page):
    ref = _import(run, tmp_path, [(f"r{i}", "", f"reply number {i}") for i in range(100_000)], "fan")
    first = page.get("/thread", query_string={"ref": ref})
    assert first.status_code == 200 and len(first.data) < 1_000_000, len(first.data)
    assert "Page 1 of 200" in first.text and first.text.count("reply number ") == 500
    last = page.get("/thread", query_string={"ref": ref, "page": 200})
    assert "reply number 99999" in last.text and _nesting(last.text)[1] == {}
    assert page.get("/thread", query_string={"ref": ref, "page": 201}).status_code == 400


def _draw(cli, classified, *extra) -> tuple[str, set[tuple[str, str]]]:
    """A sample of every reply of the Mastodon thread (so that the model's tags are among its members whatever
    ids this run's sample has): (the thread's id, its members)."""
    thread = rows(classified, "select id from threads where platform = 'mastodon'")[0]["id"]
    size = count(classified, "select count(*) from replies where platform = 'mastodon' and thread_id = ? and "
                             "status = 'ok' and text is not null and text != '' and id != thread_id", [thread])
    cli("sample", "--size", str(size), "--seed", "7", "--name", "blind-one", "--thread", f"mastodon:{thread}",
        "--include-asker", *extra)
    members = {(r["platform"], r["id"]) for r in rows(
        classified, "select u.platform, u.id from sample_units u join samples s on s.name = u.sample "
                    "where u.position < s.size")}
    return thread, members


def test_while_a_sample_is_coded_blind_no_page_or_filter_shows_the_models_tags_for_its_members(cli, classified,
                                                                                                   page):
    thread, members = _draw(cli, classified)
    tagged = {(r["platform"], r["id"]) for r in rows(
        classified, "select distinct platform, id from predictions where predicted = 1 and category = 'money'")}
    assert members & tagged, "some member is tagged money by the model (else this test shows nothing)"
    # the Thread page: no model tag beside a member (a reviewer's labels would show), others' tags stay
    html = page.get("/thread", query_string={"ref": f"mastodon:{thread}"}).text
    items = html.split('id="tree"', 1)[1].split("<li>")[1:]
    assert items and all('class="tags"' not in item and "blind" in item for item in items)
    other = rows(classified, "select id from threads where platform = 'bluesky'")[0]["id"]
    assert 'class="tags"' in page.get("/thread", query_string={"ref": f"bluesky:{other}"}).text  # others keep theirs
    # a blind queue cannot be chosen by a category, nor ordered by the model's scores
    refused = page.get("/review?blind=1&category=money")
    assert refused.status_code == 400 and "would tell you its answer" in refused.text
    assert "newest first" in page.get("/review?blind=1&order=uncertain").text
    # a queue that shows the model holds no member; a member opened by its address shows no score
    from replies import db
    from replies.codebook import load
    from replies.review.queue import review_queue

    book = load()
    database = db.open_db(classified)
    for order in ("uncertain", "disagreement", "newest", "thread"):
        queue = review_queue(database, codebook=book.name, codebook_hash=book.hash, reviewer="ann", order=order)
        assert queue and not set(queue) & members, order
    member = sorted(members & tagged)[0]
    opened = page.get(f"/review?order=uncertain&at={member[0]}:{member[1]}").text
    assert 'class="score"' not in opened and 'id="blind"' in opened
    # the replies table shows no predicted tag for a member, and a filter by the model's category holds none
    listed = page.get(f"/replies?category=money&source=predicted&thread=mastodon:{thread}").text
    assert 'class="review-link"' not in listed  # every reply of that thread is a member: none is listed
    assert "(blind sample)" in page.get("/replies?thread=mastodon:" + thread).text
    # the codebook page's most typical replies: none of the members
    codebook_page = page.get("/codebook").text
    handles = {r["author_handle"] for r in rows(classified, "select author_handle from replies where "
                                                            "platform = 'mastodon'")}
    assert "Most typical replies" in codebook_page and not any(f"@{h} " in codebook_page for h in handles)
    # the command line: the tree marks members blind; a blind queue takes no category
    tree = cli("thread", f"mastodon:{thread}", "--depth", "30").stdout
    assert "(blind)" in tree
    assert "cannot be used with --category" in cli("review", "--blind", "--category", "money", code=2).stderr
    assert "sample blind-one is coded blind" in cli("review", "--sample", "blind-one", "--show-model",
                                                    code=2).stderr


def test_once_every_member_is_coded_or_the_sample_was_drawn_open_the_tags_show_again(cli, classified, page):
    thread, members = _draw(cli, classified, "--show-model")
    assert rows(classified, "select blind from samples")[0]["blind"] == 0
    html = page.get("/thread", query_string={"ref": f"mastodon:{thread}"}).text
    assert "blind" not in html.split('id="tree"', 1)[1]
    thread2 = rows(classified, "select id from threads where platform = 'bluesky'")[0]["id"]
    cli("sample", "--size", "3", "--seed", "1", "--name", "tiny", "--thread", f"bluesky:{thread2}")
    tiny = [(r["platform"], r["id"]) for r in rows(
        classified, "select platform, id from sample_units where sample = 'tiny' and position < 3")]
    assert "blind" in page.get("/thread", query_string={"ref": f"bluesky:{thread2}"}).text.split('id="tree"', 1)[1]
    for platform, reply_id in tiny:
        cli("label", f"{platform}:{reply_id}", "money", "--reviewer", "ann")
    after = page.get("/thread", query_string={"ref": f"bluesky:{thread2}"}).text.split('id="tree"', 1)[1]
    assert "blind</span>" not in after and 'class="tags"' in after


def _laughs(path) -> None:
    """A 100 KB codebook whose aliases stand for millions of examples shared by many categories."""
    lines = ["name: laughs", "words: &w [" + ", ".join(f'"{"lean " * 20}{i}"' for i in range(400)) + "]",
             "categories:"]
    lines += [f"  - {{id: c{i}, label: C{i}, description: d, examples: *w}}" for i in range(2500)]
    path.write_text("\n".join(lines) + "\n")


def test_a_codebook_whose_aliases_stand_for_gigabytes_is_refused_at_once(classified, tmp_path):
    bomb_book = tmp_path / "laughs.yaml"
    _laughs(bomb_book)
    assert bomb_book.stat().st_size < 200_000
    reply = rows(classified, "select platform, id from replies where status = 'ok' limit 1")[0]
    before = classified.stat().st_size
    environ = {**os.environ, "REPLIES_DB": str(classified)}
    honest, _, _ = _peak_mb(["label", f"{reply['platform']}:{reply['id']}", "money", "--reviewer", "ann"], environ)
    peak, out, err = _peak_mb(["label", f"{reply['platform']}:{reply['id']}", "c1", "--reviewer", "ann",
                               "--codebook", str(bomb_book)], environ)
    assert "EXIT 1" in out and "once its YAML aliases (*name) are written out" in err, err
    assert peak < honest + 30, (peak, honest)
    assert classified.stat().st_size < before + 1_000_000


@pytest.mark.parametrize("text,said", [
    ("name: twice\ncategories:\n  - {id: a, label: A, description: x}\ncategories:\n  - {id: b, label: B, "
     "description: y}\n", "4: duplicate key 'categories' in the codebook (first on line 2)"),
    ("name: twice\ncategories:\n  - id: a\n    label: A\n    description: x\n    description: y\n",
     "6: duplicate key 'description' in each category (first on line 5)"),
])
def test_a_codebook_with_a_key_given_twice_is_refused_naming_both_lines(run, env, tmp_path, text, said):
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    assert said in run("codebook", "show", path, code=1).stderr


def test_a_write_transaction_holds_the_lock_from_its_start_so_a_second_writer_waits(classified):
    """BEGIN IMMEDIATE: while one of replies' transactions is open (even before it writes), another writer
    cannot begin; readers still read. A deferred BEGIN took no lock, and its later write failed at once when
    another writer had committed in between."""
    import sqlite3

    from replies import db

    database = db.open_db(classified)
    with database.atomic():
        database.execute("select count(*) from replies").fetchone()  # the read an import or an extension does
        other = sqlite3.connect(classified, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("begin immediate")
        assert other.execute("select count(*) from replies").fetchone()[0] > 0
    other.execute("begin immediate")
    other.rollback()


@pytest.mark.slow
def test_extensions_and_labels_at_once_wait_for_each_other_and_all_land(classified):
    """Four `sample --extend 1` and four `label` processes started together: every one succeeds (they wait for
    the write lock), and the sample grew by exactly four (two extensions never overwrite each other)."""
    from tests.conftest import replies_subprocess

    environ = {"REPLIES_DB": str(classified)}
    done = subprocess.run([sys.executable, "-m", "replies", "sample", "--size", "10", "--name", "busy", "--seed",
                           "3"], env={**os.environ, **environ}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    targets = rows(classified, "select platform, id from replies where status = 'ok' and text != '' limit 4")
    procs = [replies_subprocess("sample", "--extend", "1", "busy", env=environ) for _ in range(4)]
    procs += [replies_subprocess("label", f"{t['platform']}:{t['id']}", "money", "--reviewer", f"r{i}",
                                 env=environ) for i, t in enumerate(targets)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    assert rows(classified, "select size from samples where name = 'busy'")[0]["size"] == 14
    assert count(classified, "select count(*) from gold_labels where reviewer like 'r%'") == 4


def test_a_lone_surrogate_costs_one_character_not_the_reply_the_thread_or_the_import(run, env, tmp_path, world):
    """A server's "\\ud800" (valid JSON, not encodable text) in a harvested reply, an imported JSONL line and a
    twarc file: each reply is kept with U+FFFD in its place; the raw answer keeps the escape as it was sent."""
    from datetime import timedelta

    from replies import platforms
    from replies.emulator import Emulator
    from replies.emulator.sample import post_url

    now = world.now()
    root = world.add("mastodon", "asker", "Why is lean harder?", now - timedelta(hours=3))
    for n in range(4):
        world.add("mastodon", f"nurse{n}", f"reply {n} with a broken \ud800 character", now - timedelta(hours=2),
                  parent=root.id)
    with Emulator(world) as server:
        for name, value in platforms.emulator_environment(server.base_url).items():
            os.environ[name] = value
        try:
            run("harvest", post_url(server, root))
        finally:
            for name in platforms.emulator_environment(server.base_url):
                os.environ.pop(name, None)
    stored = rows(env["REPLIES_DB"], "select text, raw from replies where platform = 'mastodon'")
    assert len(stored) == 4 and all("broken \ufffd character" in r["text"] for r in stored)
    assert all("\\ud800" in r["raw"] for r in stored)
    lines = tmp_path / "other.jsonl"
    lines.write_text(json.dumps({"id": "j1", "text": "imported \ud800 text", "author": "ana"}) + "\n" +
                     json.dumps({"id": "j2", "text": "fine text", "author": "ben"}) + "\n")
    result = run("import", lines, "--format", "jsonl", "--map", "id=id,text=text,author=author",
                 "--thread-url", "https://forum.example/t/surrogates")
    assert "2 new" in result.output and "Traceback" not in result.stderr
    assert rows(env["REPLIES_DB"], "select text from replies where id = 'j1'")[0]["text"] == "imported \ufffd text"
    twarc = tmp_path / "tweets.jsonl"
    tweet = {"id": "901", "conversation_id": "900", "author_id": "7", "text": "a tweet \udfff here",
             "created_at": "2026-12-01T10:00:00.000Z", "referenced_tweets": [{"type": "replied_to", "id": "900"}]}
    twarc.write_text(json.dumps({"data": [tweet], "includes": {"users": [{"id": "7", "username": "x_user"}]}}) + "\n")
    run("import", twarc)
    assert rows(env["REPLIES_DB"], "select text from replies where id = '901'")[0]["text"] == "a tweet \ufffd here"


def test_text_that_breaks_outputs_is_shown_safely_everywhere(run, env, tmp_path, cli, classified):
    """U+FFFE and U+FFFF in a handle still make a GEXF and a GraphML file a parser reads; `thread --json` escapes
    a right-to-left override and C1 controls like every other JSON output; a codebook label that would set the
    terminal's title and clear its screen is refused when the codebook is read."""
    import sqlite3

    import networkx as nx

    conn = sqlite3.connect(classified)
    thread = conn.execute("select id from threads where platform = 'mastodon'").fetchone()[0]
    conn.execute("update replies set author_handle = 'odd\ufffe\uffffname', text = 'flip \u202e this \x9b31m' "
                 "where rowid = (select min(rowid) from replies where platform = 'mastodon' and thread_id = ?)",
                 [thread])
    conn.commit()
    conn.close()
    for suffix, read in (("gexf", nx.read_gexf), ("graphml", nx.read_graphml)):
        path = tmp_path / f"network.{suffix}"
        cli("thread", f"mastodon:{thread}", "--network", path)
        assert any("odd" in node for node in read(path).nodes)
    shown = cli("thread", f"mastodon:{thread}", "--json").stdout
    assert "\u202e" not in shown and "\x9b" not in shown and "\\u202e" in shown
    assert any(json.loads(line)["text"] == "flip \u202e this \x9b31m" for line in shown.splitlines())
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("name: hostile\ncategories:\n  - id: money\n    label: \"\\e]0;pwned\\a\\e[2JMoney\"\n"
                       "    description: money\n")
    for command in (["estimate", "--codebook", hostile], ["codebook", "show", hostile]):
        result = cli(*command, code=1)
        assert "label of 'money' must be one line" in result.stderr and "\x1b" not in result.output


@pytest.mark.parametrize("args", [["sample", "--size", "3", "--name", "fresh\n"],
                                  ["sample", "--size", "3", "--name", "fresh\r"],
                                  ["label", "x:1", "money", "--reviewer", "bob\n"]])
def test_a_name_with_a_line_end_is_refused_not_stored(cli, args):
    """`re.match` with `$` let "fresh\\n" through: the sample was made and then never found again."""
    result = cli(*args, code=2 if args[0] == "label" else 1)
    assert "fresh" in result.stderr or "bob" in result.stderr
    assert count(os.environ["REPLIES_DB"], "select count(*) from samples") == 0


def test_a_post_id_with_a_line_end_is_not_a_second_post():
    from replies.harvester.record import post_id

    assert post_id("101") == "101" and post_id(101) == "101"
    for bad in ("101\n", "101\r\n", "\n101", "10 1"):
        with pytest.raises(ValueError):
            post_id(bad)


def test_a_harvested_id_with_a_line_end_is_not_stored_as_another_post(run, env, serve):
    """A server that lists status 10 again as "10\\n" beside it: one post stored, not two."""
    from datetime import datetime, timedelta, timezone

    from replies.emulator import World, mastodon_api
    from replies.emulator.sample import post_url

    now = datetime.now(timezone.utc) - timedelta(hours=1)
    world = World()
    root = world.add("mastodon", "asker", "Why is lean harder in the NHS?", now)
    reply = world.add("mastodon", "bea", "No time to improve anything.", now + timedelta(minutes=1), parent=root.id)
    server = serve(world)
    sent = mastodon_api.status(server, reply)
    again = {**sent, "id": sent["id"] + "\n"}
    server.record(f"/api/v1/statuses/{root.id}/context", {"ancestors": [], "descendants": [sent, again]})
    run("harvest", post_url(server, root))
    ids = [r["id"] for r in rows(env["REPLIES_DB"], "select id from replies where platform = 'mastodon'")]
    assert len(ids) == 1 and not ids[0].endswith("\n")


def _chat(content: str) -> bytes:
    return respond(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                      "finish_reason": "stop"}]})


def test_a_language_model_answer_that_gives_a_category_twice_is_ambiguous_not_the_last_one(cli, classified,
                                                                                          monkeypatch):
    from replies.classifier.llm import InvalidAnswer, parse_answer

    ids = ["money", "policy"]
    with pytest.raises(InvalidAnswer, match="'money' answered twice"):
        parse_answer('{"money": true, "policy": false, "money": false}', ids)
    assert parse_answer('{"money": true, "policy": false}', ids) == {"money": True, "policy": False}
    twice = ('{"workforce_protectionism": false, "policy": false, "money": true, "time_resources": false, '
             '"healthcare_different": false, "lean_misconceptions": false, "leadership": false, "money": false}')
    with Hostile(answering(lambda raw: _chat(twice))) as server:
        monkeypatch.setenv("REPLIES_LLM_BASE", server.base_url + "/v1")
        monkeypatch.setenv("REPLIES_LLM_MODEL", "hostile")
        result = cli("classify", "--method", "llm", "--no-examples", "--thread", "x:" + _x_root(classified),
                     code=1)
    assert "failed" in result.output  # every reply failed: the run exits 1, and no code was taken from it
    assert count(classified, "select count(*) from coder_labels where method = 'llm'") == 0


def test_a_key_with_a_line_end_fails_at_once_and_is_never_shown(cli, classified, monkeypatch, run, url, env):
    """A key copied with its line's carriage return: one line naming the setting, no retries, no part of the
    key printed; an X token so copied is refused the same way, never half-redacted in --log-json."""
    with Hostile(answering(lambda raw: _chat("{}"))) as server:
        monkeypatch.setenv("REPLIES_LLM_BASE", server.base_url + "/v1")
        monkeypatch.setenv("REPLIES_LLM_MODEL", "hostile")
        monkeypatch.setenv("REPLIES_LLM_API_KEY", "sk-abcdefghijklmnop\r")
        result = cli("classify", "--method", "llm", code=4)
        assert server.requests == []
    assert "REPLIES_LLM_API_KEY holds a carriage return" in result.stderr and "abcdefgh" not in result.output
    monkeypatch.setenv("X_BEARER_TOKEN", "AAAA-secret-token-0123456789\r")
    for args in (["harvest", url("x")], ["harvest", "--log-json", url("x")]):
        said = run(*args, code=4)
        assert "X_BEARER_TOKEN holds a carriage return" in said.output + said.stderr
        assert "secret-token" not in said.output + said.stderr


def test_one_hostile_answer_early_does_not_make_the_coder_settle_on_a_dialect_the_server_does_not_speak(
        cli, classified, monkeypatch):
    """An OpenAI-style server whose very first answer is prose: that reply alone tries the other dialects, and
    the run stays with json_schema, which the server takes (the prose moved everyone off it before)."""
    from replies.emulator import Emulator, World

    server = Emulator(World()).start()
    server.llm_server = "openai"
    answered = []

    def coder(message, ids):
        answered.append(1)
        return "I would rather not." if len(answered) == 1 else {cid: 0.1 for cid in ids}

    server.llm_coder = coder
    monkeypatch.setenv("REPLIES_LLM_BASE", f"{server.base_url}/v1")
    monkeypatch.setenv("REPLIES_LLM_MODEL", "gpt-test")
    try:
        result = cli("classify", "--method", "llm", "--no-examples", "--concurrency", "1", "--thread",
                     "x:" + _x_root(classified))
    finally:
        server.stop()
    replies_in_thread = count(classified, "select count(*) from replies where platform = 'x' and status = 'ok' "
                                          "and text != ''")
    assert f"{replies_in_thread} replies coded" in result.output and "0 failed" in result.output, result.output
    assert not server.requests_to("/api/chat")
    assert rows(classified, "select dialect from llm_servers")[0]["dialect"] == "json_schema"


def test_a_level_too_close_to_one_is_one_line_not_a_traceback(cli, classified):
    cli("sample", "--size", "10", "--seed", "1", "--name", "lv")
    for level in ("0.9999999999999999", "1", "0.9999999"):
        result = cli("estimate", "--sample", "lv", "--level", level, code=2)
        assert "Traceback" not in result.stderr and "0.999999" in result.stderr, result.stderr
    from replies import db
    from replies.codebook import load
    from replies.estimate.errors import EstimateError
    from replies.estimate.shares import estimate

    with pytest.raises(EstimateError, match="at most 0.999999"):
        estimate(db.open_db(classified), load(), sample="lv", level=0.9999999999999999)


def test_a_member_deleted_after_the_draw_is_said_and_no_longer_waited_for(cli, classified):
    import sqlite3

    cli("sample", "--size", "4", "--seed", "2", "--name", "gone")
    members = rows(classified, "select platform, id from sample_units where sample = 'gone' order by position "
                               "limit 4")
    for member in members[:3]:
        cli("label", f"{member['platform']}:{member['id']}", "money", "--reviewer", "ann")
    conn = sqlite3.connect(classified)  # the next harvest found the fourth deleted by its author
    conn.execute("update replies set status = 'deleted', text = null where platform = ? and id = ?",
                 [members[3]["platform"], members[3]["id"]])
    conn.commit()
    conn.close()
    result = cli("estimate", "--sample", "gone")
    assert "still to code" not in result.stderr
    assert "1 member of sample gone can no longer be coded (deleted or removed since the draw)" in result.stderr
    shown = json.loads(cli("estimate", "--sample", "gone", "--format", "json").stdout)
    assert shown["to_code"] == 0 and shown["not_codable"] == 1 and shown["labelled"] == 3


@pytest.mark.parametrize("back", ["/\t/evil.example", "/%09/evil.example", "/\\evil.example", "//evil.example",
                                  "/\n/evil.example", "https://evil.example/", "/ /evil.example"])
def test_the_reviewer_form_never_sends_the_browser_to_another_host(page, back):
    import re
    from urllib.parse import unquote

    form_page = page.get("/review").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form_page).group(1)
    answer = page.post("/reviewer", data={"csrf_token": csrf, "name": "cat", "back": unquote(back)},
                       headers={"Origin": "http://localhost"})
    assert answer.status_code == 303 and answer.headers["Location"] in ("/review", "http://localhost/review")
    fine = page.post("/reviewer", data={"csrf_token": csrf, "name": "cat", "back": "/replies?sort=likes"},
                     headers={"Origin": "http://localhost"})
    assert fine.headers["Location"].endswith("/replies?sort=likes")
