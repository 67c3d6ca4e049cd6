"""Benchmark: harvest an X, a Bluesky, a Reddit, a YouTube and a Threads thread from the emulator.

Prints, from one run on this machine: HTTP requests made against the minimum the API
allows, replies per second, and storage per reply as a ratio to a raw sqlite-utils
insert_all of the same rows into a bare table (no index, no full-text search).

    .venv/bin/python scripts/bench_harvest.py [--x 10000] [--bluesky 5000] [--reddit 3000]
        [--youtube 2500] [--threads 500]
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import tempfile
import time
from pathlib import Path

from sqlite_utils import Database

from replies import db
from replies.emulator import Emulator, World
from replies.emulator.sample import post_url
from replies.emulator.world import reddit_thread, synthetic_thread, threads_conversation, youtube_video
from replies.harvester.run import harvest
from replies.harvester.settings import Settings


def file_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    conn.execute("pragma wal_checkpoint(truncate)")
    pages, size = conn.execute("pragma page_count").fetchone()[0], conn.execute("pragma page_size").fetchone()[0]
    conn.close()
    return pages * size


def cut_branches(world: World, root_id: str, max_depth: int) -> int:
    """Posts at a multiple of the AppView's depth cap that have replies: each needs its own getPostThread."""
    cut, stack = 0, [(root_id, 0)]
    while stack:
        post_id, depth = stack.pop()
        children = world.replies_to("bluesky", post_id)
        if depth and depth % max_depth == 0 and children:
            cut += 1
        stack.extend((c.id, depth + 1) for c in children)
    return cut


def build(world: World, platform: str, replies: int, quotes: int):
    if platform == "reddit":
        return reddit_thread(world, replies)
    if platform == "youtube":
        return youtube_video(world, replies)
    if platform == "threads":
        return threads_conversation(world, replies)
    return synthetic_thread(world, platform, replies, quotes=quotes)


def minimum_requests(platform: str, world: World, root, server: Emulator, replies: int, quotes: int) -> int:
    """The fewest requests the API allows for the thread, counted from what the emulator served."""
    if platform == "x":
        return 1 + math.ceil(replies / 100) + max(1, math.ceil(quotes / 100))
    if platform == "bluesky":  # resolveHandle, getPostThread for the root and each branch the depth cap cuts
        return 2 + cut_branches(world, root.id, server.bsky_max_depth) + max(1, math.ceil(quotes / 100))
    if platform == "reddit":  # token, first page, each continue-this-thread page, 100 hidden ids a call
        return 2 + server.reddit_continues + math.ceil(len(server.reddit_stubbed) / 100)
    if platform == "youtube":  # videos.list, thread pages, reply pages where a thread carries too few
        tops = world.replies_to("youtube", root.id)
        return 1 + math.ceil(len(tops) / 100) + sum(math.ceil(len(world.replies_to("youtube", t.id)) / 100)
                                                    for t in tops if len(world.replies_to("youtube", t.id)) > 5)
    # Threads: /me, the owner's first page of posts, the reply count, conversation pages of 100
    return 3 + math.ceil(replies / 100)


def bench(platform: str, replies: int, quotes: int, folder: Path) -> dict:
    world = World()
    root = build(world, platform, replies, quotes)
    with Emulator(world, x_tokens=["bench"]) as server:
        base = server.base_url
        settings = Settings(x_bearer_token="bench", x_api_base=base, bsky_api_base=base,
                            reddit_client_id="reddit-client", reddit_client_secret="reddit-secret",
                            reddit_api_base=base, reddit_auth_base=base, youtube_api_key="youtube-key",
                            youtube_api_base=base, threads_access_token="threads-token", threads_api_base=base)
        path = folder / f"{platform}.db"
        database = db.open_db(path)
        started = time.perf_counter()
        result = harvest(database, post_url(server, root), settings)
        elapsed = time.perf_counter() - started
        minimum = minimum_requests(platform, world, root, server, replies, quotes)
    rows = [dict(r) for r in database.query("select * from replies")]
    database.close()
    raw_path = folder / f"{platform}-raw.db"
    Database(raw_path)["replies"].insert_all(rows)
    ours, raw = file_bytes(path), file_bytes(raw_path)
    return {"platform": platform, "replies": result.total, "requests": result.requests, "minimum": minimum,
            "per_second": result.total / elapsed, "seconds": elapsed, "bytes_per_reply": ours / result.total,
            "raw_bytes_per_reply": raw / result.total, "storage_ratio": ours / raw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x", type=int, default=10_000)
    parser.add_argument("--bluesky", type=int, default=5_000)
    parser.add_argument("--reddit", type=int, default=3_000, help="comments")
    parser.add_argument("--youtube", type=int, default=2_500, help="top-level comment threads")
    parser.add_argument("--threads", type=int, default=500, help="replies")
    args = parser.parse_args()
    runs = (("x", args.x, 250), ("bluesky", args.bluesky, 150), ("reddit", args.reddit, 0),
            ("youtube", args.youtube, 0), ("threads", args.threads, 0))
    with tempfile.TemporaryDirectory() as tmp:
        for platform, n, quotes in runs:
            r = bench(platform, n, quotes, Path(tmp))
            print(f"{r['platform']:<8} {r['replies']:>6} replies+quotes  requests {r['requests']} "
                  f"(minimum {r['minimum']})  {r['per_second']:,.0f} replies/s ({r['seconds']:.1f}s)  "
                  f"storage {r['bytes_per_reply']:.0f} B/reply vs raw insert_all {r['raw_bytes_per_reply']:.0f} "
                  f"B/reply = {r['storage_ratio']:.2f}x")


if __name__ == "__main__":
    main()
