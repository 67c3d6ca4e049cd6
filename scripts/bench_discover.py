"""Benchmark: `discover` on 10,000 replies whose embeddings are cached, against the clustering call alone.

Replies and vectors are synthetic (eight topics with their own words and their own region of the
embedding space, plus noise), stored as a harvested thread with its embeddings in the cache, so no model
runs. Prints, from one run: the wall time (best of three, as k-means itself varies by a third from call to
call here) and, in a separate pass, the peak of traced memory (tracemalloc) of the whole `discover`
(selection, content filter, cache read, k-means, typical replies, class-based TF-IDF) against
scikit-learn's KMeans on the same vectors in the same process.

    .venv/bin/python scripts/bench_discover.py [--replies 10000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from replies import db
from replies.classifier.discover import cluster, discover
from replies.classifier.embed import text_hash
from replies.classifier.model import DEFAULT_MODEL
from replies.db.labels import store_embeddings

TOPICS = [("backfill", "rota", "shift", "cover"), ("tariff", "budget", "funding", "savings"),
          ("consultants", "silos", "professions", "territory"), ("board", "executives", "gemba", "visible"),
          ("patients", "variation", "demand", "complexity"), ("targets", "regulator", "guidance", "national"),
          ("toolkit", "cuts", "efficiency", "misunderstood"), ("training", "coaching", "capability", "skills")]
FILLER = "we the our it is never always no time people work here really every week".split()


def build(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    numbers = np.random.default_rng(seed)
    centres = numbers.normal(size=(len(TOPICS), 384))
    database = db.open_db(path)
    db.upsert_thread(database, {"platform": "x", "id": "0", "text": "the question"})
    rows, vectors = [], {}
    for i in range(n):
        topic = rng.randrange(len(TOPICS))
        words = rng.sample(TOPICS[topic], 2) + rng.sample(FILLER, 5) + [f"w{rng.randrange(5000)}"]
        rng.shuffle(words)
        text = " ".join(words) + f" {i}"
        vector = centres[topic] + numbers.normal(scale=1.5, size=384)
        vectors[text_hash(text)] = (vector / np.linalg.norm(vector)).astype(np.float32)
        rows.append({"platform": "x", "id": str(i + 1), "thread_id": "0", "kind": "reply", "status": "ok",
                     "text": text, "created_at": f"2026-01-01T00:00:{i % 60:02d}Z"})
    db.store_replies(database, rows)
    store_embeddings(database, DEFAULT_MODEL, vectors)
    database.close()


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def peak_mb(fn) -> float:
    """Peak traced memory of `fn`, in a pass of its own (tracing slows Python code, not numpy's)."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        build(path, args.replies)
        database = db.open_db(path)
        rows = [r["text"] for r in database.query("select text from replies where status = 'ok' order by rowid")]
        from replies.classifier.embed import CachedEmbedder
        vectors = CachedEmbedder(database).embed(rows)
        cluster(vectors[:100], 2)  # import scikit-learn before timing
        run_bare = lambda: cluster(vectors, 8, 0)
        run_whole = lambda: discover(database, max_themes=8, min_size=3, record=False)
        bare_s, whole_s = min(timed(run_bare) for _ in range(3)), min(timed(run_whole) for _ in range(3))
        bare_mb, whole_mb = peak_mb(run_bare), peak_mb(run_whole)
        found = run_whole()
        print(f"discover: {found.replies:,} replies, {len(found.themes)} themes in {whole_s:.2f}s, peak traced "
              f"memory {whole_mb:.0f} MB")
        print(f"KMeans alone on the same vectors: {bare_s:.2f}s, peak {bare_mb:.0f} MB")
        print(f"discover / clustering alone: time {whole_s / bare_s:.2f}x, memory {whole_mb / bare_mb:.2f}x")
        for theme in found.themes:
            print(f"  {theme.size:>5}  {', '.join(theme.words[:4])}")


if __name__ == "__main__":
    main()
