"""Benchmark: classify 5,000 harvested replies and compare with the raw model and sentence-transformers.

Prints, from one run on this machine (same model folder, texts and batch size):
- end-to-end replies/s of `classify` (database in, labels written), model loading excluded and shown apart;
- the raw transformers forward pass (tokenise + model + mean pooling, on the same token-sorted batches);
- sentence-transformers' encode() on the same folder (what a user would reach for instead), if installed;
- the same classify with `--backend int8` (dynamically quantised encoder);
- the ratios; peak memory (max RSS) of a classify run at 1,000 and at 5,000 replies (each in its own
  process, to show whether memory grows with the number of replies);
- the wall time of a second `replies classify` (all cached) and of `replies classify --redo` (scores
  recomputed from cached embeddings), each as a fresh process, imports included.

    .venv/bin/python scripts/bench_classify.py [--replies 5000] [--batch-size 64]
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


def replies_texts(n: int, seed: int = 1) -> list[str]:
    """Distinct reply-like texts of varied length, built from the development set's sentences."""
    rng = random.Random(seed)
    base = [json.loads(line)["text"] for line in DEV.read_text().splitlines()]
    texts = []
    for i in range(n):
        parts = rng.sample(base, rng.choice((1, 1, 1, 2)))
        texts.append(" ".join(parts) + f" ({i})")
    return texts


def make_db(path: Path, n: int) -> None:
    sys.path.insert(0, str(ROOT))
    from replies import db
    database = db.open_db(path)
    db.upsert_thread(database, {"platform": "x", "id": "0", "text": "question"})
    db.store_replies(database, [{"platform": "x", "id": str(i + 1), "thread_id": "0", "kind": "reply",
                                 "status": "ok", "text": t} for i, t in enumerate(replies_texts(n))])
    database.close()


def child_classify(path: str, batch_size: int, backend: str) -> None:
    """Run in a subprocess: one classify, report timings and peak RSS as JSON."""
    sys.path.insert(0, str(ROOT))
    from replies import db
    from replies.classifier.model import Encoder
    from replies.classifier.run import classify
    from replies.codebook import load

    database = db.open_db(path)
    started = time.perf_counter()
    encoder = Encoder(backend=backend)
    loaded = time.perf_counter()
    result = classify(database, load(), batch_size=batch_size, encoder=encoder, backend=backend)
    finished = time.perf_counter()
    print(json.dumps({"replies": result.classified, "load_s": loaded - started, "classify_s": finished - loaded,
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def raw_forward(texts: list[str], batch_size: int) -> float:
    """The model alone on the batches classify forms (tokenised once, sorted by token count): no
    database, cache or heads."""
    from replies.classifier.model import Encoder, mean_pool
    encoder = Encoder()
    torch, tokenizer = encoder.torch, encoder.tokenizer
    started = time.perf_counter()
    encoded = tokenizer(texts, truncation=True, max_length=128)
    order = sorted(range(len(texts)), key=lambda i: len(encoded["input_ids"][i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            batch = tokenizer.pad({k: [encoded[k][i] for i in index] for k in encoded}, return_tensors="pt")
            mean_pool(encoder.model(**batch).last_hidden_state, batch["attention_mask"])
    return len(texts) / (time.perf_counter() - started)


def st_encode(texts: list[str], batch_size: int) -> float | None:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    from replies.classifier.model import default_model_dir
    model = SentenceTransformer(str(default_model_dir()), device="cpu")
    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - started)


def run_child(path: Path, batch_size: int, backend: str = "fp32") -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(path), "--batch-size", str(batch_size),
                          "--backend", backend],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli_time(args: list[str], db_path: Path) -> float:
    replies = Path(sys.executable).parent / "replies"
    started = time.perf_counter()
    subprocess.run([str(replies), *args, "--db", str(db_path)], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--child")
    parser.add_argument("--backend", default="fp32")
    args = parser.parse_args()
    if args.child:
        return child_classify(args.child, args.batch_size, args.backend)
    texts = replies_texts(args.replies)
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "small.db", Path(tmp) / "big.db"
        make_db(small, args.replies // 5)
        make_db(big, args.replies)
        few = run_child(small, args.batch_size)
        many = run_child(big, args.batch_size)
        int8_db = Path(tmp) / "int8.db"
        make_db(int8_db, args.replies)
        int8 = run_child(int8_db, args.batch_size, "int8")
        cached = cli_time(["classify"], big)
        redo = cli_time(["classify", "--redo"], big)
    sys.path.insert(0, str(ROOT))
    raw = raw_forward(texts, args.batch_size)
    st = st_encode(texts, args.batch_size)
    e2e = many["replies"] / many["classify_s"]
    print(f"classify end to end: {e2e:,.0f} replies/s ({many['replies']} replies in {many['classify_s']:.1f}s; "
          f"model load {many['load_s']:.1f}s apart), batch {args.batch_size}")
    print(f"raw transformers forward pass: {raw:,.0f} texts/s  -> classify is {e2e / raw:.2f}x of it")
    e2e_int8 = int8["replies"] / int8["classify_s"]
    print(f"classify --backend int8 end to end: {e2e_int8:,.0f} replies/s  -> {e2e_int8 / raw:.2f}x the fp32 "
          "raw forward pass")
    if st:
        print(f"sentence-transformers encode(): {st:,.0f} texts/s  -> classify is {e2e / st:.2f}x of it (fp32), "
              f"{e2e_int8 / st:.2f}x (int8)")
    else:
        print("sentence-transformers not installed: pip install sentence-transformers to compare")
    print(f"peak memory (max RSS): {few['max_rss_mb']:,.0f} MB at {few['replies']} replies, "
          f"{many['max_rss_mb']:,.0f} MB at {many['replies']} replies")
    print(f"second `replies classify` (all cached): {cached:.2f}s; `replies classify --redo` "
          f"(scores from cached embeddings): {redo:.2f}s")


if __name__ == "__main__":
    main()
