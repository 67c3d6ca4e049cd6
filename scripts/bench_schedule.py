"""Benchmark: a scheduled `harvest --all` of 200 tracked threads while 4 readers query the database.

Builds 200 threads across X, Bluesky and Mastodon in the emulator (on loopback), tracks them, runs
the real `replies harvest --all` in a subprocess, and meanwhile 4 reader processes run `replies query`'s
library call in a loop (a fresh read-only connection per query, as each `replies query` makes).
Prints threads/second, reader latency p50/p99, reader errors, and whether the stored totals equal
the emulator's.

    .venv/bin/python scripts/bench_schedule.py [--threads 200] [--replies 60] [--readers 4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = ("select count(*) from replies",
           "select platform, count(*) from replies group by platform",
           "select * from reply_labels order by created_at desc limit 50")


def reader(db_path: str, stop, results) -> None:
    from replies import db
    from replies.db.queries import run_query

    latencies, errors = [], []
    i = 0
    while not stop.is_set():
        started = time.perf_counter()
        try:
            database = db.open_db(db_path, readonly=True)
            list(run_query(database, QUERIES[i % len(QUERIES)]))
            database.close()
        except Exception as exc:  # noqa: BLE001 - every failure is a finding to report
            errors.append(f"{type(exc).__name__}: {exc}")
        latencies.append((time.perf_counter() - started) * 1000)
        i += 1
        time.sleep(0.005)
    results.put((latencies, errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=200)
    parser.add_argument("--replies", type=int, default=60, help="replies per thread")
    parser.add_argument("--readers", type=int, default=4)
    args = parser.parse_args()

    from replies import db
    from replies.emulator import Emulator, World
    from replies.emulator.sample import post_url
    from replies.emulator.world import synthetic_thread
    from replies.platforms import names

    world = World()
    platforms = names()  # every platform the emulator serves
    roots = [(platforms[i % len(platforms)], synthetic_thread(world, platforms[i % len(platforms)], args.replies,
                                                            quotes=2, seed=i))
             for i in range(args.threads)]
    with tempfile.TemporaryDirectory() as tmp, Emulator(world, x_tokens=["bench-token"]) as server:
        db_path = str(Path(tmp) / "schedule.db")
        database = db.open_db(db_path)
        for _, root in roots:
            db.track(database, post_url(server, root))
        database.close()
        env = {**os.environ, "REPLIES_DB": db_path, "X_BEARER_TOKEN": "bench-token",
               "REPLIES_X_API_BASE": server.base_url, "REPLIES_BSKY_API_BASE": server.base_url,
               "MASTODON_ACCESS_TOKEN": "mastodon-token"}
        stop, results = multiprocessing.Event(), multiprocessing.Queue()
        readers = [multiprocessing.Process(target=reader, args=(db_path, stop, results)) for _ in range(args.readers)]
        for process in readers:
            process.start()
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "replies", "harvest", "--all", "-q", "--no-wait"], env=env,
                              cwd=ROOT, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        stop.set()
        latencies, errors = [], []
        for _ in readers:
            got, failed = results.get()
            latencies += got
            errors += failed
        for process in readers:
            process.join()
        database = db.open_db(db_path)
        stored = {(p, t): n for p, t, n in database.execute(
            "select platform, thread_id, count(*) from replies group by platform, thread_id")}
        expected = {(p, r.id): len(world.expected(p, r.id)) for p, r in roots}
        mismatched = sum(1 for key, n in expected.items() if stored.get(key) != n)
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"harvest --all: {args.threads} threads ({args.replies} replies + 2 quotes each) in {elapsed:.1f}s = "
          f"{args.threads / elapsed:.1f} threads/s, exit code {done.returncode}")
    print(f"{args.readers} readers: {len(latencies)} queries, p50 {quantiles[49]:.1f} ms, p99 {quantiles[98]:.1f} ms, "
          f"max {max(latencies):.1f} ms, errors {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    print(f"stored replies {sum(stored.values())} vs emulator {sum(expected.values())}: "
          f"{'equal for every thread' if not mismatched else f'{mismatched} threads differ'}")


if __name__ == "__main__":
    main()
