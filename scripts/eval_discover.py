"""How well `replies discover` recovers known categories, through the draft codebook it writes.

For each labelled set: the replies go into a fresh database, `discover` drafts a codebook, `classify
--codebook draft.yaml` tags every reply with it, and `export` gives the tags. For each gold category, the
F1 of its best-matching draft category; the mean over categories is the best-match F1. Printed beside it:
the same measure on the themes' own members (before classify), and plain k-means on the same embeddings
with as many clusters, in the same run.

    .venv/bin/python scripts/eval_discover.py [--split test] [--max-themes 8] [--min-size 3] [--seeds 1]

With --seeds N, discover runs with seeds 0 to N-1 and the mean and range are printed too: on 50 to 80
replies, k-means from another seed moves the figure by several hundredths.

With --oracle N, an optimistic bound for clustering these embeddings: plain k-means (one start) from N seeds
at each k from 6 to 16, on the replies with content, and the best-match F1 of its members for the partition
that the labels say is best, beside the mean at each k. No method can choose that way; it says how far any
k-means partition of these embeddings could go.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from replies import db
from replies.classifier.discover import discover, draft_yaml, has_content
from replies.classifier.embed import CachedEmbedder
from replies.classifier.run import classify
from replies.codebook import load
from replies.export.records import jsonl_records

# the labelled sets' rows, as eval_quality.py reads them (scripts/ is on sys.path when a script in it runs)
from eval_quality import read_items  # isort: skip

ROOT = Path(__file__).resolve().parent.parent
SETS = {"lean_nhs (shared/eval)": ROOT.parent / "shared" / "eval" / "lean_nhs_public.jsonl",
        "incident_reporting (shared/eval)": ROOT.parent / "shared" / "eval" / "incident_reporting_public.jsonl"}


def best_match_f1(groups: dict[str, set[str]], gold: dict[str, set[str]]) -> tuple[float, dict[str, float]]:
    """Mean over gold categories of the F1 of the best-matching group."""
    per = {}
    for category, truth in gold.items():
        per[category] = max((2 * len(truth & g) / (len(truth) + len(g)) for g in groups.values() if g), default=0.0)
    return float(np.mean(list(per.values()))), per


def partition_f1(rows: list[dict], assigned, gold: dict[str, set[str]]) -> float:
    """Best-match F1 of a partition of `rows` (a cluster number each)."""
    groups: dict[str, set[str]] = {}
    for row, cluster in zip(rows, assigned):
        groups.setdefault(str(cluster), set()).add(row["id"])
    return best_match_f1(groups, gold)[0]


def gold_groups(rows: list[dict]) -> dict[str, set[str]]:
    gold: dict[str, set[str]] = {}
    for r in rows:
        for c in r["labels"]:
            gold.setdefault(c, set()).add(r["id"])
    return gold


def read_rows(path: Path, split: str) -> list[dict]:
    return [r for r in read_items(path) if split == "all" or r["split"] == split]


def oracle(path: Path, split: str, seeds: int, encoder) -> tuple[float, float, float]:
    """(best-match F1 of the best k-means partition by the labels, lowest and highest mean over seeds at one k)."""
    rows = [r for r in read_rows(path, split) if has_content(r["text"])]
    vectors, gold = encoder.encode([r["text"] for r in rows]), gold_groups(rows)
    means, best = [], 0.0
    for k in range(6, 17):
        figures = [partition_f1(rows, KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(vectors), gold)
                   for seed in range(seeds)]
        best, means = max(best, *figures), means + [float(np.mean(figures))]
    return best, min(means), max(means)


def evaluate(path: Path, split: str, max_themes: int, min_size: int, encoder, seed: int = 0) -> dict:
    rows = read_rows(path, split)
    with tempfile.TemporaryDirectory() as folder:
        database = db.open_db(Path(folder) / "eval.db")
        db.upsert_thread(database, {"platform": "x", "id": "0", "text": "the question"})
        db.store_replies(database, [{"platform": "x", "id": r["id"], "thread_id": "0", "kind": "reply",
                                     "status": "ok", "text": r["text"], "created_at": f"2026-01-01T00:{i // 60:02d}:"
                                     f"{i % 60:02d}Z"} for i, r in enumerate(rows)])
        found = discover(database, max_themes=max_themes, min_size=min_size, encoder=encoder, seed=seed)
        draft = Path(folder) / "draft.yaml"
        draft.write_text(draft_yaml(found), encoding="utf-8")
        book = load(draft)
        classify(database, book, encoder=encoder)
        tagged = {r["id"]: set(r["labels"]) for r in jsonl_records(database, book)}
        vectors = CachedEmbedder(database, encoder=encoder).embed([r["text"] for r in rows])
    gold = gold_groups(rows)
    through_draft, per = best_match_f1({c.id: {i for i, tags in tagged.items() if c.id in tags}
                                        for c in book.categories}, gold)
    members, _ = best_match_f1({t.id: {i for _, i in t.members} for t in found.themes}, gold)
    k = max(1, len(found.themes))
    kmeans = partition_f1(rows, KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(vectors), gold)
    return {"replies": len(rows), "themes": len(found.themes), "left_out": found.left_out,
            "outside": found.outside, "through_draft": through_draft, "members": members, "kmeans": kmeans,
            "per_category": per}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["dev", "test", "all"])
    parser.add_argument("--max-themes", type=int, default=8)
    parser.add_argument("--min-size", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=1, help="run discover with seeds 0 to N-1")
    parser.add_argument("--oracle", type=int, default=0, metavar="N",
                        help="also the best k-means partition by the labels, N seeds at each k from 6 to 16")
    args = parser.parse_args()
    from replies.classifier.model import Encoder
    encoder = Encoder()
    for name, path in SETS.items():
        if not path.exists():
            print(f"{name}: {path} not found, skipped")
            continue
        r = evaluate(path, args.split, args.max_themes, args.min_size, encoder)
        print(f"{name} [{args.split}] {r['replies']} replies, {r['themes']} themes ({r['left_out']} without "
              f"content, {r['outside']} outside any theme): best-match F1 through the draft codebook "
              f"{r['through_draft']:.3f}; theme members {r['members']:.3f}; k-means (k={r['themes']}) "
              f"{r['kmeans']:.3f}")
        print("   " + ", ".join(f"{c} {f:.2f}" for c, f in sorted(r["per_category"].items())))
        if args.seeds > 1:
            figures = [r["through_draft"]] + [evaluate(path, args.split, args.max_themes, args.min_size, encoder,
                                                       seed)["through_draft"] for seed in range(1, args.seeds)]
            print(f"   seeds 0-{args.seeds - 1}: best-match F1 through the draft codebook mean {np.mean(figures):.3f} "
                  f"(min {min(figures):.3f}, max {max(figures):.3f}): " + " ".join(f"{f:.3f}" for f in figures))
        if args.oracle:
            best, low, high = oracle(path, args.split, args.oracle, encoder)
            print(f"   k-means, {args.oracle} seeds at each k from 6 to 16: the best partition by the labels {best:.3f} "
                  f"(theme members); the mean at each k {low:.3f} to {high:.3f}")


if __name__ == "__main__":
    main()
