"""`classify --method llm`: which replies to send and why, the run itself, and every answer stored as it
arrives, so a rerun after Ctrl-C or a kill sends nothing already answered."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlite_utils import Database

from replies import __version__
from replies.codebook import Codebook
from replies.db import labels as label_store
from replies.db.queries import thread_filter

from ..errors import ClassifierError
from .answers import THRESHOLD, Answer
from .client import ChatClient
from .pace import Pace, _answers
from .prompts import EXAMPLE_BUDGET, EXAMPLES, PROMPT_VERSION, estimate_tokens, messages_for, prompt_hash
from .settings import LlmSettings, check_listening

Progress = Callable[[str, int, int], None]


@dataclass
class LlmResult:
    model: str
    codebook: str
    codebook_hash: str
    coded: int = 0          # replies with an answer now
    reused: int = 0         # ... of them from answers stored before
    failed: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_prompt_tokens: int = 0
    estimated_completion_tokens: int = 0
    examples: int = 0       # reviewed replies available as worked examples
    scored_by: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    to_send: int = 0        # replies a run sends (would send, with dry_run) ...
    reasons: dict[str, int] = field(default_factory=dict)  # ... and why: new, codebook changed, prompt changed
    first_prompt: list[dict] = field(default_factory=list)  # the first prompt to send, whole
    dialect: str | None = None  # how the server took structured output
    served_models: dict[str, int] = field(default_factory=dict)  # the models the answers say they came from
    concurrency: int = 0    # requests in flight at the end (it adapts to the server)
    base: str = ""          # the server's base URL


def _replies(database: Database, thread: tuple[str, str] | None) -> list[dict]:
    in_thread, params = thread_filter(thread)
    sql = f"""
        select r.platform, r.id, r.text,
          coalesce((select p.text from replies p where p.platform = r.platform and p.id = r.parent_id),
                   (select t.text from threads t where t.platform = r.platform and t.id = r.parent_id)) as parent
        from replies r where r.status = 'ok' and r.text is not null and r.text != '' and {in_thread}
        order by r.rowid
    """
    return [dict(row) for row in database.query(sql, params)]


def _example_picker(database: Database, codebook: Codebook, replies: list[dict],
                    embedder_factory) -> tuple[Callable[[dict], list[tuple[str, list[str]]]], int]:
    """(a function giving each reply its worked examples, how many reviewed replies there are to choose from).
    The examples are the reviewed replies most like the reply (cosine on the cached embeddings), never the
    reply itself, within EXAMPLE_BUDGET tokens."""
    import numpy as np

    reviewed = label_store.gold(database, codebook.name)
    texts = label_store.texts_for(database, reviewed)
    keys = [k for k in reviewed if k in texts]
    if not keys:
        return (lambda row: []), 0
    embedder = embedder_factory()
    gold_vectors = embedder.embed([texts[k] for k in keys], 64)
    reply_vectors = embedder.embed([r["text"] for r in replies], 64)
    index = {(r["platform"], r["id"]): i for i, r in enumerate(replies)}

    def pick(row: dict) -> list[tuple[str, list[str]]]:
        similarity = gold_vectors @ reply_vectors[index[(row["platform"], row["id"])]]
        chosen, budget = [], EXAMPLE_BUDGET
        for j in np.argsort(-similarity):
            key = keys[int(j)]
            if key == (row["platform"], row["id"]):
                continue
            cost = estimate_tokens(texts[key]) + 8 * len(codebook.ids)
            if cost > budget:
                continue
            chosen.append((texts[key], reviewed[key]))
            budget -= cost
            if len(chosen) == EXAMPLES:
                break
        return chosen

    return pick, len(keys)


RESEND_SHARE = 0.5  # a run that would send again more than this share of the replies already coded asks first
PROMPT_CHANGED = "prompt changed (worked examples or the post it answers)"  # why a coded reply is sent again ...
CODEBOOK_CHANGED = "codebook changed"                                      # ... or this


def classify_llm(database: Database, codebook: Codebook, settings: LlmSettings, *, retry,
                 thread: tuple[str, str] | None = None, redo: bool = False, concurrency: int = 4,
                 dry_run: bool = False, few_shot: bool = True, progress: Progress | None = None,
                 embedder_factory=None, resend_ok: bool = False, note: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> LlmResult:
    """Code every reply in scope with the language model; store each answer and its labels as it arrives.

    `retry` is the RetryPolicy for the HTTP calls; `embedder_factory` makes the embedder that chooses worked
    examples (reviewed replies) by similarity. With `dry_run`, nothing is sent: the prompts are built and
    their tokens estimated, and why each reply would be sent is counted. A run that would send again more
    than half of the replies this model already coded (new worked examples, a changed codebook) stops with
    ClassifierError unless `resend_ok`. `note` receives messages for the user (a slow first answer)."""
    if not 1 <= concurrency <= 64:
        raise ClassifierError(f"--concurrency {concurrency} must be from 1 to 64")
    progress = progress or (lambda stage, done, total: None)
    note = note or (lambda message: None)
    replies = _replies(database, thread)
    if not replies:
        raise ClassifierError("no replies to classify: harvest a thread first (`replies harvest URL`)")
    codebook.remember(database)
    model = settings.model
    result = LlmResult(model=model, codebook=codebook.name, codebook_hash=codebook.hash, dry_run=dry_run,
                       base=settings.base or "")
    if embedder_factory is None:
        from ..embed import CachedEmbedder
        embedder_factory = lambda: CachedEmbedder(database, None)  # noqa: E731
    pick, result.examples = (_example_picker(database, codebook, replies, embedder_factory) if few_shot
                             else ((lambda row: []), 0))

    same, other = label_store.llm_coded_history(database, model, codebook.hash)
    jobs: list[tuple[dict, list[dict], str]] = []
    for row in replies:
        messages = messages_for(codebook, row["text"], row["parent"], pick(row))
        digest = prompt_hash(model, messages)
        known = None if redo else label_store.llm_answer(database, model, digest)
        usable = _answer_from(known, codebook) if known and known["status"] == "ok" else None
        if usable is not None:
            result.reused += 1
            if not _has_labels(database, row, codebook, model):
                _store(database, codebook, model, row, digest, usable, known)
            continue
        key = (row["platform"], row["id"])
        reason = ("asked again (--redo)" if redo and key in same else PROMPT_CHANGED if key in same else
                  CODEBOOK_CHANGED if key in other else "not coded yet" if not known else "failed before")
        result.reasons[reason] = result.reasons.get(reason, 0) + 1
        jobs.append((row, messages, digest))
        result.estimated_prompt_tokens += sum(estimate_tokens(m["content"]) for m in messages)
        result.estimated_completion_tokens += 6 * len(codebook.ids)
    result.to_send = len(jobs)
    result.first_prompt = jobs[0][1] if jobs else []
    again = result.reasons.get(PROMPT_CHANGED, 0) + result.reasons.get(CODEBOOK_CHANGED, 0)
    if dry_run:
        result.coded = result.reused
        return result
    coded_before = len(same | other)
    if not resend_ok and not redo and coded_before and again > RESEND_SHARE * coded_before:
        raise ClassifierError(
            f"this run would send again {again} of the {coded_before} replies {model} already coded ("
            + "; ".join(f"{n} {reason}" for reason, n in result.reasons.items() if n) + "): about "
            f"{result.estimated_prompt_tokens:,} prompt tokens. Add --yes to agree, or --no-examples to keep the "
            "prompts as they were; --dry-run shows one whole prompt")

    if jobs:
        check_listening(settings)
    remembered = label_store.llm_server(database, settings.base, model) or {}
    client = ChatClient(settings, retry, dialect=remembered.get("dialect"), extras=bool(remembered.get("extras", 1)))
    try:
        if jobs:
            check_model(client, settings)
    except BaseException:
        client.close()
        raise
    run_id = label_store.start_classify_run(database, codebook=codebook.name, codebook_hash=codebook.hash,
                                            method="llm", model=model,
                                            thresholds=json.dumps({c: THRESHOLD for c in codebook.ids}),
                                            gold=result.examples, tool_version=__version__)
    done = 0
    try:
        pace = Pace(concurrency, clock)
        for (row, _, digest), answer in _answers(client, codebook, jobs, pace, note):
            _store(database, codebook, model, row, digest, answer)
            result.prompt_tokens += answer.prompt_tokens
            result.completion_tokens += answer.completion_tokens
            if answer.status == "ok":
                result.scored_by[answer.scored_by] = result.scored_by.get(answer.scored_by, 0) + 1
                if answer.served_model:
                    result.served_models[answer.served_model] = result.served_models.get(answer.served_model, 0) + 1
                if (client.dialect, client.extras) != (remembered.get("dialect"), bool(remembered.get("extras", 1))):
                    label_store.remember_llm_server(database, settings.base, model, client.dialect, client.extras)
                    remembered = {"dialect": client.dialect, "extras": client.extras}
            else:
                result.failed += 1
            done += 1
            progress("coding", done, len(jobs))
        result.concurrency = pace.limit
    finally:
        result.requests = client.requests
        result.dialect = client.dialect
        client.close()
        label_store.finish_classify_run(database, run_id, replies=done, prompt_tokens=result.prompt_tokens,
                                        completion_tokens=result.completion_tokens, requests=result.requests,
                                        failed=result.failed)
    result.coded = result.reused + done - result.failed
    result.counts = {cid: int(n or 0) for cid, n in database.execute(
        "select category, sum(predicted) from coder_labels where codebook_hash = ? and method = 'llm' and model = ?"
        " group by category", [codebook.hash, model]).fetchall()}
    return result


def check_model(client: ChatClient, settings: LlmSettings) -> None:
    """ClassifierError when the server lists its models and `settings.model` is not among them: a server
    that serves its only model whatever name it is asked for would have the labels recorded under a name
    that is not the model's. Ollama's NAME stands for NAME:latest."""
    served = client.served_models()
    if served is None:
        return
    wanted = settings.model
    if wanted in served or f"{wanted}:latest" in served:
        return
    shown = ", ".join(repr(name) for name in served[:10]) + (" ..." if len(served) > 10 else "")
    raise ClassifierError(f"the LLM server at {settings.base} serves {shown}, not {wanted!r}: set REPLIES_LLM_MODEL "
                          "(or --llm-model) to the model you mean, so the labels are recorded under its name")


def _has_labels(database: Database, row: dict, codebook: Codebook, model: str) -> bool:
    return database.execute("select 1 from coder_labels where platform = ? and id = ? and codebook_hash = ?"
                            " and method = 'llm' and model = ? limit 1",
                            [row["platform"], row["id"], codebook.hash, model]).fetchone() is not None


def _answer_from(stored: dict, codebook: Codebook) -> Answer | None:
    """A stored answer, or None where it cannot be used again: an older version stored NaN scores from a
    server's infinite log-probabilities, and such an answer is asked again."""
    try:
        labels, scores = json.loads(stored["labels"] or "{}"), json.loads(stored["scores"] or "{}")
    except ValueError:
        return None
    if not isinstance(labels, dict) or not isinstance(scores, dict) or any(
            not isinstance(scores.get(cid), (int, float)) or not 0 <= scores[cid] <= 1 for cid in codebook.ids):
        return None
    return Answer(status=stored["status"], labels=labels, scores=scores, scored_by=stored["scored_by"] or "answer")


def _store(database: Database, codebook: Codebook, model: str, row: dict, digest: str, answer: Answer,
           known: dict | None = None) -> None:
    record = known or {
        "model": model, "prompt_hash": digest, "prompt_version": PROMPT_VERSION,
        "text_hash": hashlib.sha256(row["text"].encode()).hexdigest(), "status": answer.status,
        "labels": json.dumps(answer.labels) if answer.status == "ok" else None,
        "scores": json.dumps(answer.scores, allow_nan=False) if answer.status == "ok" else None,
        "scored_by": answer.scored_by if answer.status == "ok" else None, "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens, "attempts": answer.attempts, "error": answer.error,
        "served_model": answer.served_model}
    predictions = [] if answer.status != "ok" else [
        {"platform": row["platform"], "id": row["id"], "codebook": codebook.name, "codebook_hash": codebook.hash,
         "category": cid, "score": answer.scores.get(cid, 1.0 if answer.labels.get(cid) else 0.0),
         "predicted": bool(answer.labels.get(cid)), "threshold": THRESHOLD, "method": "llm", "model": model}
        for cid in codebook.ids]
    label_store.store_llm_answer(database, record, predictions)
