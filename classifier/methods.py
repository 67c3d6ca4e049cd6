"""The classification methods, behind one registry like the platforms': each method's name, what it does,
which engine runs it, and the options only it takes. `classify`, the CLI's --method choices and its checks
of method-only options all read from here, so a new method is one entry plus its engine."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ClassifierError


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    # which engine runs it: "encoder" (the sentence encoder and its heads, in classifier/run.py), "nli"
    # (an MNLI pipeline, classifier/nli.py) or "llm" (a language-model server, classifier/llm/)
    engine: str
    options: tuple[str, ...] = ()  # command-line options only this method takes
    calibrated: bool = False  # decisions cut on the replies in hand unless a threshold is fixed
    threshold: float = 0.5  # the score at which a category is given when not calibrated


LLM_OPTIONS = ("--llm-base", "--llm-model", "--concurrency", "--dry-run", "--no-examples", "--yes")
ENCODER_OPTIONS = ("--backend", "--labels-per-reply")  # the encoder's runtime, and the calibration of its heads

METHODS = {method.name: method for method in (
    Method("auto", "few-shot once every category has 5 reviewed replies, zero-shot before", "encoder",
           options=ENCODER_OPTIONS, calibrated=True),
    Method("zero-shot", "heads trained on the codebook's descriptions and examples only", "encoder",
           options=ENCODER_OPTIONS, calibrated=True),
    Method("few-shot", "the encoder fine-tuned (SetFit-style) on the codebook and the gold labels, its heads "
           "averaged with zero-shot's", "encoder", options=ENCODER_OPTIONS, calibrated=True),
    Method("nli", "transformers' zero-shot-classification pipeline with an MNLI model (bring your own)", "nli"),
    Method("llm", "a language model on an OpenAI-compatible server codes each reply", "llm", options=LLM_OPTIONS),
)}


def names() -> tuple[str, ...]:
    """Every method's name, in the order --help lists them."""
    return tuple(METHODS)


def get(name: str) -> Method:
    """The method called `name`; ClassifierError naming the choices otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ClassifierError(f"unknown method {name!r}: choose one of {', '.join(METHODS)}") from None


def options_for_others(name: str) -> tuple[str, ...]:
    """The method-only options that method `name` does not take."""
    return tuple(dict.fromkeys(option for method in METHODS.values() if method.name != name
                               for option in method.options if option not in get(name).options))
