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
"""

from .answers import InvalidAnswer, logprob_scores, parse_answer
from .client import DIALECTS, ChatClient
from .pace import Pace
from .prompts import PROMPT_VERSION, messages_for
from .run import LlmResult, check_model, classify_llm
from .settings import SETTINGS, LlmSettings, check_destination, check_listening

__all__ = ["InvalidAnswer", "logprob_scores", "parse_answer", "DIALECTS", "ChatClient", "Pace", "PROMPT_VERSION",
           "messages_for", "LlmResult", "check_model", "classify_llm", "SETTINGS", "LlmSettings",
           "check_destination", "check_listening"]
