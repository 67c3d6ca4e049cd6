"""Benchmark: how long `replies classify` takes once gold labels exist, the automatic choice included.

A database of ~200 replies (the project's own lean set, 157 replies, and the first 43 of the independent lean
set's dev rows) with 40 of the own set's replies coded (at least 5 in every category, as `classify` needs before
it tries few-shot), the zero-shot embeddings cached as after a first classify, then `replies classify` (no
--method: the automatic choice) as a fresh process with no fine-tuned model kept from before, and again with
`--method few-shot`. Each is timed for this tree and for a baseline commit (default: the last one before
few-shot was made faster), in one run on the same machine, one after the other: the baseline is built into a
wheel from a git worktree and run from a folder of its own. Prints the wall times, their ratio and the method
each chose.

    .venv/bin/python scripts/bench_fewshot.py [--gold 40] [--baseline COMMIT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "e07665f44332b72b0175bdf31829ccc5bc16dc84"  # auto: two held-out fine-tunings, then one; random batches
OWN = ROOT / "tests" / "data" / "lean_nhs_dev.jsonl"
PUBLIC = ROOT.parent / "shared" / "eval" / "lean_nhs_public.jsonl"


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_choice(items: list[dict], n: int) -> list[int]:
    """`n` replies with at least 5 in every category: round-robin over the categories, then in file order."""
    chosen: list[int] = []
    categories = sorted({c for item in items for c in item["labels"]})
    while len(chosen) < n:
        before = len(chosen)
        for category in categories:
            pick = next((i for i, item in enumerate(items) if category in item["labels"] and i not in chosen), None)
            if pick is not None and len(chosen) < n:
                chosen.append(pick)
        if len(chosen) == before:
            break
    return chosen


def make_db(folder: Path, gold: int) -> Path:
    from replies import db
    from replies.codebook import load
    from replies.db.labels import set_gold

    own = rows(OWN)
    extra = rows(PUBLIC)[:43] if PUBLIC.exists() else []
    path = folder / "bench.db"
    database = db.open_db(path)
    db.upsert_thread(database, {"platform": "x", "id": "0", "text": "question"})
    db.store_replies(database, [{"platform": "x", "id": str(i), "thread_id": "0", "kind": "reply", "status": "ok",
                                 "text": item["text"]} for i, item in enumerate(own + extra)])
    book = load()
    book.remember(database)
    set_gold(database, [{"platform": "x", "id": str(i), "codebook": book.name, "codebook_hash": book.hash,
                         "reviewer": "bench", "labels": own[i]["labels"]} for i in gold_choice(own, gold)])
    database.close()
    return path


def baseline_site(commit: str, folder: Path) -> Path:
    """`commit` built into a wheel and unpacked into a folder that goes first on PYTHONPATH."""
    tree, wheels, site = folder / "tree", folder / "wheels", folder / "site"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), commit], check=True)
    try:
        pip = [sys.executable, "-m", "pip"]
        subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(tree)],
                       check=True, capture_output=True)
        subprocess.run([*pip, "install", "--no-deps", "-q", "--target", str(site), *map(str, wheels.glob("*.whl"))],
                       check=True, capture_output=True)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
    return site


def timed(args: list[str], path: Path, site: Path | None = None) -> tuple[float, str]:
    """`replies ARGS` on the database at `path` as a fresh process, run from that folder (so this checkout is
    not on the path): this tree's code, or the baseline's where `site` holds it."""
    env = {**os.environ, "REPLIES_DB": str(path), "XDG_CONFIG_HOME": str(path.parent / "config")}
    env.pop("PYTHONPATH", None)
    if site:
        env["PYTHONPATH"] = str(site)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "replies", *args], env=env, capture_output=True, text=True,
                          cwd=path.parent)
    took = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(done.stderr)
    return took, done.stdout + done.stderr


def copy_db(source: Path, target: Path) -> None:
    import sqlite3

    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def prepared(folder: Path, gold: int, site: Path | None) -> Path:
    """The bench database made, and classified zero-shot, by the code that will be timed on it (a baseline
    refuses a database that a newer version has migrated)."""
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | ({"PYTHONPATH": str(site)} if site else {})
    subprocess.run([sys.executable, __file__, "--make-db", str(folder), "--gold", str(gold)], env=env, cwd=folder,
                   check=True)
    path = folder / "bench.db"
    timed(["classify", "--method", "zero-shot"], path, site)  # the embeddings cached, as after a first classify
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=int, default=40)
    parser.add_argument("--baseline", default=BASELINE, help="the commit to compare with")
    parser.add_argument("--make-db", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_db:
        make_db(Path(args.make_db), args.gold)
        return
    with tempfile.TemporaryDirectory() as tmp:
        site = baseline_site(args.baseline, Path(tmp) / "baseline-code")
        sides = {name: (code, prepared(Path(tmp) / name, args.gold, code))
                 for name, code in (("baseline", site), ("ours", None))}
        print(f"{'classify, ' + str(args.gold) + ' gold':<22} {'baseline':>9} {'this tree':>10} {'ratio':>6}  "
              "methods chosen")
        for label, extra in (("automatic choice", []), ("--method few-shot", ["--method", "few-shot"])):
            figures = []
            for name, (code, source) in sides.items():
                folder = source.parent / ("few-shot" if extra else "auto")
                folder.mkdir()
                path = folder / "bench.db"
                copy_db(source, path)  # the same replies, gold and cached embeddings, no fine-tuned model
                took, said = timed(["classify", "--redo", *extra], path, code)
                chosen = next((line.split(" with ")[1].split(" (")[0] for line in said.splitlines()
                               if "replies classified with" in line), "?")
                figures.append((took, chosen))
            (base, base_method), (ours, our_method) = figures
            print(f"{label:<22} {base:8.1f}s {ours:9.1f}s {ours / base:6.2f}  {base_method} / {our_method}",
                  flush=True)


if __name__ == "__main__":
    main()
