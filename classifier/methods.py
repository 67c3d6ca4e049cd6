"""The classification methods: each one class declaring what it does and the options only it takes, found
through the `replies.methods` entry-point group (the five built-in ones are registered there too, in
pyproject.toml, as a plugin's would be). `replies classify` builds its --method choices and its method-only
options from these declarations, and refuses an option the chosen method does not take.

A method either scores replies (`ScoringMethod`: `prepare` returns a `Scorer`, and the shared loop in
`run.py` scores every reply in scope, stores the labels with their provenance and calibrates the cuts) or
runs whole on its own (`Method.run`: the language-model coder). This module is cheap to import: the engines
load when a method runs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from replies.plugins import Registry

from .errors import ClassifierError

GROUP = "replies.methods"
BUILT_IN = ("auto", "zero-shot", "few-shot", "nli", "llm")  # in the order --help lists them
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Option:
    """One option a method takes: the keyword its `run` receives, its command-line flag, and its type (`bool`
    for a yes/no flag, else a click type or `int`, `float`, `str`)."""

    name: str
    flag: str
    help: str
    type: Any = bool
    default: Any = None
    metavar: str | None = None
    show_default: bool = False


@dataclass
class Run:
    """What every method's run is given besides its own options: the scope, the model, where to report, and
    the environment-style settings (the language model server's) and retry policy of the caller."""

    thread: tuple[str, str] | None = None
    redo: bool = False
    model: str | None = None   # the encoder (or MNLI model) to use; None: the packaged one
    device: str | None = None
    batch_size: int = 64
    threshold: float | None = None  # one fixed cut for every category; None: the method's own
    progress: Progress | None = None
    note: Callable[[str], None] | None = None  # a line for the person running it
    environ: Mapping[str, str] | None = None  # REPLIES_LLM_* and the like; None: the process environment
    retry: Callable[[], Any] | None = None  # makes the replies.net.retry.RetryPolicy for HTTP calls; None: a default
    encoder: Any = None                         # an already loaded classifier.model.Encoder to reuse

    def say(self, message: str) -> None:
        if self.note:
            self.note(message)

    def report(self, stage: str, done: int, total: int) -> None:
        if self.progress:
            self.progress(stage, done, total)

    def env(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ


@dataclass
class Gold:
    """The reviewed replies of the codebook: their labels and texts, and the keys that have both."""

    reviewed: dict = field(default_factory=dict)
    texts: dict = field(default_factory=dict)
    keys: list = field(default_factory=list)


@dataclass
class Scorer:
    """What a scoring method prepared: the method and model the labels are stored under, the scores of a
    list of texts (`score(texts, on_share)`, `on_share` hearing what share is done), how many replies it
    embedded rather than read from the cache, and what to tell the person running it."""

    method: str
    model: str
    score: Callable[[list[str], Callable[[float], None]], Any]
    embedded: Callable[[], int] | None = None
    note: str | None = None
    cv_zero_shot: float | None = None  # zero-shot's macro-F1 on the gold, where there is gold


class Method:
    """A classification method. Subclasses set the class attributes and implement `run` (or, scoring,
    `prepare`)."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    calibrated: ClassVar[bool] = False  # decisions cut on the replies in hand unless a threshold is fixed
    threshold: ClassVar[float] = 0.5    # the score at which a category is given when not calibrated

    def run(self, database, codebook, run: Run, **options):
        """Classify the replies in scope with this method; returns the method's result record."""
        raise NotImplementedError

    def takes(self) -> set[str]:
        return {option.name for option in self.options}


class ScoringMethod(Method):
    """A method that gives every reply a score per category, run by the shared loop in `run.py`."""

    def prepare(self, database, codebook, gold: Gold, run: Run, **options) -> Scorer:
        raise NotImplementedError

    def run(self, database, codebook, run: Run, **options):
        from .run import score_replies

        return score_replies(self, database, codebook, run, **options)


ENCODER_OPTIONS = (  # the encoder's runtime, and the calibration of its heads
    Option("backend", "--backend", "int8: the encoder in ONNX Runtime, dynamically quantised, on the CPU: about "
           "1.8x faster at nearly the same quality (docs/benchmarks.md).", type=("fp32", "int8"), default="fp32",
           show_default=True),
    Option("labels_per_reply", "--labels-per-reply", "Zero-shot and few-shot calibration: how many categories a "
           "reply carries on average (default 1.2). Each category's cut is set from the scores of all replies in "
           "scope so that, together, they give about this many labels a reply.", type=float, metavar="N"),
)


class EncoderMethod(ScoringMethod):
    """Heads on the packaged sentence encoder's embeddings (run.py's `encoder_scorer`)."""

    options = ENCODER_OPTIONS
    calibrated = True

    def prepare(self, database, codebook, gold: Gold, run: Run, **options) -> Scorer:
        from .run import encoder_scorer

        return encoder_scorer(self.name, database, codebook, gold, run, **options)


class Auto(EncoderMethod):
    name = "auto"
    summary = "few-shot once every category has 5 reviewed replies, zero-shot before"


class ZeroShot(EncoderMethod):
    name = "zero-shot"
    summary = "heads trained on the codebook's descriptions and examples only"


class FewShot(EncoderMethod):
    name = "few-shot"
    summary = ("the encoder fine-tuned (SetFit-style) on the codebook and the gold labels, its heads averaged "
               "with zero-shot's")


class Nli(ScoringMethod):
    name = "nli"
    summary = "transformers' zero-shot-classification pipeline with an MNLI model (bring your own)"

    def prepare(self, database, codebook, gold: Gold, run: Run, **options) -> Scorer:
        from .nli import NliScorer

        run.report("loading the model", 0, 1)
        scorer = NliScorer(run.model, codebook, run.device)
        run.report("loading the model", 1, 1)
        # no embeddings are cached, so every reply counts as embedded
        return Scorer("nli", scorer.name, lambda texts, on_share: scorer.scores(texts, run.batch_size))


class Llm(Method):
    name = "llm"
    summary = "a language model on an OpenAI-compatible server codes each reply"
    options = (
        Option("llm_base", "--llm-base", "llm: the server's OpenAI-compatible base URL (default REPLIES_LLM_BASE), "
               "e.g. http://127.0.0.1:11434/v1 for Ollama.", type=str, metavar="URL"),
        Option("llm_model", "--llm-model", "llm: the model name the server knows (default REPLIES_LLM_MODEL).",
               type=str, metavar="NAME"),
        Option("concurrency", "--concurrency", "llm: requests in flight at once.", type=int, default=4,
               show_default=True),
        Option("dry_run", "--dry-run", "llm: build every prompt, show one whole, count the replies that would be "
               "sent and why, and estimate the tokens; send nothing."),
        Option("no_examples", "--no-examples", "llm: no reviewed replies as worked examples in the prompt."),
        Option("yes", "--yes", "llm: agree to send reply texts to a server that is not on this machine, and to "
               "send again more than half of the replies already coded (new worked examples, a new codebook)."),
    )

    def run(self, database, codebook, run: Run, *, llm_base: str | None = None, llm_model: str | None = None,
            concurrency: int = 4, dry_run: bool = False, no_examples: bool = False, yes: bool = False):
        """Code every reply in scope on the language-model server the settings (or `llm_base`, `llm_model`)
        name; the result is an `llm.run.LlmResult`."""
        from replies.net.events import Events
        from replies.net.retry import RetryPolicy

        from .embed import CachedEmbedder
        from .llm import check_destination, classify_llm
        from .llm.settings import LlmSettings

        settings = LlmSettings.from_env(run.env(), base=llm_base, model=llm_model)
        warning = check_destination(settings, yes)
        if warning:
            run.say(f"Warning: {warning}")
        retry = run.retry() if run.retry else RetryPolicy(Events())
        return classify_llm(database, codebook, settings, retry=retry, thread=run.thread, redo=run.redo,
                            concurrency=concurrency, dry_run=dry_run, few_shot=not no_examples,
                            progress=run.progress,
                            embedder_factory=lambda: CachedEmbedder(database, run.model, device=run.device),
                            resend_ok=yes, note=run.note)


def _problem(name: str, found: Any) -> str | None:
    if not (isinstance(found, type) and issubclass(found, Method)):
        return f"it names a {type(found).__name__}, not a subclass of replies.classifier.methods.Method"
    if found.name != name:
        return f"its entry point is called {name!r} but the method {found.name!r}"
    return None


_REGISTRY = Registry(GROUP, "classification method", BUILT_IN, _problem, make=lambda cls: cls(),
                     missing=ClassifierError)


def reload() -> None:
    """Read the entry points again (after a distribution was installed into a running process)."""
    _REGISTRY.reload()


def registered() -> dict[str, Method]:
    """Every registered method by name: the built-in ones first, then the others by name."""
    return _REGISTRY.all()


def names() -> tuple[str, ...]:
    """Every method's name, in the order --help lists them."""
    return tuple(registered())


def get(name: str) -> Method:
    """The method called `name`; ClassifierError naming the choices otherwise."""
    try:
        return registered()[name]
    except KeyError:
        raise ClassifierError(f"unknown method {name!r}: choose one of {', '.join(registered())}") from None


def all_options() -> list[Option]:
    """Every method-only option, once each (methods may share one, as the encoder's do), in the methods' order."""
    seen: dict[str, Option] = {}
    for method in registered().values():
        for option in method.options:
            seen.setdefault(option.flag, option)
    return list(seen.values())


def owners(option: str) -> list[str]:
    """The methods that take the option called `option` (its keyword)."""
    return [method.name for method in registered().values() if option in method.takes()]
