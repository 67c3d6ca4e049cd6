"""Quality on the development sets, through the real pipeline (database → classify → JSONL export).

For each codebook (the default lean_nhs, and tests/data/cycling.yaml, an unrelated user
codebook) it loads the labelled replies into a fresh database and reports macro-F1 for
zero-shot, and for few-shot with N gold labels per category (drawn at random, several
draws; F1 is measured on the replies that were not given as gold).

    .venv/bin/python scripts/eval_quality.py [--per-category 8] [--draws 5]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from replies import db
from replies.classifier.codebook import load
from replies.classifier.run import classify
from replies.db.labels import set_gold
from replies.export.records import jsonl_records

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SETS = [(None, DATA / "lean_nhs_dev.jsonl"), (DATA / "cycling.yaml", DATA / "cycling_dev.jsonl")]


def load_set(folder: Path, dataset: Path):
    items = [json.loads(line) for line in dataset.read_text().splitlines() if line.strip()]
    database = db.open_db(folder / "eval.db")
    db.upsert_thread(database, {"platform": "x", "id": "0", "text": "question"})
    db.store_replies(database, [{"platform": "x", "id": str(i), "thread_id": "0", "kind": "reply", "status": "ok",
                                 "text": item["text"]} for i, item in enumerate(items)])
    return database, {str(i): item["labels"] for i, item in enumerate(items)}


def exported(database, book) -> dict:
    return {r["id"]: r for r in jsonl_records(database, book)}


def score(records: dict, book, truth: dict, exclude: set) -> float:
    keys = [k for k in truth if k not in exclude]
    y = np.array([[int(c in truth[k]) for c in book.ids] for k in keys])
    p = np.array([[int(c in records[k]["labels"]) for c in book.ids] for k in keys])
    return float(f1_score(y, p, average="macro", zero_division=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=8)
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args()
    for codebook_path, dataset in SETS:
        book = load(codebook_path)
        with tempfile.TemporaryDirectory() as tmp:
            database, truth = load_set(Path(tmp), dataset)
            classify(database, book, method="zero-shot")
            zero_records = exported(database, book)
            zero = score(zero_records, book, truth, set())
            classify(database, book, method="zero-shot", backend="int8")
            zero_int8 = score(exported(database, book), book, truth, set())
            few, zero_same = [], []
            for draw in range(args.draws):
                rng = random.Random(draw)
                chosen: set[str] = set()
                for c in book.ids:
                    positives = [k for k, labels in truth.items() if c in labels]
                    rng.shuffle(positives)
                    chosen.update(positives[: args.per_category])
                database.execute("delete from gold_labels")
                set_gold(database, [{"platform": "x", "id": k, "codebook": book.name, "reviewer": "eval",
                                     "labels": truth[k]} for k in chosen])
                result = classify(database, book, method="few-shot", redo=True)
                few.append(score(exported(database, book), book, truth, chosen))
                zero_same.append(score(zero_records, book, truth, chosen))
                print(f"  {book.name} draw {draw}: {len(chosen)} gold, few-shot {few[-1]:.3f} against zero-shot "
                      f"{zero_same[-1]:.3f} on the same {len(truth) - len(chosen)} held-out replies "
                      f"(cv on gold: zero-shot {result.cv_zero_shot:.3f}, head {result.cv_few_shot:.3f})")
            print(f"{book.name:<18} {len(truth)} replies  zero-shot macro-F1 {zero:.3f} (int8 backend "
                  f"{zero_int8:.3f})  "
                  f"few-shot ({args.per_category}/category, {args.draws} draws) {np.mean(few):.3f} "
                  f"(min {min(few):.3f}, max {max(few):.3f}; zero-shot on the same held-out replies "
                  f"{np.mean(zero_same):.3f})")


if __name__ == "__main__":
    main()
