"""How `replies estimate` holds up on labelled replies: coverage, width and bias of its intervals over many
random samples, through the real pipeline (database → zero-shot classify → sample → estimate).

Each set's rows are stored as two threads, its dev and its test rows (the project's own sets, which have no
split, as one), and classified zero-shot together, calibrated on all of them (no label is read). Every row's
labels are then stored as a reviewer's codes, and the part's thread is sampled again and again (`draw`, seeds
0, 1, ...): each sample's members are thereby coded and nothing else is read from the labels, so each draw is
what a researcher who coded `--size` random replies would get. For each category: the true share of the part,
how often the interval held it (coverage), the mean width, the width against the human-only intervals on the
same coded replies (Wald with the finite-population correction, the yardstick of the targets; and the Wilson
interval `estimate` prints beside its own), and the bias (mean estimate − true share).

    .venv/bin/python scripts/eval_estimate.py [--part dev|test] [--draws 1000] [--size 40] [--sets lean,...]

With `--designs`, the sample designs of `designs_sim.py` instead (simple, stratified on the model's uncertainty,
probability-proportional to it, and the same two driven by each reply's true error, the bound), compared at
equal n (`--sizes`, default 20,40,80) on both parts; a size too large for a part (more than 90% of it) is
measured on the two parts together:

    .venv/bin/python scripts/eval_estimate.py --designs [--draws 1000] [--sizes 20,40,80] [--method few-shot]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from designs_sim import compare, line  # noqa: E402
from eval_quality import SETS, labelled_sets, read_items  # noqa: E402

from replies import db  # noqa: E402
from replies.classifier.run import classify  # noqa: E402
from replies.db import samples as sample_store  # noqa: E402
from replies.db.labels import set_gold  # noqa: E402
from replies.estimate.draw import draw  # noqa: E402
from replies.estimate.intervals import wald_human  # noqa: E402
from replies.estimate.shares import estimate  # noqa: E402

CODER = "eval"


def store_parts(folder: Path, dataset: Path):
    """A database holding the set as threads x:dev and x:test (x:all without a split), nothing classified or
    coded; with each row's labels by id, and the parts."""
    items = read_items(dataset)
    database = db.open_db(folder / "eval.db")
    parts = sorted({item.get("split") or "all" for item in items})
    for part in parts:
        db.upsert_thread(database, {"platform": "x", "id": part, "text": "question"})
    db.store_replies(database, [{"platform": "x", "id": str(i), "thread_id": item.get("split") or "all",
                                 "kind": "reply", "status": "ok", "text": item["text"]}
                                for i, item in enumerate(items)])
    truth = {str(i): set(item["labels"]) for i, item in enumerate(items)}
    return database, truth, parts


def load(folder: Path, dataset: Path, book):
    """The set stored as its parts' threads (`store_parts`), classified zero-shot, every row coded."""
    database, truth, parts = store_parts(folder, dataset)
    classify(database, book, method="zero-shot")
    set_gold(database, [{"platform": "x", "id": i, "codebook": book.name, "reviewer": CODER,
                         "labels": sorted(labels)} for i, labels in truth.items()])
    return database, truth, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["test", "dev"], default="test")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--size", type=int, default=40)
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--designs", action="store_true", help="compare the sample designs (designs_sim.py)")
    parser.add_argument("--sizes", default="20,40,80", help="with --designs: the sample sizes")
    parser.add_argument("--method", choices=["zero-shot", "few-shot"], default="zero-shot",
                        help="with --designs: whose scores (few-shot: fine-tuned on 8 dev replies a category)")
    args = parser.parse_args()
    if args.designs:
        compare_designs(args)
        return
    for name, title, book, dataset in labelled_sets(args.sets):
        with tempfile.TemporaryDirectory() as tmp:
            database, truth, parts = load(Path(tmp), dataset, book)
            part = args.part if args.part in parts else "all"
            population, _ = sample_store.population(database, ("x", part))
            true_share = np.array([[c in truth[i] for c in book.ids] for _, i in population]).mean(axis=0)
            rows = []  # per draw: (estimate, low, high, wald width, wilson width) per category
            for seed in range(args.draws):
                drawn = draw(database, size=args.size, seed=seed, name=f"draw-{seed}", thread=("x", part))
                result = estimate(database, book, sample=drawn.name, level=args.level, reviewer=CODER)
                codes = np.array([[c in truth[i] for c in book.ids] for _, i in drawn.members], dtype=float).T
                wald_low, wald_high = wald_human(codes, len(population), args.level)
                rows.append([[c.estimate, c.low, c.high, wald_high[j] - wald_low[j],
                              c.human_only["high"] - c.human_only["low"]]
                             for j, c in enumerate(result.categories)])
            report(title, part, len(population), args, book, np.array(rows), true_share)


def compare_designs(args) -> None:
    """The designs at equal n on each set's parts (the union of both where n is more than 90% of a part)."""
    from eval_designs import load_few_shot, scores_and_codes

    sizes = [int(size) for size in args.sizes.split(",")]
    for name, title, book, dataset in labelled_sets(args.sets):
        with tempfile.TemporaryDirectory() as tmp:
            loader = load_few_shot if args.method == "few-shot" else load
            database, truth, parts = loader(Path(tmp), dataset, book)
            populations = {part: scores_and_codes(database, book, truth, part) for part in parts}
        if len(parts) > 1:
            populations[" + ".join(parts)] = tuple(np.concatenate([populations[p][k] for p in parts])
                                                   for k in range(2))
        for part, (scores, codes) in populations.items():
            for size in sizes:
                fits = size <= 0.9 * len(codes)
                if not fits or (part not in parts and all(size <= 0.9 * len(populations[p][1]) for p in parts)):
                    continue  # too large for this population, or measured on each part already
                figures = compare(scores, codes, size, args.draws, level=args.level, oracle=True)
                print(f"{title}, {part}, {args.method} scores: {len(codes)} replies, n = {size}, {args.draws} "
                      f"draws\n  " + line(figures).replace(" | ", "\n  "), flush=True)


def report(title: str, part: str, population: int, args, book, rows: np.ndarray, true_share: np.ndarray) -> None:
    """Print per category and pooled figures for one set; rows: draws × categories × 5."""
    est, low, high, wald, wilson = (rows[..., k] for k in range(5))
    covered = (low <= true_share + 1e-12) & (true_share <= high + 1e-12)
    width = high - low
    print(f"{title}, {part} part: {population} replies, {args.draws} samples of {args.size} coded, "
          f"{100 * args.level:g}% intervals")
    print(f"  {'category':<26} {'share':>6} {'coverage':>9} {'width':>6} {'vs Wald':>8} {'vs Wilson':>10} {'bias':>7}")
    for j, category in enumerate(book.ids):
        print(f"  {category:<26} {true_share[j]:>6.3f} {covered[:, j].mean():>9.3f} {width[:, j].mean():>6.3f} "
              f"{width[:, j].mean() / wald[:, j].mean():>8.2f} {width[:, j].mean() / wilson[:, j].mean():>10.2f} "
              f"{est[:, j].mean() - true_share[j]:>+7.3f}")
    pooled = covered.mean()
    worst = covered.mean(axis=0).min()
    ratio = width.mean() / wald.mean()
    bias = np.abs(est.mean(axis=0) - true_share).max()
    print(f"  pooled: coverage {pooled:.3f} (lowest category {worst:.3f}), mean width {width.mean():.3f}, "
          f"{ratio:.3f}x the human-only Wald width ({width.mean() / wilson.mean():.3f}x the human-only Wilson "
          f"width), largest |bias| {bias:.3f}")
    checks = [("pooled coverage >= 0.92", pooled >= 0.92), ("every category >= 0.83", worst >= 0.83),
              ("|bias| <= 0.04", bias <= 0.04), ("width <= 0.90x Wald", ratio <= 0.90)]
    print("  targets: " + ", ".join(f"{text} {'met' if ok else 'NOT met'}" for text, ok in checks))


if __name__ == "__main__":
    main()
