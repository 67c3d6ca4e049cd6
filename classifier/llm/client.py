"""The chat-completions client: every structured-output dialect servers speak, tried in order and
remembered, with the limits every HTTP call here has."""

from __future__ import annotations

import json
import threading
from typing import Any

from replies.codebook import Codebook
from replies.net.http import DeadlineExceeded, HTTPStatusError, JsonClient, Transient, fetch

from ..errors import ClassifierError
from .answers import THRESHOLD, Answer, InvalidAnswer, logprob_scores, parse_answer
from .prompts import response_schema
from .settings import LlmSettings

MAX_TRIES = 3            # an answer that is not the JSON asked for is asked again, at most this often in all
CORROBORATE = 3          # replies that must get codes from another dialect after none from the settled-on one


# Structured output, in every dialect servers speak, tried in this order until one is taken:
# json_schema         OpenAI's response_format (OpenAI, vLLM, LM Studio, llama.cpp's llama-server, Ollama >= 0.5)
# json_object_schema  response_format {"type": "json_object", "schema": ...} (llama-cpp-python's server)
# guided_json         vLLM's own parameter
# ollama_native       Ollama's /api/chat with `format` set to the schema
# json_object         plain JSON mode, the schema only in the prompt
# prompt              no structured-output parameter at all
DIALECTS = ("json_schema", "json_object_schema", "guided_json", "ollama_native", "json_object", "prompt")
# decoding that does not change the answer between runs or penalise the repeated `false` of an answer
# (llama.cpp's default repeat penalty is 1.1): sent where the server takes them
DETERMINISTIC = {"repeat_penalty": 1.0, "repetition_penalty": 1.0}
REFUSAL_WORDS = {  # what a server's error says when it does not take a dialect's field
    "json_schema": ("response_format", "json_schema", "schema"),
    "json_object_schema": ("response_format", "json_object", "schema"),
    "guided_json": ("guided_json", "guided", "extra"),
    "ollama_native": ("format", "not found", "404"),
    "json_object": ("response_format", "json_object"),
    "prompt": (),
}


def _text_of(body: Any) -> str:
    return (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False))[:2000].lower()


class ChatClient:
    """POST the chat completion on an OpenAI-compatible server (or Ollama's own /api/chat), with the retries and
    limits every HTTP call here has (429 waits for retry-after, 5xx backs off, answers bounded in size and
    time). It finds the structured-output dialect the server takes by trying them in order, once per
    server and model (the caller remembers it), and drops the deterministic-decoding parameters where the
    server refuses them."""

    def __init__(self, settings: LlmSettings, retry, *, dialect: str | None = None, extras: bool = True):

        def reset(headers) -> float | None:
            try:
                return retry.clock() + float(headers.get("retry-after", ""))
            except ValueError:
                return None

        self.settings = settings
        self.http = JsonClient(settings.base.rstrip("/"), retry, timeout=settings.timeout, token=settings.api_key,
                               reset_parser=reset, label=f"LLM server {settings.host}")
        self.dialect = dialect if dialect in DIALECTS else DIALECTS[0]
        self.extras = extras
        # settled: a dialect has given codes (or was remembered from a run that did); then only a refusal moves on
        self.settled = dialect in DIALECTS
        # dialect -> the replies that got no codes under everyone's dialect and got codes under this one
        self.corroborated: dict[str, set[str]] = {}
        self.lock = threading.Lock()
        self.requests = 0

    def close(self) -> None:
        self.http.close()

    def redact(self, text: str) -> str:
        key = self.settings.api_key
        return text.replace(key, "***") if key else text

    def served_models(self) -> list[str] | None:
        """The model names the server lists at /models, or None where it lists none: no such path, another
        shape, or no answer at once (one try: the coding's own requests have the retries)."""
        import httpx

        try:
            response = fetch(self.http.http, "GET", "/models", deadline=self.http.deadline)
            body = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, DeadlineExceeded, Transient, ValueError, RecursionError):
            return None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            return None
        names = [str(m.get("id")) for m in data if isinstance(m, dict) and isinstance(m.get("id"), (str, int))]
        return names or None

    def request_for(self, codebook: Codebook, messages: list[dict], dialect: str, extras: bool) -> tuple[str, dict]:
        """(path, body) of one request in `dialect`."""
        schema = response_schema(codebook)
        tokens = 40 + 12 * len(codebook.ids)
        if dialect == "ollama_native":
            options = {"temperature": 0, "num_predict": tokens, **({"repeat_penalty": 1.0} if extras else {})}
            root = self.settings.base.rstrip("/").removesuffix("/v1")
            return root + "/api/chat", {"model": self.settings.model, "messages": messages, "format": schema,
                                        "stream": False, "options": options, "logprobs": True, "top_logprobs": 5}
        body = {"model": self.settings.model, "messages": messages, "temperature": 0, "logprobs": True,
                "top_logprobs": 5, "max_tokens": tokens, **(DETERMINISTIC if extras else {})}
        if dialect == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "codes", "strict": True,
                                                                              "schema": schema}}
        elif dialect == "json_object_schema":
            body["response_format"] = {"type": "json_object", "schema": schema}
        elif dialect == "guided_json":
            body["guided_json"] = schema
        elif dialect == "json_object":
            body["response_format"] = {"type": "json_object"}
        return "/chat/completions", body

    def _refused(self, dialect: str, extras: bool, status: int, body: Any) -> str | None:
        """"extras" or "dialect" where this error says the server does not take what was sent, else None."""
        if status not in (400, 404, 405, 415, 422, 500, 501):
            return None
        text = _text_of(body)
        if extras and any(name in text for name in DETERMINISTIC):
            return "extras"
        if dialect == "ollama_native" and status in (404, 405):
            return "dialect"
        if any(word in text for word in REFUSAL_WORDS[dialect]) or (status == 500 and "input should be" in text):
            return "dialect"
        return None

    def _move_on(self, dialect: str, extras: bool, refused: str, error: str) -> None:
        with self.lock:  # another worker may have moved on already
            if refused == "extras" and self.extras == extras:
                self.extras = False
            elif refused == "dialect" and self.dialect == dialect:
                following = DIALECTS.index(dialect) + 1
                if following == len(DIALECTS):
                    raise ClassifierError(f"the LLM server at {self.settings.base} refused every way replies knows "
                                          f"of asking for JSON, even a plain request: {self.redact(error)}")
                self.dialect = DIALECTS[following]

    def code(self, codebook: Codebook, messages: list[dict]) -> Answer:
        """One reply's answer, at most MAX_TRIES answers asked for (refusals of a parameter aside).

        How the dialect is found: the server's refusal of a request (an error naming the field) moves everyone
        to the next dialect; codes under everyone's dialect settle it. An answer without codes while nothing is
        settled sends this reply alone on to the next dialects (a server that takes a field but holds the model
        to no schema); only when CORROBORATE replies have got codes so from one dialect, and none from everyone's,
        does everyone move to it. One hostile or confused answer is not evidence about the server."""
        answer = Answer(status="failed")
        ids = codebook.ids
        refusals = 0
        explore: str | None = None  # this reply's own dialect, after an answer without codes while unsettled
        while answer.attempts < MAX_TRIES:
            answer.attempts += 1
            with self.lock:
                if self.settled:
                    explore = None  # settled meanwhile: this reply follows everyone
                dialect, extras = explore or self.dialect, self.extras
                self.requests += 1
            path, body = self.request_for(codebook, messages, dialect, extras)
            try:
                reply, _ = self.http.request("POST", path, json=body, give_up=lambda status, sent: self._refused(
                    dialect, extras, status, sent) is not None)
            except HTTPStatusError as exc:
                refused = self._refused(dialect, extras, exc.status, exc.body)
                if refused and refusals < 2 * len(DIALECTS):
                    refusals += 1
                    answer.attempts -= 1  # the server's refusal of a parameter is not an answer
                    if explore is not None and refused == "dialect":
                        explore = _after(explore)  # this reply tries the next; everyone else stays
                        if explore is None:
                            answer.error = f"no dialect gave codes (HTTP {exc.status})"
                            return answer
                    else:
                        self._move_on(dialect, extras, refused, f"HTTP {exc.status} {_text_of(exc.body)[:200]}")
                    continue
                if exc.status in (401, 403):
                    raise ClassifierError(f"the LLM server refused the request (HTTP {exc.status}): check "
                                          "REPLIES_LLM_API_KEY") from None
                if exc.status == 404 and explore is None:
                    raise ClassifierError(f"the LLM server has no model {self.settings.model!r} or no "
                                          f"/chat/completions at {self.settings.base} (HTTP 404)") from None
                answer.error = f"HTTP {exc.status}"
                continue
            if dialect == "ollama_native" and isinstance(reply, dict):
                reply = _from_ollama(reply)
            usage = reply.get("usage") if isinstance(reply, dict) else None
            if isinstance(usage, dict):
                for name in ("prompt_tokens", "completion_tokens"):
                    value = usage.get(name)
                    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**7:
                        setattr(answer, name, getattr(answer, name) + value)
            served = reply.get("model") if isinstance(reply, dict) else None
            answer.served_model = served if isinstance(served, str) and 0 < len(served) <= 200 else None
            try:
                choice = reply["choices"][0]
                answer.labels = parse_answer(choice["message"]["content"], ids)
                scores = logprob_scores(choice.get("logprobs") if isinstance(choice, dict) else None, ids)
            except (KeyError, IndexError, TypeError) as exc:
                answer.error = f"answer not shaped as chat completions document ({type(exc).__name__})"
                continue
            except InvalidAnswer as exc:
                answer.error = self.redact(str(exc))  # a server that echoes the key must not put it in the database
                with self.lock:
                    settled = self.settled
                following = None if settled else _after(dialect)
                if following is not None:
                    explore = following
                    answer.attempts -= 1  # bounded: the reply's own dialect only ever moves forward
                continue
            with self.lock:
                if not self.settled and explore is None:  # codes under everyone's dialect: the server speaks it
                    self.dialect, self.settled = dialect, True
                elif not self.settled:
                    backing = self.corroborated.setdefault(dialect, set())
                    backing.add(str(messages[-1].get("content")))
                    if len(backing) >= CORROBORATE:
                        self.dialect, self.settled = dialect, True
            if scores is not None:
                # the decision follows the probability: a label is never on the other side of 0.5 from its score
                answer.scores, answer.scored_by = scores, "logprobs"
                answer.labels = {cid: scores[cid] >= THRESHOLD for cid in ids}
            else:
                answer.scores = {cid: 1.0 if given else 0.0 for cid, given in answer.labels.items()}
            answer.status, answer.error = "ok", None
            return answer
        return answer


def _after(dialect: str) -> str | None:
    """The dialect tried after `dialect`, or None after the last."""
    following = DIALECTS.index(dialect) + 1
    return DIALECTS[following] if following < len(DIALECTS) else None


def _from_ollama(reply: dict) -> dict:
    """Ollama's /api/chat answer in the shape of a chat completion."""
    tokens = reply.get("logprobs")
    return {"model": reply.get("model"),
            "choices": [{"message": reply.get("message"), "logprobs": {"content": tokens} if tokens else None}],
            "usage": {"prompt_tokens": reply.get("prompt_eval_count"), "completion_tokens": reply.get("eval_count")}}
