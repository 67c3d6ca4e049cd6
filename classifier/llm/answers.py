"""Reading an answer: the JSON object of codes, checked and bounded, and each category's score from the
log-probabilities at the token where its value is decided."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

MAX_ANSWER = 20_000      # characters: the codes of any codebook take a few hundred; a longer answer is not codes
MAX_OBJECT_TRIES = 8     # '{' positions tried as the start of the answer's object: a search linear in its size
THRESHOLD = 0.5


class InvalidAnswer(ValueError):
    """The model's answer is not the JSON object asked for."""


class _Duplicate(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object whose keys are each given once (json keeps the last of a repeated key silently)."""
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise _Duplicate(key)
        found[key] = value
    return found


def parse_answer(content: Any, ids: list[str]) -> dict[str, bool]:
    """{category id: given} from the model's text: the first JSON object in it (prose around it is
    tolerated), with every category id as a key and every value a boolean. An object without the codebook's
    ids (a refusal with `{}`, unrelated JSON) is not an answer. The search is bounded: at most MAX_ANSWER
    characters, MAX_OBJECT_TRIES starting points, and JSON nested too deep is not an answer either."""
    if not isinstance(content, str) or not content.strip():
        raise InvalidAnswer("empty answer")
    if len(content) > MAX_ANSWER:
        raise InvalidAnswer(f"answer of {len(content)} characters, longer than any codes")
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates)
    value = None
    for tried, match in enumerate(re.finditer(r"\{", content)):
        if tried == MAX_OBJECT_TRIES:
            break
        try:
            found, _ = decoder.raw_decode(content, match.start())
        except RecursionError:
            raise InvalidAnswer("JSON nested too deep to be codes") from None
        except _Duplicate as exc:  # {"money": true, ..., "money": false}: which was meant cannot be known
            raise InvalidAnswer(f"category id {exc.key!r} answered twice: an ambiguous answer") from None
        except ValueError:
            continue
        if isinstance(found, dict):
            value = found
            break
    if value is None:
        raise InvalidAnswer(f"no JSON object in {content[:60]!r}")
    unknown = [k for k in value if k not in ids]
    if unknown:
        raise InvalidAnswer(f"unknown category ids {unknown[:3]}")
    missing = [cid for cid in ids if cid not in value]
    if missing:
        raise InvalidAnswer(f"no answer for category ids {missing[:3]}" + (" (an empty object)" if not value else ""))
    if not all(isinstance(v, bool) for v in value.values()):
        raise InvalidAnswer("values are not true/false")
    return {cid: value[cid] for cid in ids}


def _log_probability(value: Any) -> float | None:
    """A token's log-probability from the server, or None where there is none; InvalidAnswer for a value no
    probability has (NaN, infinite, above 0, not a number)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value > 1e-6:
        raise InvalidAnswer(f"log-probability {str(value)[:20]} is not one")
    return float(min(value, 0.0))


def logprob_scores(logprobs: Any, ids: list[str]) -> dict[str, float] | None:
    """P(true) for each category from the tokens' log-probabilities, read where the value is decided: the
    first token after the id's colon whose alternatives (the token itself and its `top_logprobs`) include a
    spelling of true or false. A grammar may first force a space, and a model that wanted to write " true"
    decided there, not at the token after it. None when the server sent no log-probabilities (or not for
    every category); InvalidAnswer for a log-probability that is not one."""
    tokens = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(tokens, list) or not tokens:
        return None
    text, starts = "", []
    for token in tokens:
        piece = token.get("token") if isinstance(token, dict) else None
        if not isinstance(piece, str):
            return None
        starts.append(len(text))
        text += piece
    scores = {}
    for cid in ids:
        match = re.search(r'"' + re.escape(cid) + r'"\s*:(\s*)(true|false)', text)
        if not match:
            return None
        first = max(i for i, s in enumerate(starts) if s <= match.start(1))  # the token holding the colon's end
        last = max(i for i, s in enumerate(starts) if s <= match.start(2))   # the token where the value begins
        options = None
        for at in range(first, last + 1):
            options = _true_false(tokens[at])
            if options is not None:
                break
        if options is None:
            return None
        p_true, p_false = options
        scores[cid] = round(p_true / (p_true + p_false), 6) if p_true + p_false > 0 else 0.5
    return scores


def _true_false(token: dict) -> tuple[float, float] | None:
    """(P(true), P(false)) among a token and its alternatives: each the sum over the distinct tokens that
    spell its start ("true", " true", "tr"; a server lists " true" beside "true"); None where none does."""
    alternatives = token.get("top_logprobs")
    found = {"true": 0.0, "false": 0.0}
    seen: set[str] = set()
    for alt in [token, *(alternatives if isinstance(alternatives, list) else [])]:
        piece = alt.get("token") if isinstance(alt, dict) else None
        if not isinstance(piece, str) or piece in seen:
            continue
        seen.add(piece)
        word = piece.strip().lower()
        lp = _log_probability(alt.get("logprob"))
        for option in found:
            if word and option.startswith(word) and lp is not None:
                found[option] += math.exp(max(lp, -100.0))
    if not found["true"] and not found["false"]:
        return None
    return found["true"], found["false"]


@dataclass
class Answer:
    status: str                      # ok | failed
    labels: dict[str, bool] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    scored_by: str = "answer"        # logprobs | answer (1/0)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    error: str | None = None
    served_model: str | None = None  # the model the server says answered
