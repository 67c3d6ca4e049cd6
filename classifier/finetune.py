"""SetFit-style contrastive fine-tuning of the encoder on the codebook's text and gold labels.

Pairs of texts that share a category are pulled together and pairs that share
none pushed apart (cosine similarity regressed to 1 or 0), for one epoch of 20
pairs per text. Pairs are batched by length (a batch of short texts is not padded
to a long one's length; the batches' order stays random) and both sides of a batch
go through the encoder in one pass. With about eight labelled replies per category
this runs in about a minute and a half on two CPU cores and lifts few-shot quality
above a head on the frozen encoder.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np

from replies.files import atomic_folder

from .errors import ModelError
from .heads import Heads, TrainingSet
from .model import Encoder, mean_pool

PAIRS_PER_TEXT = 20  # 10 was half as slow and worse on both shared/eval dev parts (docs/evaluation.md, Quality)
LEARNING_RATE = 2e-5
BATCH = 16
# what a kept fine-tuned model was trained with: a change retrains rather than reusing the old one
RECIPE = {"pairs_per_text": PAIRS_PER_TEXT, "learning_rate": LEARNING_RATE, "batch": BATCH, "epochs": 1,
          "batching": "by length"}
# Held-out folds for measuring fine-tuning on gold (scripts/eval_ceiling.py): each costs most of one fine-tuning
CV_FOLDS = 2
# how the gold is dealt into those folds (`dealt_order`): part of the kept held-out scores' key
CV_SPLIT = "first category, then text hash"


def make_pairs(targets: np.ndarray, seed: int = 0) -> list[tuple[int, int, float]]:
    rng = random.Random(seed)
    label_sets = [set(np.nonzero(row == 1)[0]) for row in targets]
    pairs = []
    for a, labels in enumerate(label_sets):
        if not labels:
            continue
        positives = [b for b in range(len(label_sets)) if b != a and labels & label_sets[b]]
        negatives = [b for b in range(len(label_sets)) if label_sets[b] and not labels & label_sets[b]]
        for _ in range(PAIRS_PER_TEXT // 2):
            if positives:
                pairs.append((a, rng.choice(positives), 1.0))
            if negatives:
                pairs.append((a, rng.choice(negatives), 0.0))
    rng.shuffle(pairs)
    return pairs


def length_batches(pairs: list, lengths: list[int], size: int, seed: int = 0) -> list[list]:
    """`pairs` in batches of `size` whose texts are of like length, the batches in random order: padding to a
    batch's longest text is most of the work on short replies, and random batches pad ~2x the real tokens."""
    rng = random.Random(seed)
    ranked = sorted(pairs, key=lambda pair: (max(lengths[pair[0]], lengths[pair[1]]), rng.random()))
    batches = [ranked[start:start + size] for start in range(0, len(ranked), size)]
    rng.shuffle(batches)
    return batches


def finetune(encoder: Encoder, texts: list[str], targets: np.ndarray, out_dir: Path | None, *, seed: int = 0,
             progress=None) -> Path | None:
    """Fine-tune `encoder` in place on (texts, targets) and save it to `out_dir` (unless None)."""
    torch = encoder.torch
    torch.manual_seed(seed)
    pairs = make_pairs(targets, seed)
    model, tokenizer = encoder.model, encoder.tokenizer
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)

    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"]]
    batches = length_batches(pairs, lengths, BATCH, seed)
    done = 0
    for batch in batches:
        # both sides in one pass: one padded tensor, one forward and backward instead of two
        tokens = tokenizer([texts[a] for a, _, _ in batch] + [texts[b] for _, b, _ in batch], padding=True,
                           truncation=True, max_length=128, return_tensors="pt").to(encoder.device)
        vectors = mean_pool(model(**tokens).last_hidden_state, tokens["attention_mask"])
        left, right = vectors[:len(batch)], vectors[len(batch):]
        target = torch.tensor([t for *_, t in batch], device=encoder.device)
        loss = torch.nn.functional.mse_loss((left * right).sum(1), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        done += len(batch)
        if progress:
            progress(done, len(pairs))
    model.eval()
    if out_dir is None:
        return None
    # a folder of its own, renamed into place whole: a crash leaves no half-written model under the
    # final name, and two runs training the same model at once do not write into one folder
    try:
        with atomic_folder(out_dir, error=ModelError) as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
    except (OSError, ModelError):
        if not out_dir.is_dir():
            raise
        # another run kept the same model first: this copy is dropped and that one used
    return out_dir


def dealt_order(texts: list[str], targets: np.ndarray) -> np.ndarray:
    """Gold replies ranked by their first category, then by a hash of their text. Dealt round the folds in
    this order, each fold holds about its share of every category, and the same gold gives the same folds
    (and the same fine-tuning) whatever order it was labelled in."""
    known = targets == 1
    first = np.where(known.any(axis=1), known.argmax(axis=1), targets.shape[1])
    return np.array(sorted(range(len(texts)), key=lambda i: (
        int(first[i]), hashlib.sha256(texts[i].encode("utf-8")).hexdigest(), targets[i].tolist())), dtype=int)


def held_out_scores(model: str | None, device: str | None, codebook_set: TrainingSet, gold: TrainingSet, *,
                    folds: int = CV_FOLDS, seed: int = 0, batch_size: int = 64, progress=None) -> np.ndarray:
    """Each gold reply's few-shot head scores from an encoder fine-tuned without it: the gold is dealt into
    `folds` (`dealt_order`), and for each, a fresh copy of `model` is fine-tuned on the codebook and the other
    folds, its heads trained on their embeddings, and the held-out fold scored. Nothing is saved."""
    n = len(gold.texts)
    folds = max(1, min(folds, n))
    order = dealt_order(gold.texts, gold.targets)
    scores = np.zeros(gold.targets.shape, dtype=float)
    for fold in range(folds):
        test = order[fold::folds]
        train = np.delete(order, np.s_[fold::folds])
        training = codebook_set + TrainingSet([gold.texts[i] for i in train], gold.targets[train],
                                              gold.weights[train])
        encoder = Encoder(model, device=device)
        finetune(encoder, training.texts, training.targets, None, seed=seed,
                 progress=progress and (lambda done, total, fold=fold: progress(fold * total + done,
                                                                                 folds * total)))
        vectors = encoder.encode(training.texts + [gold.texts[i] for i in test], batch_size)
        scores[test] = Heads(vectors[:len(training.texts)], training).scores(vectors[len(training.texts):])
    return scores
