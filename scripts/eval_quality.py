"""Quality through the real pipeline (database → classify → JSONL export), on every labelled set.

Sets: the independent ones in ../shared/eval (written by another hand for this purpose, each row marked
`split: dev|test`): the lean NHS replies for the default codebook and the incident-reporting replies for
their own codebook; then the project's own development sets (tests/data), written with the codebook in mind.

For each set the labelled replies are loaded into a fresh database as one thread and classified; zero-shot
and few-shot decisions are calibrated on all of that thread's replies (no labels are read: calibrate.py). Macro-F1 is
measured on the `--part` rows (test by default; the project's own sets have no split and are measured
whole). Few-shot draws N gold replies per category from the dev rows (from all rows for the own sets, then
measured on the rest), several draws, and reports the mean and range.

    .venv/bin/python scripts/eval_quality.py [--part test|dev] [--per-category 8] [--draws 5] [--sets lean,...]

(`--draws 0` measures zero-shot, fp32 and int8, alone; `--model FOLDER` measures another encoder; `--auto`
also runs `classify` without --method on each draw and scores the method it chose.)
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

from replies import db
from replies.classifier.run import classify
from replies.codebook import load
from replies.db.labels import set_gold
from replies.export.records import jsonl_records

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
EVAL = ROOT.parent / "shared" / "eval"
SETS = {
    "lean": ("lean_nhs, shared/eval", None, EVAL / "lean_nhs_public.jsonl"),
    "incident": ("incident_reporting, shared/eval", EVAL / "incident_reporting.codebook.yaml",
                 EVAL / "incident_reporting_public.jsonl"),
    "lean_own": ("lean_nhs, own dev set", None, DATA / "lean_nhs_dev.jsonl"),
    "cycling_own": ("cycling, own dev set", DATA / "cycling.yaml", DATA / "cycling_dev.jsonl"),
}


def labelled_sets(names: str):
    """(name, title, codebook, file) of each set named (comma-separated) that is here; one missing is said."""
    for name in names.split(","):
        title, codebook_path, dataset = SETS[name]
        if not dataset.exists():
            print(f"{title}: {dataset} not found, skipped")
            continue
        yield name, title, load(codebook_path), dataset


def read_items(dataset: Path) -> list[dict]:
    """The labelled rows of a set's JSONL file (text, labels, and split where it has one)."""
    return [json.loads(line) for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_set(folder: Path, dataset: Path):
    items = read_items(dataset)
    database = db.open_db(folder / "eval.db")
    db.upsert_thread(database, {"platform": "x", "id": "0", "text": "question"})
    db.store_replies(database, [{"platform": "x", "id": str(i), "thread_id": "0", "kind": "reply", "status": "ok",
                                 "text": item["text"]} for i, item in enumerate(items)])
    truth = {str(i): item["labels"] for i, item in enumerate(items)}
    split = {str(i): item.get("split") for i, item in enumerate(items)}
    return database, truth, split


def gold_draw(book, truth: dict, pool: list[str], per_category: int, seed: int) -> set[str]:
    """`per_category` replies of `pool` drawn for each category (seeded): the gold a few-shot draw learns from."""
    rng = random.Random(seed)
    chosen: set[str] = set()
    for c in book.ids:
        positives = [k for k in pool if c in truth[k]]
        rng.shuffle(positives)
        chosen.update(positives[:per_category])
    return chosen


def exported(database, book) -> dict:
    return {r["id"]: r for r in jsonl_records(database, book)}


def matrices(records: dict, book, truth: dict, keys: list[str]):
    y = np.array([[int(c in truth[k]) for c in book.ids] for k in keys])
    p = np.array([[int(c in records[k]["labels"]) for c in book.ids] for k in keys])
    return y, p


def score(records: dict, book, truth: dict, keys: list[str]) -> float:
    return float(f1_score(*matrices(records, book, truth, keys), average="macro", zero_division=0))


def per_category(records: dict, book, truth: dict, keys: list[str]) -> str:
    y, p = matrices(records, book, truth, keys)
    precision, recall, f1, support = precision_recall_fscore_support(y, p, zero_division=0)
    return "\n".join(f"    {c:<26} P {pr:.2f}  R {r:.2f}  F1 {f:.2f}  ({int(p[:, i].sum())} given, {s} true)"
                     for i, (c, pr, r, f, s) in enumerate(zip(book.ids, precision, recall, f1, support)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["test", "dev"], default="test")
    parser.add_argument("--per-category", type=int, default=8)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--first-draw", type=int, default=0, help="the seed of the first draw (more draws later)")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--model", help="another encoder (a local folder), as `classify --model`")
    parser.add_argument("--no-int8", action="store_true", help="leave out the int8 backend's figure")
    parser.add_argument("--auto", action="store_true",
                        help="also score what `classify` without --method chooses on each draw")
    parser.add_argument("--few-shot-fixed", action="store_true",
                        help="experiment: few-shot decided at a fixed 0.5 instead of calibrated")
    args = parser.parse_args()
    if args.few_shot_fixed:
        from replies.classifier import methods
        methods.get("few-shot").calibrated = False  # this run's registered few-shot only
    for name, title, book, dataset in labelled_sets(args.sets):
        with tempfile.TemporaryDirectory() as tmp:
            database, truth, split = load_set(Path(tmp), dataset)
            has_split = any(split.values())
            measured = [k for k in truth if not has_split or split[k] == args.part]
            pool = [k for k in truth if not has_split or split[k] == "dev"]
            model = {"model": args.model} if args.model else {}
            classify(database, book, method="zero-shot", threshold=0.5, **model)
            fixed = score(exported(database, book), book, truth, measured)
            classify(database, book, method="zero-shot", redo=True, **model)
            zero_records = exported(database, book)
            zero = score(zero_records, book, truth, measured)
            zero_int8 = None
            if not args.no_int8:
                classify(database, book, method="zero-shot", backend="int8", **model)
                zero_int8 = score(exported(database, book), book, truth, measured)
            few, zero_same, auto = [], [], []
            for draw in range(args.first_draw, args.first_draw + args.draws):
                chosen = gold_draw(book, truth, pool, args.per_category, draw)
                held_out = [k for k in measured if k not in chosen]
                database.execute("delete from gold_labels")
                set_gold(database, [{"platform": "x", "id": k, "codebook": book.name, "reviewer": "eval",
                                     "labels": truth[k]} for k in chosen])
                classify(database, book, method="few-shot", redo=True, **model)
                few.append(score(exported(database, book), book, truth, held_out))
                zero_same.append(score(zero_records, book, truth, held_out))
                line = (f"  {name} draw {draw}: {len(chosen)} gold, few-shot {few[-1]:.3f} against zero-shot "
                        f"{zero_same[-1]:.3f} on the same {len(held_out)} replies")
                if args.auto:
                    result = classify(database, book, redo=True, **model)  # the kept fine-tuned model is reused
                    auto.append((result.method, score(exported(database, book), book, truth, held_out)))
                    line += f"; auto chose {result.method} (zero-shot on the gold: {result.cv_zero_shot:.3f})"
                print(line, flush=True)
            part = f"{args.part} part, {len(measured)} replies" if has_split else f"all {len(measured)} replies"
            few_text = (f"; few-shot ({args.per_category}/category, {args.draws} draws) {np.mean(few):.3f} "
                        f"(min {min(few):.3f}, max {max(few):.3f}; zero-shot on the same replies "
                        f"{np.mean(zero_same):.3f})") if few else ""
            if auto:
                chose = sum(method == "few-shot" for method, _ in auto)
                few_text += f"; auto {np.mean([f for _, f in auto]):.3f} (few-shot chosen in {chose} of {len(auto)})"
            int8_text = f"; int8 {zero_int8:.3f}" if zero_int8 is not None else ""
            print(f"{title} ({part}){f' [{args.model}]' if args.model else ''}: zero-shot macro-F1 {zero:.3f} "
                  f"calibrated (fixed 0.5: {fixed:.3f}{int8_text}){few_text}")
            print(per_category(zero_records, book, truth, measured))


if __name__ == "__main__":
    main()
