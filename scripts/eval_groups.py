"""How `replies estimate --by` and `--compare` hold up on labelled replies: coverage and width of each group's
interval and of the difference between two groups, over many random samples, through the real pipeline
(database -> zero-shot classify -> sample -> estimate).

The labelled sets have no platforms, so each part (dev or test) is split into two groups stored as two platforms:
`half` puts each reply in one of two groups by a hash of its id (groups alike, as two platforms asked the same
question may be), `length` by whether its text is longer than the part's median (groups that differ: long
replies name more obstacles). Every row's labels are stored as a reviewer's codes; each draw's members are
thereby coded and nothing else is read from the labels. Per group and category: the true share, the coverage
of the group's interval and its mean width; per category: the true difference and the coverage of its
interval; pooled over both.

    .venv/bin/python scripts/eval_groups.py [--part dev|test] [--draws 500] [--size 40] [--sets lean,incident]
        [--grouping half|length]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_quality import labelled_sets, read_items  # noqa: E402

from replies import db  # noqa: E402
from replies.classifier.run import classify  # noqa: E402
from replies.db.labels import set_gold  # noqa: E402
from replies.db.samples import PopulationRule  # noqa: E402
from replies.estimate.draw import draw  # noqa: E402
from replies.estimate.shares import estimate  # noqa: E402

CODER = "eval"
EVERY_REPLY = PopulationRule(asker=True, quotes=True, duplicates=True)  # the sets have no authors, no asker


def group_of(grouping: str, index: int, text: str, median: float) -> str:
    if grouping == "half":
        return "a" if hashlib.sha256(str(index).encode()).digest()[0] % 2 else "b"
    return "long" if len(text) > median else "short"


def load(folder: Path, dataset: Path, book, part: str, grouping: str):
    """A database holding one part of the set, its replies in two groups stored as two platforms, every row
    coded; (database, {(platform, id): labels})."""
    items = [item for item in read_items(dataset) if (item.get("split") or "all") == part or part == "all"]
    median = float(np.median([len(item["text"]) for item in items]))
    database = db.open_db(folder / "groups.db")
    rows, truth = [], {}
    for i, item in enumerate(items):
        group = group_of(grouping, i, item["text"], median)
        rows.append({"platform": group, "id": str(i), "thread_id": part, "kind": "reply", "status": "ok",
                     "text": item["text"]})
        truth[(group, str(i))] = set(item["labels"])
    for group in sorted({row["platform"] for row in rows}):
        db.upsert_thread(database, {"platform": group, "id": part, "text": "question"})
    db.store_replies(database, rows)
    classify(database, book, method="zero-shot")
    set_gold(database, [{"platform": platform, "id": reply_id, "codebook": book.name, "codebook_hash": book.hash,
                         "reviewer": CODER, "labels": sorted(labels)} for (platform, reply_id), labels in truth.items()])
    return database, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["test", "dev"], default="test")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--size", type=int, default=40)
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--sets", default="lean,incident")
    parser.add_argument("--grouping", choices=["half", "length"], default="half")
    args = parser.parse_args()
    all_group, all_diff = [], []
    for name, title, book, dataset in labelled_sets(args.sets):
        with tempfile.TemporaryDirectory() as tmp:
            database, truth = load(Path(tmp), dataset, book, args.part, args.grouping)
            groups = sorted({platform for platform, _ in truth})
            true_share = {g: np.array([np.mean([c in labels for (p, _), labels in truth.items() if p == g])
                                       for c in book.ids]) for g in groups}
            true_diff = true_share[groups[0]] - true_share[groups[1]]
            covered = {g: [] for g in groups}
            widths = {g: [] for g in groups}
            diff_covered, diff_width, skipped = [], [], 0
            for seed in range(args.draws):
                drawn = draw(database, size=args.size, seed=seed, name=f"draw-{seed}", rule=EVERY_REPLY)
                result = estimate(database, book, sample=drawn.name, level=args.level, reviewer=CODER,
                                  compare=("platform", groups[0], groups[1]))
                for entry in result.groups["groups"]:
                    for j, c in enumerate(entry["categories"]):
                        if c["estimate"] is None:
                            skipped += 1
                            continue
                        t = true_share[entry["group"]][j]
                        covered[entry["group"]].append(c["low"] - 1e-12 <= t <= c["high"] + 1e-12)
                        widths[entry["group"]].append(c["high"] - c["low"])
                for j, c in enumerate(result.comparison["categories"]):
                    if c["difference"] is None:
                        continue
                    diff_covered.append(c["low"] - 1e-12 <= true_diff[j] <= c["high"] + 1e-12)
                    diff_width.append(c["high"] - c["low"])
            print(f"{title}, {args.part} part, grouped by {args.grouping}: {args.draws} samples of {args.size} coded, "
                  f"{100 * args.level:g}% intervals")
            for g in groups:
                size = sum(1 for p, _ in truth if p == g)
                print(f"  group {g:<6} {size:>4} replies: coverage {np.mean(covered[g]):.3f} over "
                      f"{len(covered[g])} intervals, mean width {np.mean(widths[g]):.3f}")
            print(f"  difference {groups[0]} - {groups[1]}: coverage {np.mean(diff_covered):.3f} over "
                  f"{len(diff_covered)} intervals, mean width {np.mean(diff_width):.3f}; largest true difference "
                  f"{np.abs(true_diff).max():.3f}; {skipped} group intervals not estimated (under 2 coded)")
            all_group += [v for g in groups for v in covered[g]]
            all_diff += diff_covered
    print(f"pooled: group shares {np.mean(all_group):.3f} ({len(all_group)} intervals), differences "
          f"{np.mean(all_diff):.3f} ({len(all_diff)}); target >= 0.92: "
          f"{'met' if min(np.mean(all_group), np.mean(all_diff)) >= 0.92 else 'NOT met'}")


if __name__ == "__main__":
    main()
