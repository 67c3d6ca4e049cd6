"""What the packaged encoder can reach when most of the answers are given: supervised ceilings for the classification targets.

Zero-shot sees no labelled reply and few-shot sees 8 a category; both are bounded by what the same encoder
does when it is trained on most of the labelled replies. For each labelled set, 5-fold cross-validation over
all its rows (each fold trained on the codebook's text plus the other 80% of the replies with their labels,
scored on the 20% held out), with the code `classify` runs:

- frozen: heads on the frozen encoder's embeddings (`heads.Heads`), as zero-shot scores, averaged over 3
  shufflings of the folds;
- fine-tuned (`--fine-tune`): the encoder fine-tuned with few-shot's recipe on each fold
  (`finetune.held_out_scores`, 5 folds), its heads alone, and averaged with the zero-shot heads as
  few-shot does. About 3 to 5 minutes a fold on two CPU cores.

Each is decided three ways: calibrated on the set's own scores as `classify` does (`calibrate.py`), at a
fixed 0.5, and at each category's best cut read off the answers (an optimistic bound no method can use).
The rows' split is ignored: this measures the encoder, not a method, and no choice is made on it.

    .venv/bin/python scripts/eval_ceiling.py [--sets lean,incident,...] [--fine-tune]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold

from replies.classifier.calibrate import rank_share_thresholds
from replies.classifier.heads import Heads, codebook_rows, gold_rows

# the labelled sets, as eval_quality.py reads them (scripts/ is on sys.path when a script in it runs)
from eval_quality import SETS, labelled_sets, read_items  # isort: skip

FOLDS = 5
CUTS = np.linspace(0.05, 0.95, 91)


def decided(y: np.ndarray, scores: np.ndarray) -> str:
    calibrated = f1_score(y, scores >= rank_share_thresholds(scores), average="macro", zero_division=0)
    fixed = f1_score(y, scores >= 0.5, average="macro", zero_division=0)
    best = np.mean([max(f1_score(y[:, j], scores[:, j] >= t, zero_division=0) for t in CUTS)
                    for j in range(y.shape[1])])
    return f"calibrated {calibrated:.3f}, fixed 0.5 {fixed:.3f}, best cut per category {best:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--fine-tune", action="store_true", help="also the fine-tuned ceiling (minutes a fold)")
    args = parser.parse_args()
    from replies.classifier.model import Encoder
    encoder = Encoder()
    for _, title, book, dataset in labelled_sets(args.sets):
        items = read_items(dataset)
        texts = [item["text"] for item in items]
        y = np.array([[int(c in item["labels"]) for c in book.ids] for item in items])
        rows = codebook_rows(book)
        book_vectors, vectors = encoder.encode(rows.texts), encoder.encode(texts)
        zero = Heads(book_vectors, rows).scores(vectors)
        print(f"{title} (all {len(items)} replies, {FOLDS}-fold):")
        print(f"  zero-shot, no labels: {decided(y, zero)}")
        frozen = np.zeros(y.shape)
        for shuffle in range(3):
            for train, test in KFold(FOLDS, shuffle=True, random_state=shuffle).split(texts):
                gold = gold_rows(book, [texts[i] for i in train], [items[i]["labels"] for i in train])
                heads = Heads(np.vstack([book_vectors, vectors[train]]), rows + gold)
                frozen[test] += heads.scores(vectors[test]) / 3
        print(f"  frozen encoder, heads on 80% of the labels: {decided(y, frozen)}", flush=True)
        if args.fine_tune:
            from replies.classifier.finetune import held_out_scores
            started = time.perf_counter()
            gold = gold_rows(book, texts, [item["labels"] for item in items])
            tuned = held_out_scores(None, encoder.device, rows, gold, folds=FOLDS)
            print(f"  fine-tuned on 80% of the labels, its heads alone: {decided(y, tuned)}")
            print(f"  fine-tuned on 80% of the labels, averaged with zero-shot (as few-shot): "
                  f"{decided(y, (tuned + zero) / 2)}  ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
