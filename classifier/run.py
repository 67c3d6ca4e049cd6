"""`classify`: run a classification method (classifier.methods) over the replies; for the methods that score,
the loop they share (`score_replies`: every category's score and decision stored with its provenance, the
cuts calibrated) and the sentence encoder's scorer (`encoder_scorer`).

Methods:
- zero-shot: heads trained on the codebook's descriptions and examples only;
- few-shot: the encoder fine-tuned (SetFit-style) on the codebook text plus gold
  labels, heads on its embeddings, averaged with the zero-shot heads;
- nli: transformers' zero-shot-classification pipeline with an MNLI model.
With no --method, few-shot is used once every category has MIN_GOLD_PER_CATEGORY gold replies, zero-shot
before (docs/evaluation.md says why no held-out fine-tuning decides it any more).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlite_utils import Database

from replies import __version__
from replies.codebook import Codebook
from replies.db import labels as label_store

from . import methods
from .calibrate import LABELS_PER_REPLY, rank_share_thresholds
from .embed import CachedEmbedder
from .errors import ClassifierError
from .heads import Heads, TrainingSet, codebook_rows, gold_rows, macro_f1

# Without --method, few-shot waits until every category has this many reviewed replies: on fewer its heads
# learn little that the codebook's text did not already say, and the fine-tuning costs a minute or two.
MIN_GOLD_PER_CATEGORY = 5
Progress = Callable[[str, int, int], None]


@dataclass
class ClassifyResult:
    method: str
    model: str
    codebook: str
    codebook_hash: str
    classified: int = 0
    embedded: int = 0
    gold: int = 0
    cv_zero_shot: float | None = None
    cv_few_shot: float | None = None
    note: str | None = None  # one line for the user: why a method was or was not used
    counts: dict[str, int] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)


def _models_dir(database: Database) -> Path:
    path = next((row[2] for row in database.execute("pragma database_list") if row[1] == "main"), "")
    return Path(path).parent / ".replies-models" if path else Path(".replies-models")


def classify(database: Database, codebook: Codebook, *, method: str = "auto", model: str | None = None,
             threshold: float | None = None, thread: tuple[str, str] | None = None, batch_size: int = 64,
             redo: bool = False, device: str | None = None, progress: Progress | None = None,
             encoder=None, **options):
    """Classify replies without a label from this codebook, method and model (all with `redo`), with the
    method called `method` (classifier.methods) and its own `options` (the encoder's `backend` and
    `labels_per_reply`, the language model's `llm_base`, `concurrency`, ...). An option the method does not
    take is refused, unless it is left at nothing.

    `encoder` reuses an already loaded `classifier.model.Encoder` for `model`. `backend` "int8" runs the
    encoder in ONNX Runtime, dynamically quantised, on the CPU (faster; its embeddings are cached apart and the heads are
    trained on them, so scores are recalibrated for it).

    Without `threshold`, zero-shot and few-shot decisions are calibrated on the replies in hand (`calibrate.py`): each
    category's cut comes from the scores of every classified reply in scope (the thread's, with `thread`),
    expecting `labels_per_reply` labels a reply (default 1.2). A fixed `threshold` turns this off.
    """
    chosen = methods.get(method)
    defaults = {option.name: option.default for option in methods.all_options()}
    for name, value in options.items():
        if name not in chosen.takes() and value not in (None, False, defaults.get(name)):
            owners = methods.owners(name)
            raise ClassifierError(f"method {method} does not take {name}" + (
                f" (--method {' or '.join(owners)} does)" if owners else ""))
    run = methods.Run(thread=thread, redo=redo, model=model, device=device, batch_size=batch_size,
                      threshold=threshold, progress=progress, encoder=encoder)
    return chosen.run(database, codebook, run, **{k: v for k, v in options.items() if k in chosen.takes()})


def score_replies(method: methods.ScoringMethod, database: Database, codebook: Codebook, run: methods.Run,
                  **options) -> ClassifyResult:
    """The loop every scoring method shares: score each reply in scope with what `method.prepare` returns,
    store every category's score and decision with their provenance, and calibrate the cuts."""
    threshold = run.threshold
    if threshold is not None and not 0 < threshold < 1:
        raise ClassifierError(f"--threshold {threshold} must be between 0 and 1")
    labels_per_reply = options.get("labels_per_reply")
    if labels_per_reply is not None and not 0 < labels_per_reply <= 5:
        raise ClassifierError(f"--labels-per-reply {labels_per_reply} must be above 0 and at most 5")
    labels_per_reply = labels_per_reply or LABELS_PER_REPLY
    if database.execute("select count(*) from replies where status = 'ok'").fetchone()[0] == 0:
        raise ClassifierError("no replies to classify: harvest a thread first (`replies harvest URL`)")
    progress = run.progress or (lambda stage, done, total: None)
    run = dataclasses.replace(run, progress=progress)  # the method reports through it too; the caller's stays
    thread, redo, batch_size = run.thread, run.redo, run.batch_size
    codebook.remember(database)
    k = len(codebook.categories)

    reviewed = label_store.gold(database, codebook.name)
    gold_texts = label_store.texts_for(database, reviewed)
    gold = methods.Gold(reviewed, gold_texts, [key for key in reviewed if key in gold_texts])
    scorer = method.prepare(database, codebook, gold, run, **options)
    score, embedded = scorer.score, scorer.embedded
    result = ClassifyResult(method=scorer.method, model=scorer.model, codebook=codebook.name,
                            codebook_hash=codebook.hash, gold=len(gold.keys), cv_zero_shot=scorer.cv_zero_shot,
                            note=scorer.note)

    thresholds = np.full(k, threshold if threshold is not None else methods.get(result.method).threshold)
    result.thresholds = {c: float(t) for c, t in zip(codebook.ids, thresholds)}
    run_id = label_store.start_classify_run(database, codebook=codebook.name, codebook_hash=codebook.hash,
                                            method=result.method, model=result.model,
                                            thresholds=json.dumps(result.thresholds), gold=result.gold,
                                            cv_zero_shot=result.cv_zero_shot, cv_few_shot=result.cv_few_shot,
                                            tool_version=__version__)
    total = _count_pending(database, codebook.hash, result, thread, redo)
    done = 0
    ids, digest = codebook.ids, codebook.hash
    # chunks of 64 model batches, each chunk sorted by token count inside the encoder: large enough that
    # padding is near a global sort, small enough that memory stays flat
    for batch in label_store.replies_to_classify(database, codebook.hash, thread=thread, redo=redo,
                                                 method=result.method, model=result.model,
                                                 batch=batch_size * 64):
        # the bar moves with each model batch embedded, not only once a chunk of 4,096 replies is stored
        scores = score([row["text"] for row in batch],
                       lambda share, start=done, n=len(batch): progress("classifying", start + int(share * n), total))
        passed = scores >= thresholds
        label_store.write_predictions(database, (
            {"platform": row["platform"], "id": row["id"], "codebook": codebook.name,
             "codebook_hash": digest, "category": cid, "score": scores[i, j], "predicted": passed[i, j],
             "threshold": thresholds[j], "method": result.method, "model": result.model}
            for i, row in enumerate(batch) for j, cid in enumerate(ids)))
        done += len(batch)
        progress("classifying", done, total)
    result.classified = done
    if threshold is None and methods.get(result.method).calibrated and done:
        result.thresholds = _calibrate(database, codebook, result, thread, labels_per_reply)
        label_store.finish_classify_run(database, run_id, thresholds=json.dumps(result.thresholds))
    result.embedded = embedded() if embedded else done
    result.counts = category_counts(database, codebook)
    label_store.finish_classify_run(database, run_id, replies=done, embedded=result.embedded)
    return result


def gold_shortfall(codebook: Codebook, gold: TrainingSet) -> str | None:
    """None when every category has MIN_GOLD_PER_CATEGORY reviewed replies; else which need how many more."""
    counts = gold.targets.sum(axis=0) if len(gold.texts) else [0] * len(codebook.ids)
    missing = {c: MIN_GOLD_PER_CATEGORY - int(n) for c, n in zip(codebook.ids, counts) if n < MIN_GOLD_PER_CATEGORY}
    if not missing:
        return None
    total = sum(missing.values())
    listed = ", ".join(f"{c} {n}" for c, n in list(missing.items())[:4]) + (" ..." if len(missing) > 4 else "")
    return f"{total} more labels needed ({listed})"


def encoder_scorer(method: str, database: Database, codebook: Codebook, gold: methods.Gold, run: methods.Run, *,
                   backend: str = "fp32", labels_per_reply: float | None = None) -> methods.Scorer:
    """Zero-shot or few-shot on the sentence encoder; `auto`: few-shot once the gold suffices."""
    model, device, encoder, batch_size, threshold = run.model, run.device, run.encoder, run.batch_size, run.threshold
    progress = run.progress
    labels_per_reply = labels_per_reply or LABELS_PER_REPLY
    reviewed, gold_texts, keys = gold.reviewed, gold.texts, gold.keys
    cv_zero_shot, note = None, None
    base = CachedEmbedder(database, model, device=device, encoder=encoder, backend=backend, progress=progress)
    base_rows = codebook_rows(codebook)
    base_vectors = base.embed(base_rows.texts, batch_size, stage="embedding the codebook")
    chosen = "zero-shot" if method == "auto" else method
    gold_set = gold_rows(codebook, [gold_texts[key] for key in keys], [reviewed[key] for key in keys])
    # Heads are trained on first use: a rerun with nothing new to classify never imports scikit-learn.
    zero_shot = functools.cache(lambda: Heads(base_vectors, base_rows))
    if keys:
        # each method as it would decide: calibrated on unlabelled scores, here the gold replies' own
        # (a sample of the thread; their labels are not read for it), unless a threshold is fixed
        def decide(scores: np.ndarray) -> np.ndarray:
            if threshold is not None:
                return scores >= threshold
            return scores >= rank_share_thresholds(scores, labels_per_reply)

        zero_gold = zero_shot().scores(base.embed(gold_set.texts, batch_size, stage="embedding the gold"))
        cv_zero_shot = macro_f1(gold_set.targets, decide(zero_gold).astype(int))
        short = gold_shortfall(codebook, gold_set)
        if short and method == "auto":
            note = (f"zero-shot: few-shot waits until every category has {MIN_GOLD_PER_CATEGORY} reviewed "
                           f"replies; {short}")
        elif short:
            note = f"few-shot on little gold: {short}; its figures will be rough"
        if method == "auto" and not short:
            # no held-out fine-tuning to decide: it cost two fine-tunings more and, on the dev rows, chose no
            # better than few-shot always (docs/evaluation.md, "How classify chooses")
            chosen = "few-shot"
    elif method == "few-shot":
        raise ClassifierError("few-shot needs gold labels: add some with `replies label` or "
                              "`replies import-labels`, or use --method zero-shot")
    if chosen == "few-shot":
        training = base_rows + gold_set
        embedder = _finetuned(database, base, training, codebook, progress)
        tuned = functools.cache(lambda: Heads(embedder.embed(training.texts, batch_size,
                                                             stage="embedding the codebook and gold, fine-tuned"),
                                              training))
        # The mean of the fine-tuned heads and the zero-shot heads: steadier than either alone across
        # gold draws, and never far below zero-shot on a codebook where the gold helps little (docs/evaluation.md).
        models = ((embedder, tuned), (base, zero_shot))
    else:
        embedder = base
        models = ((base, zero_shot),)
    embedded = [0]

    def score(texts: list[str], on_share: Callable[[float], None]) -> np.ndarray:
        """The method's scores for `texts`; `on_share` hears what share of their embedding is done."""
        trained = [heads() for _, heads in models]  # first (on texts of their own): the bar is not held up
        todo = [model.missing(texts) for model, _ in models]
        before = embedder.computed
        total, out, finished = max(1, sum(todo)), [], 0
        for (model, _), heads, n in zip(models, trained, todo):
            vectors = model.embed(texts, batch_size, on_batch=lambda d, f=finished: on_share((f + d) / total))
            finished += n
            out.append(heads.scores(vectors))
        on_share(1.0)
        embedded[0] += embedder.computed - before
        return sum(out) / len(out)

    return methods.Scorer(chosen, embedder.key, score, lambda: embedded[0], note=note, cv_zero_shot=cv_zero_shot)




def _calibrate(database: Database, codebook: Codebook, result: ClassifyResult, thread: tuple[str, str] | None,
               labels_per_reply: float) -> dict[str, float]:
    """Per-category thresholds from every stored score in scope, applied to all of them."""
    scope = dict(method=result.method, model=result.model, thread=thread)
    scores = np.array(label_store.prediction_scores(database, codebook.hash, codebook.ids, **scope),
                      dtype=np.float64).reshape(-1, len(codebook.ids))
    cuts = rank_share_thresholds(scores, labels_per_reply)
    thresholds = {c: round(float(t), 6) for c, t in zip(codebook.ids, cuts)}
    label_store.set_thresholds(database, codebook.hash, thresholds, **scope)
    return thresholds


def _count_pending(database, codebook_hash, result, thread, redo) -> int:
    return sum(len(b) for b in label_store.replies_to_classify(database, codebook_hash, thread=thread, redo=redo,
                                                               method=result.method, model=result.model,
                                                               ids_only=True))


def _training_digest(*inputs) -> str:
    """A short name for what fine-tuning results depend on, for the files kept beside the database."""
    return hashlib.sha256(json.dumps(list(inputs)).encode()).hexdigest()[:12]


def _finetuned(database: Database, base: CachedEmbedder, training, codebook: Codebook,
               progress: Progress) -> CachedEmbedder:
    """The encoder fine-tuned on this codebook and gold, trained once and kept beside the database.

    Training always runs in fp32 on a fresh copy of the base model; with the int8 backend the saved
    model is quantised for inference.
    """
    # the trained weights depend on the base model, codebook, gold and recipe, not on the inference backend
    from .finetune import RECIPE
    digest = _training_digest(base.base_name, codebook.hash, training.texts, training.targets.tolist(), RECIPE)
    key = f"{base.key}+setfit-{digest}"
    folder = _models_dir(database) / f"setfit-{digest}"
    trained = None
    if not folder.exists():
        from .finetune import finetune
        from .model import Encoder
        # A fresh copy: training changes weights in place, and the base encoder (perhaps the caller's)
        # must keep producing base embeddings for its cache key.
        progress("loading the model", 0, 1)
        trainer = Encoder(base.model, device=base.device)
        progress("loading the model", 1, 1)
        folder.parent.mkdir(parents=True, exist_ok=True)
        finetune(trainer, training.texts, training.targets, folder,
                 progress=lambda done, total: progress("fine-tuning", done, total))
        if base.backend == "fp32":
            trained = trainer  # holds the fine-tuned weights: reuse it rather than reload
    return CachedEmbedder(database, str(folder), cache_key=key, encoder=trained, device=base.device,
                          backend=base.backend, progress=progress)


def category_counts(database: Database, codebook: Codebook) -> dict[str, int]:
    rows = dict(database.execute(
        "select category, sum(predicted) from predictions where codebook_hash = ? group by category",
        [codebook.hash]).fetchall())
    return {cid: int(rows.get(cid) or 0) for cid in codebook.ids}
