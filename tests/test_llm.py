"""`classify --method llm`: a language model on an OpenAI-compatible server as a second coder."""

from __future__ import annotations

import json
import platform
import signal
from pathlib import Path

import pytest

from replies.classifier.llm import logprob_scores, parse_answer
from replies.emulator import Emulator, World
from replies.emulator.llm_api import reply_text
from tests.conftest import replies_subprocess
from tests.helpers import count, rows


def _oracle(message: str, ids: list[str]) -> dict[str, float]:
    """A model that finds money in replies about money, funding or budgets, and time in replies about time or
    staffing; each with the stated confidence."""
    reply = reply_text(message).lower()
    return {cid: (0.93 if (cid == "money" and any(w in reply for w in ("money", "fund", "budget", "cost")))
                  or (cid == "time_resources" and any(w in reply for w in ("time", "staff", "capacity")))
                  else 0.04) for cid in ids}


@pytest.fixture
def llm(cli, monkeypatch):
    """The demo database (classified zero-shot) and an LLM emulator, with the settings pointing at it."""
    server = Emulator(World()).start()
    server.llm_coder = _oracle
    monkeypatch.setenv("REPLIES_LLM_BASE", f"{server.base_url}/v1")
    monkeypatch.setenv("REPLIES_LLM_MODEL", "emulated-8b")
    yield server
    server.stop()


def replies_with_text(db_path) -> int:
    return count(db_path, "select count(*) from replies where status = 'ok' and text is not null and text != ''")


def test_llm_codes_every_reply_with_logprob_scores_and_keeps_the_embedding_labels(cli, llm, classified):
    result = cli("classify", "--method", "llm")
    db_path = classified
    n = replies_with_text(db_path)
    assert f"{n} replies coded by emulated-8b (llm)" in result.output and "0 failed" in result.output
    assert f"{n} scored by logprobs" in result.output and "Tokens:" in result.output
    requests = llm.requests_to("/v1/chat/completions")
    assert len(requests) == n
    answers = rows(db_path, "select * from llm_answers")
    assert len(answers) == n and {a["status"] for a in answers} == {"ok"}
    run = rows(db_path, "select * from classify_runs where method = 'llm'")[-1]
    assert run["prompt_tokens"] == sum(a["prompt_tokens"] for a in answers) > 0 and run["requests"] == n
    money = rows(db_path, "select r.text, c.score, c.predicted from coder_labels c join replies r using (platform, id)"
                          " where c.method = 'llm' and c.category = 'money'")
    for row in money:  # the decision is the answer's, the score the probability of `true`
        given = any(w in row["text"].lower() for w in ("money", "fund", "budget", "cost"))
        assert row["predicted"] == given and row["score"] == pytest.approx(0.93 if given else 0.04, abs=1e-4)
    coders = {(r["method"], r["model"]) for r in rows(db_path, "select distinct method, model from coder_labels")}
    assert ("llm", "emulated-8b") in coders and any(m == "zero-shot" for m, _ in coders)


TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine())  # the system call's number


def _until(condition, limit: float = 60.0) -> None:
    """Poll `condition` (a gate on observed state, not a guess at timing) until it holds."""
    import time

    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _state(pid: int) -> str:
    """The main thread's scheduler state from /proc: S when it sleeps on a lock."""
    with open(f"/proc/{pid}/task/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0]


def _to_a_thread_not_main(pid: int, sig: int) -> None:
    """`sig` to one of `pid`'s threads other than the main one (Linux's tgkill): the kernel may hand a
    Ctrl-C to any thread of the process, and Python runs its handler only in the main thread."""
    import ctypes

    threads = sorted(int(t.name) for t in Path(f"/proc/{pid}/task").iterdir() if int(t.name) != pid)
    assert threads and ctypes.CDLL(None, use_errno=True).syscall(TGKILL, pid, threads[-1], sig) == 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, "SIGINT to a worker thread"])
def test_a_rerun_sends_nothing_already_answered_and_kill_9_loses_nothing(cli, llm, env, classified, sig):
    db_path = classified
    n = replies_with_text(db_path)
    gate = llm.gate("/v1/chat/completions", after=20)
    proc = replies_subprocess("classify", "--method", "llm", "--concurrency", "2", "--db", db_path,
                              env={**env, "REPLIES_LLM_BASE": f"{llm.base_url}/v1", "REPLIES_LLM_MODEL": "emulated-8b"})
    assert gate.held.wait(120), proc.communicate()
    if isinstance(sig, str):
        if TGKILL is None or not Path(f"/proc/{proc.pid}/task").is_dir():
            proc.kill()
            pytest.skip("tgkill's number is known here only for Linux on x86_64 and aarch64")
        # both workers' requests held: every answer before them is stored, and the main thread is waiting for
        # the next one, where a signal handed to another thread used to leave it waiting for good
        _until(lambda: gate.seen >= 22 and _state(proc.pid) == "S")
        _to_a_thread_not_main(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)  # Ctrl-C ends at once, though a request still waits at the gate
    finally:
        gate.release()
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 130), err
    answered = count(db_path, "select count(*) from llm_answers where status = 'ok'")
    assert 18 <= answered <= 21  # every answer that arrived was committed as it arrived
    before = len(llm.requests_to("/v1/chat/completions"))
    result = cli("classify", "--method", "llm")
    assert f"{answered} from earlier answers" in result.output
    assert len(llm.requests_to("/v1/chat/completions")) - before == n - answered
    assert count(db_path, "select count(*) from llm_answers") == n


def test_prose_unknown_ids_and_broken_json_are_asked_again_then_recorded_as_failed(cli, llm, classified):
    tries: dict[str, int] = {}

    def awkward(message: str, ids: list[str]):
        reply = reply_text(message)
        tries[reply] = tries.get(reply, 0) + 1
        if "lean" in reply.lower():
            return ["Sure! Here you go: {\"made_up\": true}", "{broken", ""][tries[reply] - 1]
        if tries[reply] == 1:
            return "Here is the coding you asked for:\n" + json.dumps({cid: cid == "policy" for cid in ids}) + "\nThanks"
        return _oracle(message, ids)

    llm.llm_coder = awkward
    result = cli("classify", "--method", "llm")
    db_path = classified
    failed = rows(db_path, "select * from llm_answers where status = 'failed'")
    assert failed and all(a["attempts"] == 3 and a["labels"] is None for a in failed)
    assert f"{len(failed)} failed" in result.output and "asked again on the next run" in result.stderr
    ok = rows(db_path, "select * from llm_answers where status = 'ok'")
    assert all(json.loads(a["labels"])["policy"] for a in ok)  # prose around the JSON is read on the first try
    assert ok and all(json.loads(a["scores"]).keys() == json.loads(a["labels"]).keys() for a in ok)


def test_without_schema_mode_or_logprobs_the_answer_is_scored_1_or_0(cli, llm, classified):
    llm.llm_json_schema = False
    llm.llm_logprobs = False
    result = cli("classify", "--method", "llm")
    n = replies_with_text(classified)
    assert f"{n} scored by answer" in result.output
    sent = llm.requests_to("/v1/chat/completions")
    # json_schema refused once per request already in flight (4 at most), then json_object for every reply
    assert n + 1 <= len(sent) <= n + 4
    scores = {r["score"] for r in rows(classified, "select score from coder_labels where method = 'llm'")}
    assert scores == {0.0, 1.0}


def test_dry_run_estimates_and_sends_nothing(cli, llm):
    result = cli("classify", "--method", "llm", "--dry-run")
    assert "Dry run:" in result.output and "prompt" in result.output and "Nothing sent" in result.output
    assert not llm.requests_to("")


def test_reply_texts_go_to_another_machine_only_when_the_user_agrees(cli, llm, monkeypatch):
    monkeypatch.setenv("REPLIES_LLM_BASE", "https://llm.example.org/v1")
    result = cli("classify", "--method", "llm", code=1)
    assert "reply texts will be sent to llm.example.org" in result.stderr and "--yes" in result.stderr
    monkeypatch.setenv("REPLIES_LLM_API_KEY", "sk-secret-key")
    monkeypatch.setenv("REPLIES_LLM_BASE", "http://llm.example.org/v1")
    result = cli("classify", "--method", "llm", "--yes", code=1)
    assert "not sent over plain http://" in result.stderr and "sk-secret-key" not in result.stderr
    shown = cli("config").output
    assert "REPLIES_LLM_API_KEY" in shown and "sk-secret-key" not in shown  # masked
    monkeypatch.delenv("REPLIES_LLM_BASE")
    result = cli("classify", "--method", "llm", code=1)
    assert "REPLIES_LLM_BASE" in result.stderr
    assert not llm.requests_to("")


def test_a_local_server_that_is_not_running_is_one_clear_line_at_once(cli, llm, monkeypatch):
    import socket

    with socket.socket() as closed:  # a port just freed, with nothing listening on it
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("REPLIES_LLM_BASE", f"http://127.0.0.1:{port}/v1")
    result = cli("classify", "--method", "llm", code=1)
    assert result.stderr == (f"Error: nothing is listening at http://127.0.0.1:{port}/v1: start the language "
                             "model's server (for Ollama, `ollama serve`) or correct REPLIES_LLM_BASE\n")


def test_rate_limits_and_server_errors_are_retried(cli, llm, classified):
    llm.inject("429", "/v1/chat/completions", after=3, reset_in=2)
    llm.inject("503", "/v1/chat/completions", after=5)
    result = cli("classify", "--method", "llm")
    assert "0 failed" in result.output
    assert count(classified, "select count(*) from llm_answers where status = 'ok'") == replies_with_text(classified)


def test_reviewed_replies_become_worked_examples(cli, llm, classified):
    labelled = rows(classified, "select platform, id, text from replies where status = 'ok' and text like '%money%'"
                                " limit 3")
    for row in labelled:
        cli("label", f"{row['platform']}:{row['id']}", "money", "--reviewer", "ana")
    result = cli("classify", "--method", "llm")
    assert "up to 4 of 3 reviewed replies as examples" in result.output
    prompts = [json.loads(r["query"]["_json"])["messages"] for r in llm.requests_to("/v1/chat/completions")]
    examples = [[m for m in p[1:-1]] for p in prompts]
    # the reviewed replies (never the reply itself), each a question and its answer
    assert all(len(e) in (4, 6) for e in examples) and sum(len(e) == 6 for e in examples) > 100
    for prompt, shown in zip(prompts, examples):
        own = reply_text(prompt[-1]["content"])
        assert all(own != reply_text(m["content"]) for m in shown if m["role"] == "user")
        assert all(json.loads(m["content"])["money"] for m in shown if m["role"] == "assistant")
    plain = cli("classify", "--method", "llm", "--no-examples", "--dry-run").output
    assert "Dry run:" in plain


def test_the_python_api_picks_worked_examples_with_its_own_embedder(llm, classified):
    """classify_llm called from Python with no embedder given makes its own (the packaged model's embeddings,
    cached in the database) to choose worked examples."""
    from replies import db
    from replies.classifier.llm import LlmSettings, classify_llm
    from replies.codebook import load
    from replies.db.labels import set_gold
    from replies.net.events import Events
    from replies.net.retry import RetryPolicy

    database = db.open_db(classified)
    money = rows(classified, "select platform, id from replies where status = 'ok' and text like '%money%' limit 3")
    codebook = load()
    set_gold(database, [{**row, "codebook": codebook.name, "reviewer": "ana", "labels": ["money"]} for row in money])
    settings = LlmSettings(base=f"{llm.base_url}/v1", model="emulated-8b")
    result = classify_llm(database, codebook, settings, retry=RetryPolicy(Events(), sleep=lambda s: None),
                          dry_run=True)
    assert result.examples == 3 and result.to_send == replies_with_text(classified)


def test_parse_answer_and_logprob_scores_units():
    assert parse_answer('noise {"money": true, "policy": false} more', ["money", "policy"]) == \
        {"money": True, "policy": False}
    # an object without every category id is not an answer: a refusal's {} is not "no category"
    for bad in ("", "no json here", '{"money": "yes"}', '{"cash": true}', None, "I can't code this reply. {}",
                '{"money": true}'):
        with pytest.raises(ValueError):
            parse_answer(bad, ["money", "policy"] if bad == '{"money": true}' else ["money"])
    tokens = [{"token": '{"', "logprob": 0}, {"token": "money", "logprob": 0}, {"token": '":', "logprob": 0},
              {"token": " true", "logprob": -0.2231, "top_logprobs": [{"token": " true", "logprob": -0.2231},
                                                                      {"token": " false", "logprob": -1.6094}]},
              {"token": "}", "logprob": 0}]
    assert logprob_scores({"content": tokens}, ["money"])["money"] == pytest.approx(0.8, abs=1e-3)
    assert logprob_scores({"content": tokens}, ["money", "policy"]) is None
    assert logprob_scores(None, ["money"]) is None and logprob_scores({"content": "x"}, ["money"]) is None


def test_evaluate_sets_the_llm_beside_the_embedding_classifier_and_the_reviewers(cli, llm, classified):
    """Thirty replies reviewed by two people; evaluate shows, per category, each coder against each reviewer,
    with figures that match a count made here from the stored labels."""
    cli("classify", "--method", "llm")
    sample = rows(classified, "select platform, id, text from replies where status = 'ok' and text != '' "
                              "order by rowid limit 30")
    for i, row in enumerate(sample):
        text = row["text"].lower()
        ana = [c for c, words in (("money", ("money", "fund", "budget", "cost")),
                                  ("time_resources", ("time", "staff", "capacity"))) if any(w in text for w in words)]
        bob = ana if i % 5 else ana[:1]  # bob leaves out a second category now and then
        cli("label", f"{row['platform']}:{row['id']}", *ana, "--reviewer", "ana")
        cli("label", f"{row['platform']}:{row['id']}", *bob, "--reviewer", "bob")
    report = json.loads(cli("evaluate", "--json").output)
    coders = {(r["coder"], r["reviewer"], r["category"]): r for r in report["coders"]}
    assert ("llm emulated-8b", "ana", "money") in coders
    assert any(c.startswith("zero-shot ") and rv == "ana" for c, rv, _ in coders)
    assert ("bob (reviewer)", "ana", "money") in coders and ("llm emulated-8b", "ana", "macro average") in coders
    # the LLM against ana on money, counted here
    truth = {(r["platform"], r["id"]): ("money" in json.loads(r["labels"])) for r in
             rows(classified, "select platform, id, labels from gold_labels where reviewer = 'ana'")}
    given = {(r["platform"], r["id"]): bool(r["predicted"]) for r in
             rows(classified, "select platform, id, predicted from coder_labels where method = 'llm' "
                              "and category = 'money'")}
    tp = sum(truth[k] and given[k] for k in truth)
    fp = sum(given[k] and not truth[k] for k in truth)
    fn = sum(truth[k] and not given[k] for k in truth)
    row = coders[("llm emulated-8b", "ana", "money")]
    assert tp and row["replies"] == 30
    assert row["precision"] == round(tp / (tp + fp), 3) and row["recall"] == round(tp / (tp + fn), 3)
    assert row["kappa"] == 1.0  # the emulated model codes money as ana does
    text = cli("evaluate").output
    assert "Every coder against each reviewer" in text and "bob (reviewer)" in text


def test_review_disagreement_order_puts_contested_replies_first(cli, llm, classified):
    from replies.db import open_db
    from replies.review.queue import review_queue

    cli("classify", "--method", "llm")
    database = open_db(classified)
    book = rows(classified, "select codebook, codebook_hash from classify_runs order by id desc limit 1")[0]
    queue = review_queue(database, codebook=book["codebook"], codebook_hash=book["codebook_hash"], reviewer="ana",
                         order="disagreement")
    disagreements = {}
    for r in rows(classified, "select platform, id, category, group_concat(predicted) g from coder_labels "
                              "where codebook_hash = ? group by platform, id, category", [book["codebook_hash"]]):
        key = (r["platform"], r["id"])
        disagreements[key] = disagreements.get(key, 0) + (len(set(r["g"].split(","))) > 1)
    ranked = [disagreements.get(k, 0) for k in queue]
    assert ranked == sorted(ranked, reverse=True) and ranked[0] > 0 and ranked[-1] == 0
