"""Benchmark: `replies estimate` on a thread of 50,000 replies, against `replies stats` on the same database.

Builds a database of N replies (7 categories, a score and a tag for each, as `classify` stores them), draws a
sample of 400 with `replies sample` and codes it, then times, each in its own process and best of --runs:
- the baseline: `replies stats --json` (the counts every user already runs);
- `replies sample --size 400` (drawing from N replies: hashing and storing the population);
- `replies estimate --format json`.
Prints seconds and the ratio to the baseline. The issue's bound is 2 s for estimate at 50,000 replies; times on
a shared machine are noisy, so the ratio measured in the same run is the figure to compare.

    .venv/bin/python scripts/bench_estimate.py [--replies 50000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_db(path: Path, n: int) -> None:
    from replies import db
    from replies.codebook import load
    from replies.db.labels import start_classify_run, write_predictions

    book = load()
    rng = random.Random(1)
    database = db.open_db(path)
    book.remember(database)
    db.upsert_thread(database, {"platform": "x", "id": "0", "text": "question"})
    start_classify_run(database, codebook=book.name, codebook_hash=book.hash, method="zero-shot", model="bench")
    for start in range(0, n, 10_000):
        ids = range(start + 1, min(n, start + 10_000) + 1)
        db.store_replies(database, [{"platform": "x", "id": str(i), "thread_id": "0", "kind": "reply", "status": "ok",
                                     "text": f"reply {i}", "created_at": "2026-11-02T01:00:00.000Z"} for i in ids])
        rows = []
        for i in ids:
            for category in book.ids:
                score = rng.random() * 0.6
                rows.append({"platform": "x", "id": str(i), "codebook": book.name, "codebook_hash": book.hash,
                             "category": category, "score": score, "predicted": int(score > 0.4), "threshold": 0.4,
                             "method": "zero-shot", "model": "bench"})
        write_predictions(database, rows)


def timed(args: list[str], env: dict, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "replies", *args], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        make_db(path, args.replies)
        env = {**os.environ, "REPLIES_DB": str(path)}
        stats = timed(["stats", "--json"], env, args.runs)
        sample = timed(["sample", "--size", "400", "--format", "json"], env, args.runs)  # a new sample each run
        drawn = json.loads(subprocess.run([sys.executable, "-m", "replies", "sample", "--size", "400", "--format",
                                           "json", "--name", "coded"], env=env, check=True, capture_output=True,
                                          text=True).stdout)
        codes = Path(tmp) / "codes.jsonl"
        rng = random.Random(2)
        codes.write_text("".join(json.dumps({**member, "labels": ["money"] if rng.random() < 0.2 else []}) + "\n"
                                 for member in drawn["members"]))
        subprocess.run([sys.executable, "-m", "replies", "import-labels", str(codes)], env=env, check=True,
                       capture_output=True)
        estimate = timed(["estimate", "--sample", "coded", "--format", "json"], env, args.runs)
    print(f"{args.replies} replies, 7 categories, best of {args.runs} runs, each command in its own process:")
    print(f"  baseline: replies stats --json      {stats:6.2f} s")
    print(f"  replies sample --size 400          {sample:6.2f} s  ({sample / stats:.2f}x the baseline)")
    print(f"  replies estimate (400 coded)       {estimate:6.2f} s  ({estimate / stats:.2f}x the baseline)")


if __name__ == "__main__":
    main()
