"""Benchmark: `classify --method llm` against the emulator answering each request after 50 ms.

Prints, from one run on this machine: replies coded per second at concurrency 1, 4 and 16 against the
ideal (concurrency / latency), and prompt tokens per reply (as the emulator counts them, four characters a
token) with and without reviewed replies as worked examples.

    .venv/bin/python scripts/bench_llm.py [--replies 200] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from replies import db
from replies.classifier.llm import LlmSettings, classify_llm
from replies.codebook import load
from replies.emulator import Emulator, World
from replies.net.events import Events
from replies.net.retry import RetryPolicy
from replies.review.labels import label

TEXTS = ["There is no money for backfill, so nobody has time to improve anything.",
         "Managers want quick wins for the board; clinicians see it as a cost-cutting exercise.",
         "Targets change every year and the policy churn kills any long-term programme.",
         "We were never trained in improvement methods, it is all left to a few enthusiasts."]


class Fake:
    """A stand-in embedder for choosing examples (the benchmark measures the HTTP side, not the encoder)."""

    def embed(self, texts, batch_size):
        import numpy as np
        vectors = np.array([[len(t) % 7 + 1.0, t.count(" ") + 1.0, 1.0] for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def database_with(folder: Path, replies: int, reviewed: int) -> db.Database:
    database = db.open_db(folder / f"bench-{len(list(folder.iterdir()))}.db")
    now = datetime.now(timezone.utc)
    database["threads"].insert({"platform": "x", "id": "1", "text": "Why is lean harder in the NHS?"})
    database["replies"].insert_all(
        {"platform": "x", "id": str(100 + i), "thread_id": "1", "parent_id": "1", "kind": "reply", "status": "ok",
         "text": f"{TEXTS[i % len(TEXTS)]} ({i})", "created_at": (now - timedelta(minutes=i)).isoformat()}
        for i in range(replies))
    book = load(None)
    for i in range(reviewed):
        label(database, book, f"x:{100 + i}", ["money"], "bench", None)
    return database


def run(folder: Path, server: Emulator, replies: int, concurrency: int, reviewed: int) -> tuple[float, float]:
    database = database_with(folder, replies, reviewed)
    settings = LlmSettings(base=f"{server.base_url}/v1", model=f"bench-{concurrency}-{reviewed}")
    retry = RetryPolicy(Events())
    started = time.perf_counter()
    result = classify_llm(database, load(None), settings, retry=retry, concurrency=concurrency,
                          embedder_factory=Fake)
    elapsed = time.perf_counter() - started
    database.close()
    return replies / elapsed, result.prompt_tokens / replies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Emulator(World(), latency=args.latency) as server:
        folder = Path(tmp)
        for concurrency in (1, 4, 16):
            rate, _ = run(folder, server, args.replies, concurrency, 0)
            ideal = concurrency / args.latency
            print(f"concurrency {concurrency:>2}  {rate:6.1f} replies/s  ideal {ideal:5.0f}  = {rate / ideal:.0%} "
                  f"of ideal")
        _, plain = run(folder, server, args.replies, 4, 0)
        _, with_examples = run(folder, server, args.replies, 4, 12)
        print(f"prompt tokens per reply: {plain:.0f} without examples, {with_examples:.0f} with up to 4 reviewed "
              f"replies as examples (+{with_examples - plain:.0f})")


if __name__ == "__main__":
    main()
