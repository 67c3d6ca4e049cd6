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

from tests.helpers import rows
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

    from replies.emulator import Emulator, World
    from replies.emulator.sample import post_url
    from replies.harvester import platforms
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
