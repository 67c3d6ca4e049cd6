"""Benchmark: `replies serve` page times with 50,000 replies, against bare SELECTs of the same rows.

Builds the database of `bench_export.py` (N labelled replies, 7 categories, 5% reviewed), starts
`replies serve` in its own process, and measures the time to first byte of:
- the review page, one reply after another through the uncertain-first queue (`/review?at=...`);
- the replies table, newest first, at pages spread over the whole table (`/replies?page=K`);
each over R requests (p50, p99), against, in the same run, a plain sqlite3 connection running bare SELECTs of
the rows each page shows (the reply, its question, the replies above it and its scores; the 50 table rows).
The first review request builds the reviewer's queue (once per filter, as `replies review` does): it is
reported on its own, and so is the server's floor: an empty answer with no database work.

    .venv/bin/python scripts/bench_serve.py [--replies 50000] [--requests 200]
"""

from __future__ import annotations

import argparse
import http.client
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_export import make_db  # noqa: E402  (the same database as the export benchmark)


def ttfb(port: int, path: str, expect: int = 200) -> float:
    """Seconds from sending the request to the response's first line and headers; the body is read too."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    first = time.perf_counter() - started
    body = response.read()
    conn.close()
    if response.status != expect:
        raise SystemExit(f"GET {path}: {response.status} {body[:200]!r}")
    return first


def bare(conn: sqlite3.Connection, sql_calls: list[tuple[str, list]]) -> float:
    started = time.perf_counter()
    for sql, params in sql_calls:
        conn.execute(sql, params).fetchall()
    return time.perf_counter() - started


def review_rows(reply_id: str, codebook_hash: str) -> list[tuple[str, list]]:
    return [("select * from replies where platform = 'x' and id = ?", [reply_id]),
            ("select * from threads where platform = 'x' and id = '0'", []),
            ("select * from replies where platform = 'x' and id = (select parent_id from replies where"
             " platform = 'x' and id = ?)", [reply_id]),
            ("select category, score, predicted, threshold from predictions where platform = 'x' and id = ?"
             " and codebook_hash = ?", [reply_id, codebook_hash])]


def table_rows(page: int) -> list[tuple[str, list]]:
    return [("select * from replies where status = 'ok' order by created_at desc, id desc limit 50 offset ?",
             [(page - 1) * 50])]


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    from replies.codebook import load

    book = load()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        make_db(path, args.replies)
        server = subprocess.Popen([str(Path(sys.executable).parent / "replies"), "serve", "--db", str(path),
                                   "--port", "0", "--reviewer", "bench"], stderr=subprocess.PIPE, text=True)
        try:
            line = server.stderr.readline()
            found = re.search(r":(\d+)/", line)
            if not found:
                raise SystemExit(f"replies serve did not start: {line}{server.stderr.read()}")
            port = int(found.group(1))
            started = time.perf_counter()
            ttfb(port, "/review")
            build = time.perf_counter() - started
            conn = sqlite3.connect(path)
            queue = [row[0] for row in conn.execute(
                "select r.id from replies r where r.status = 'ok' and not exists (select 1 from gold_labels g"
                " where g.platform = r.platform and g.id = r.id and g.reviewer = 'bench') order by"
                " (select min(abs(p.score - p.threshold)) from predictions p where p.platform = r.platform"
                " and p.id = r.id and p.codebook_hash = ?), r.created_at, r.id", [book.hash])]
            ids = queue[: args.requests]
            pages = random.Random(1).sample(range(1, args.replies // 50 + 1), args.requests)
            floor = [ttfb(port, "/favicon.ico", 204) for _ in range(args.requests)]
            results = {}
            for name, paths, rows in (
                ("review page", [f"/review?at=x:{i}" for i in ids], [review_rows(i, book.hash) for i in ids]),
                ("table page", [f"/replies?page={p}" for p in pages], [table_rows(p) for p in pages]),
            ):
                for p in paths[:5]:  # warm both sides alike: templates compiled, pages cached
                    ttfb(port, p)
                served = [ttfb(port, p) for p in paths]
                plain = [bare(conn, r) for r in rows]
                results[name] = (summary(served), summary(plain))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"replies serve, {args.replies:,} replies, {args.requests} requests per page, one run on this machine")
    print(f"first review request (builds the uncertain-first queue of {args.replies:,}): {build * 1000:.0f} ms")
    print(f"{'page':<12} {'served p50':>10} {'p99':>8}   {'bare SELECT p50':>15} {'p99':>8}   {'p99 ratio':>9}")
    for name, ((p50, p99), (b50, b99)) in results.items():
        print(f"{name:<12} {p50:>8.1f}ms {p99:>6.1f}ms   {b50:>13.2f}ms {b99:>6.2f}ms   {p99 / b99:>8.1f}x")
    f50, f99 = summary(floor)
    print(f"the server's floor (an empty 204 answer, no database, no template): p50 {f50:.1f}ms, p99 {f99:.1f}ms")


if __name__ == "__main__":
    main()
