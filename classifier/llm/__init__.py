"""A language model as a second coder: the codebook as a prompt, each reply coded by an OpenAI-compatible
chat-completions server (Ollama, llama.cpp's server, vLLM, LM Studio, or a hosted one).

The answer is a JSON object with one true/false per category id, asked for with the server's JSON-schema
mode where it has one and checked either way: prose around the JSON, unknown ids and empty answers are
asked again (three tries in all), then recorded as failed, never guessed. Where the server returns
log-probabilities, a category's score is the probability of `true` at its value; otherwise the score is
1 or 0 and the answer is marked `scored_by = answer`. Every answer is committed as it arrives, keyed by
model and the hash of the whole prompt, so a rerun after Ctrl-C or a kill sends no reply that already has
an answer.

One module per job: `settings` (where the server is, what it may be sent), `prompts`, `answers` (reading
and scoring an answer), `client` (the dialects servers speak), `pace` (requests in flight, worker threads),
`run` (what to send, and storing every answer).

The names below are this package's API (`from replies.classifier.llm import classify_llm`); each is imported
from its module when first asked for, so reading the coder's settings (every command does) loads no HTTP
stack.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "InvalidAnswer": "answers", "logprob_scores": "answers", "parse_answer": "answers",
    "DIALECTS": "client", "ChatClient": "client",
    "Pace": "pace",
    "PROMPT_VERSION": "prompts", "messages_for": "prompts",
    "LlmResult": "run", "check_model": "run", "classify_llm": "run",
    "SETTINGS": "settings", "LlmSettings": "settings", "check_destination": "settings", "check_listening": "settings",
}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
