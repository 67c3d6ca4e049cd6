"""Benchmark: export 100,000 replies to each format against a plain sqlite3 dump of the same table.

Builds a database of N labelled replies (7 categories, scores for each, 5% reviewed), then, each in
its own process, so peak memory is the export's own:
- the baseline: a plain `sqlite3` cursor over `select * from replies`, every row written with csv;
- `replies export --format F --out FILE` for jsonl, csv, parquet, labelstudio and hf.
Prints rows/s and the ratio to the baseline, and peak RSS at N/5 and at N replies (flat memory means
the two are about equal).

    .venv/bin/python scripts/bench_export.py [--replies 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "tests" / "data" / "lean_nhs_dev.jsonl"
FORMATS = ("jsonl", "csv", "parquet", "labelstudio", "hf")


def raw_tweet(i: int) -> str:
    """The API object a harvested reply keeps in `raw` (about the size of a real X API v2 tweet)."""
    return json.dumps({"id": str(i), "conversation_id": "0", "author_id": str(i % 5000), "lang": "en",
                       "created_at": "2026-11-02T01:00:00.000Z", "text": "...", "edit_history_tweet_ids": [str(i)],
                       "referenced_tweets": [{"type": "replied_to", "id": "0"}], "reply_settings": "everyone",
                       "public_metrics": {"retweet_count": 0, "reply_count": 1, "like_count": i % 50,
                                          "quote_count": 0, "bookmark_count": 0, "impression_count": 120},
                       "entities": {"mentions": [{"start": 0, "end": 7, "username": f"user{i % 77}",
                                                  "id": str(i % 77)}]}})


def make_db(path: Path, n: int) -> None:
    sys.path.insert(0, str(ROOT))
    from replies import db
    from replies.codebook import load

    book = load()
    rng = random.Random(1)
    texts = [json.loads(line)["text"] for line in DEV.read_text().splitlines()]
    database = db.open_db(path)
    book.remember(database)
    db.upsert_thread(database, {"platform": "x", "id": "0", "text": "question"})
    for start in range(0, n, 10_000):
        ids = range(start + 1, min(n, start + 10_000) + 1)
        db.store_replies(database, [{
            "platform": "x", "id": str(i), "thread_id": "0", "parent_id": "0", "kind": "reply", "status": "ok",
            "author_handle": f"user{i % 5000}", "text": f"@user{i % 77} {rng.choice(texts)}",
            "created_at": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00.000Z", "url": f"https://x.com/u/status/{i}",
            "like_count": i % 50, "raw": raw_tweet(i)} for i in ids])
        with database.atomic():
            database.conn.executemany(
                "insert into predictions (platform, id, codebook, codebook_hash, category, score, predicted,"
                " threshold, method, model, created_at) values ('x', ?, ?, ?, ?, ?, ?, 0.5, 'zero-shot', 'm', '')",
                [(str(i), book.name, book.hash, c, s, int(s >= 0.5)) for i in ids for c in book.ids
                 for s in [rng.random() ** 2]])
            database.conn.executemany(
                "insert into gold_labels (platform, id, codebook, reviewer, labels, created_at)"
                " values ('x', ?, ?, 'ann', ?, '')",
                [(str(i), book.name, json.dumps(rng.sample(book.ids, 2))) for i in ids if i % 20 == 0])
    database["classify_runs"].insert({"codebook": book.name, "codebook_hash": book.hash, "method": "zero-shot",
                                      "model": "m"})
    database.close()


def child(db_path: str, fmt: str, out: str) -> None:
    """In a subprocess: one export (or the baseline dump); print seconds and peak RSS as JSON."""
    started = time.perf_counter()
    if fmt == "baseline":
        import csv
        import sqlite3
        conn = sqlite3.connect(db_path)
        with open(out, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            for row in conn.execute("select * from replies where status = 'ok'"):
                writer.writerow(row)
    else:
        sys.path.insert(0, str(ROOT))
        from click.testing import CliRunner

        from replies.cli import main
        started = time.perf_counter()  # imports excluded, as for the baseline
        result = CliRunner().invoke(main, ["export", "--db", db_path, "--format", fmt, "--out", out])
        if result.exit_code:
            raise SystemExit(result.output)
    print(json.dumps({"seconds": time.perf_counter() - started, "rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM; getrusage's maxrss can carry the parent's over from fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(db_path: Path, fmt: str, folder: Path) -> dict:
    out = folder / (f"out-{db_path.stem}-{fmt}" + ("" if fmt == "hf" else ".data"))
    done = subprocess.run([sys.executable, __file__, "--child", str(db_path), fmt, str(out)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=100_000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small, large = folder / "small.db", folder / "large.db"
        started = time.perf_counter()
        make_db(small, args.replies // 5)
        make_db(large, args.replies)
        print(f"built {args.replies // 5:,} and {args.replies:,} labelled replies in "
              f"{time.perf_counter() - started:.0f}s")
        base = measure(large, "baseline", folder)
        base_small = measure(small, "baseline", folder)
        rate = args.replies / base["seconds"]
        print(f"{'plain sqlite3 dump':<20} {rate:>9,.0f} rows/s  1.00x   peak RSS {base_small['rss_mb']:.0f} MB at "
              f"{args.replies // 5:,}, {base['rss_mb']:.0f} MB at {args.replies:,}")
        for fmt in FORMATS:
            big, little = measure(large, fmt, folder), measure(small, fmt, folder)
            ours = args.replies / big["seconds"]
            print(f"{'export ' + fmt:<20} {ours:>9,.0f} rows/s  {rate / ours:.2f}x slower  peak RSS "
                  f"{little['rss_mb']:.0f} MB at {args.replies // 5:,}, {big['rss_mb']:.0f} MB at {args.replies:,}")


if __name__ == "__main__":
    main()
