"""Classification through the CLI on temporary databases with the packaged model."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from replies import db
from replies.classifier.errors import ModelError
from replies.classifier.model import default_model_dir, verify_default_weights
from replies.codebook import load
from replies.db import labels as stored_labels
from tests.helpers import count, rows

DATA = Path(__file__).resolve().parent / "data"
LEAN_IDS = ["workforce_protectionism", "policy", "money", "time_resources", "healthcare_different",
            "lean_misconceptions", "leadership"]


def load_dev(path: Path, dataset: str = "lean_nhs_dev.jsonl", limit: int | None = None) -> dict[str, list[str]]:
    items = [json.loads(line) for line in (DATA / dataset).read_text().splitlines()][:limit]
    database = db.open_db(path)
    db.upsert_thread(database, {"platform": "x", "id": "0", "text": "Why is lean harder in the NHS?"})
    db.store_replies(database, [{"platform": "x", "id": str(i + 1), "thread_id": "0", "kind": "reply",
                                 "status": "ok", "text": item["text"]} for i, item in enumerate(items)])
    database.close()
    return {str(i + 1): item["labels"] for i, item in enumerate(items)}


@pytest.fixture
def dev_db(env):
    truth = load_dev(Path(env["REPLIES_DB"]), limit=60)
    return env["REPLIES_DB"], truth


def test_classify_stores_scores_with_provenance_and_caches_embeddings(run, dev_db):
    path, truth = dev_db
    first = run("classify")
    assert "60 replies classified with zero-shot (all-MiniLM-L6-v2)" in first.output
    for category in LEAN_IDS:
        assert category in first.output
    conn = sqlite3.connect(path)
    rows = conn.execute("select distinct method, model, codebook, codebook_hash from predictions").fetchall()
    assert len(rows) == 1 and rows[0][:3] == ("zero-shot", "all-MiniLM-L6-v2", "lean_nhs")
    # calibrated on these replies: a cut per category, recorded on each prediction and on the run
    cuts = dict(conn.execute("select distinct category, threshold from predictions").fetchall())
    assert set(cuts) == set(LEAN_IDS) and len(set(cuts.values())) > 1 and all(0.25 <= t < 1 for t in cuts.values())
    assert json.loads(conn.execute("select thresholds from classify_runs").fetchone()[0]) == cuts
    assert conn.execute("select count(*) from predictions where predicted != (score >= threshold)").fetchone()[0] == 0
    assert conn.execute("select count(*) from predictions").fetchone()[0] == 60 * len(LEAN_IDS)
    assert conn.execute("select min(score) >= 0 and max(score) <= 1 from predictions").fetchone()[0] == 1
    embedded = conn.execute("select count(*) from embeddings").fetchone()[0]
    second = run("classify")
    assert second.output.startswith("0 replies classified")
    redo = run("classify", "--redo")
    assert "60 replies classified" in redo.output and "0 embedded" in redo.output
    assert conn.execute("select count(*) from embeddings").fetchone()[0] == embedded
    # The export carries the predicted labels and scores.
    records = [json.loads(line) for line in run("export", "--format", "jsonl").output.splitlines()]
    assert len(records) == 60
    assert set(records[0]) == {"platform", "id", "thread", "parent_id", "depth", "kind", "author", "text", "spoiler_text",
                               "quote_of", "created_at",
                               "url", "labels", "scores", "gold", "gold_codebook", "samples"}
    assert set(records[0]["scores"]) == set(LEAN_IDS)
    predicted = {}
    for reply_id, category in conn.execute("select id, category from predictions where predicted = 1"):
        predicted.setdefault(reply_id, []).append(category)
    for record in records:
        assert record["labels"] == sorted(predicted.get(record["id"], []))
    # Labels beat chance by a wide margin on replies written in the voice of real ones.
    from sklearn.metrics import f1_score
    y = [[int(c in truth[r["id"]]) for c in LEAN_IDS] for r in records]
    p = [[int(c in r["labels"]) for c in LEAN_IDS] for r in records]
    assert f1_score(y, p, average="macro", zero_division=0) > 0.5


def test_a_fixed_threshold_turns_calibration_off(run, dev_db, tiny_encoder):
    path, _ = dev_db
    run("classify", "--threshold", "0.5", "--model", tiny_encoder)
    conn = sqlite3.connect(path)
    assert conn.execute("select distinct threshold from predictions").fetchall() == [(0.5,)]
    assert conn.execute("select count(*) from predictions where predicted != (score >= 0.5)").fetchone()[0] == 0
    assert "must be above 0" in run("classify", "--labels-per-reply", "0", code=1).output


def test_calibration_follows_the_replies_scores():
    """Synthetic scores: each category's cut falls where its expected share of the labels puts it, never
    under the floor, and a category the replies do not raise is not handed out to fill a quota."""
    import numpy as np

    from replies.classifier.calibrate import rank_share_thresholds

    rng = np.random.default_rng(0)
    n = 1000
    scores = np.column_stack([rng.uniform(0.2, 0.6, n),           # a common category, scored low by the heads
                              rng.uniform(0.0, 0.3, n),           # a rare one
                              np.full(n, 0.05)])                  # one nobody raises
    cuts = rank_share_thresholds(scores, labels_per_reply=1.0)
    shares = (scores / scores.sum(1, keepdims=True)).mean(0)
    given = (scores >= cuts).mean(0)
    assert abs(given[0] - shares[0]) < 0.01  # given on as many replies as its share of the labels
    # the rare one's quota would reach down to 0.23: the floor stops it at 0.25
    assert np.quantile(scores[:, 1], 1 - shares[1]) < 0.25 == cuts[1] and given[1] < shares[1]
    assert cuts[0] < 0.5  # the low-scored common category is given well below the old fixed 0.5
    assert cuts[2] == 0.25 and given[2] == 0  # the floor: never handed out
    more = rank_share_thresholds(scores, labels_per_reply=1.5)
    assert (more <= cuts).all() and more[0] < cuts[0]  # more labels a reply: lower cuts
    assert rank_share_thresholds(np.zeros((0, 3))).tolist() == [0.25] * 3
    assert rank_share_thresholds(np.zeros((4, 2))).tolist() == [0.25, 0.25]  # all-zero rows: no division by 0


def test_held_out_folds_share_out_each_category_whatever_the_gold_order():
    """Held-out fine-tuning (scripts/eval_ceiling.py) splits the gold the same way however it was labelled, and
    each half holds about half of every category."""
    import numpy as np

    from replies.classifier.finetune import dealt_order

    rng = np.random.default_rng(0)
    texts = [f"reply {i}" for i in range(40)]
    targets = np.zeros((40, 3), dtype=int)
    targets[np.arange(40), np.arange(40) % 3] = 1
    targets[:5, 2] = 1  # a second label on some
    targets[-4:] = 0    # and some with none
    def halves(order_of_labelling):
        t = [texts[i] for i in order_of_labelling]
        order = dealt_order(t, targets[order_of_labelling])
        return [{t[i] for i in order[fold::2]} for fold in range(2)]
    first = halves(np.arange(40))
    assert halves(rng.permutation(40)) == first == halves(np.arange(40)[::-1])
    row = dict(zip(texts, targets))
    for category in range(3):
        leading = [sum(row[t].any() and row[t].argmax() == category for t in half) for half in first]
        assert abs(leading[0] - leading[1]) <= 1, (category, leading)  # replies whose first category it is
        assert min(sum(row[t][category] for t in half) for half in first) >= 4


def test_new_replies_only_are_embedded(run, dev_db, tiny_encoder):
    path, _ = dev_db
    run("classify", "--model", tiny_encoder)
    database = db.open_db(path)
    db.store_replies(database, [{"platform": "x", "id": "999", "thread_id": "0", "kind": "reply", "status": "ok",
                                 "text": "Nobody gets backfill so improvement happens on our days off."}])
    result = run("classify", "--model", tiny_encoder)
    assert "1 replies classified" in result.output and "1 embedded" in result.output


def test_labels_evaluate_and_agreement(run, dev_db, tmp_path):
    path, truth = dev_db
    run("classify")
    run("label", "x:1", *truth["1"], "--reviewer", "ann")
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text("".join(json.dumps({"platform": "x", "id": k, "labels": truth[k]}) + "\n"
                             for k in list(truth)[:30]))
    assert "30 replies labelled by ann" in run("import-labels", jsonl, "--reviewer", "ann").output
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("platform,id,labels\n" + "".join(
        f"x,{k},{';'.join(truth[k] if int(k) % 3 else ['money'])}\n" for k in list(truth)[:30]))
    run("import-labels", csv_file, "--reviewer", "bob")
    result = run("evaluate", "--json")
    report = json.loads(result.output)
    assert report["compared"] == 30
    assert {r["category"] for r in report["per_category"]} == set(LEAN_IDS)
    kappas = {r["category"]: r["kappa"] for r in report["agreement"]}
    assert set(kappas) == set(LEAN_IDS) and min(k for k in kappas.values() if k is not None) < 1
    table = run("evaluate").output
    assert "macro average" in table and "kappa" in table
    exported = {json.loads(line)["id"]: json.loads(line) for line in run("export").output.splitlines()}
    assert exported["40"]["gold"] is None and exported["2"]["gold"] is not None
    # the macro F1 is the mean over categories of each one's F1, counted here by hand from the export
    reviewed = [r for r in exported.values() if r["gold"] is not None]
    f1s = []
    for c in LEAN_IDS:
        tp = sum(c in r["labels"] and c in r["gold"] for r in reviewed)
        wrong = sum((c in r["labels"]) != (c in r["gold"]) for r in reviewed)
        f1s.append(2 * tp / (2 * tp + wrong) if tp + wrong else None)  # None: nobody gave it, nor the model
    measured = [f for f in f1s if f is not None]
    assert report["macro"]["f1"] == pytest.approx(sum(measured) / len(measured), abs=0.001)
    assert {r["category"]: r["f1"] for r in report["per_category"]} == {
        c: (pytest.approx(f, abs=0.001) if f is not None else None) for c, f in zip(LEAN_IDS, f1s)}


def test_bad_labels_are_refused_whole(run, dev_db, tmp_path):
    path, _ = dev_db
    result = run("label", "x:1", "money", "astrology", code=1)
    assert "unknown category 'astrology'" in result.stderr
    assert "no reply x:424242" in run("label", "x:424242", "money", code=1).stderr
    assert "not PLATFORM:ID" in run("label", "tumblr:1", "money", code=1).stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"platform": "x", "id": "1", "labels": ["money"]}\n'
                   '{"platform": "x", "id": "2", "labels": ["nonsense"]}\n')
    result = run("import-labels", bad, code=1)
    assert f"{bad}:2: unknown category 'nonsense'" in result.stderr
    assert count(path, "select count(*) from gold_labels") == 0


def test_codebook_errors_name_file_and_line(run, dev_db, tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: t\ncategories:\n  - id: a\n    label: A\n    description: first\n"
                   "  - id: a\n    label: A again\n    description: second\n")
    result = run("classify", "--codebook", dup, code=1)
    assert f"{dup}:6: duplicate category id 'a' (first on line 3)" in result.stderr
    empty = tmp_path / "empty.yaml"
    empty.write_text("name: t\ncategories: []\n")
    assert f"{empty}:2: `categories` must be a non-empty list" in run("classify", "--codebook", empty, code=1).stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: t\ncategories:\n  - id: [unclosed\n")
    assert "not valid YAML" in run("classify", "--codebook", broken, code=1).stderr
    assert "cannot read codebook" in run("classify", "--codebook", tmp_path / "none.yaml", code=1).stderr
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    assert run("classify", "--codebook", latin, code=1).stderr == (
        f"Error: {latin}: not UTF-8 text (byte 9); save the codebook as UTF-8 YAML\n")
    assert count(dev_db[0], "select count(*) from predictions") == 0


def test_other_codebooks_work_and_nothing_is_half_written(run, env, tmp_path, tiny_encoder):
    """Classify stopped mid-way (Ctrl-C) has stored each reply whole, every category or none, and a rerun
    classifies exactly the rest."""
    from replies.classifier.run import classify
    from replies.codebook import load

    truth = load_dev(Path(env["REPLIES_DB"]))
    cycling = load(DATA / "cycling.yaml")

    def stop(stage, done, total):
        if stage == "classifying" and done > 64:  # the bar moves inside a chunk too: stop once one is stored
            raise KeyboardInterrupt

    database = db.open_db(env["REPLIES_DB"])
    with pytest.raises(KeyboardInterrupt):  # --batch-size 1: the first chunk is 64 replies
        classify(database, cycling, batch_size=1, progress=stop, model=str(tiny_encoder))
    database.close()
    per_reply = [n for (n,) in sqlite3.connect(env["REPLIES_DB"]).execute(
        "select count(*) from predictions group by platform, id")]
    assert len(per_reply) == 64 and set(per_reply) == {len(cycling.categories)}
    result = run("classify", "--codebook", DATA / "cycling.yaml", "--model", tiny_encoder)
    assert f"{len(truth) - 64} replies classified" in result.output and "cycling_barriers" in result.output
    assert "safety" in result.output and "money" not in result.output
    assert count(env["REPLIES_DB"], "select count(distinct id) from predictions") == len(truth)


def test_empty_database_and_missing_model(run, env, tmp_path):
    db.open_db(env["REPLIES_DB"]).conn.close()  # a database with no replies yet
    assert "no replies to classify" in run("classify", code=1).stderr
    load_dev(Path(env["REPLIES_DB"]), limit=5)
    assert "does not exist" in run("classify", "--model", tmp_path / "no-such-model", code=1).stderr
    not_a_model = tmp_path / "folder"
    not_a_model.mkdir()
    assert "no config.json" in run("classify", "--model", not_a_model, code=1).stderr
    assert "cannot load model" in run("classify", "--model", "example-org/not-cached-model", code=1).stderr
    assert count(env["REPLIES_DB"], "select count(*) from predictions") == 0


def test_altered_weights_are_detected(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(default_model_dir(), copy)
    verify_default_weights(copy)
    with (copy / "model.safetensors").open("r+b") as handle:
        handle.seek(5000)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(ModelError, match="altered"):
        verify_default_weights(copy)


@pytest.mark.slow
def test_a_fine_tuned_model_is_saved_whole_and_one_kept_first_is_left_alone(tmp_path, tiny_encoder):
    """Two runs training the same model at once: the second finds the folder kept and leaves it as it is. The
    first fine-tunes the packaged model itself (the one test that does); the second a tiny stand-in."""
    import numpy as np

    from replies.classifier.finetune import finetune
    from replies.classifier.model import Encoder

    texts = ["no time to do it", "no money for it", "short of staff", "the budget is cut"]
    targets = np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    umask = os.umask(0o027)
    try:
        saved = finetune(Encoder(None), texts, targets, tmp_path / "setfit-a")
    finally:
        os.umask(umask)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["setfit-a"]
    assert (saved / "config.json").is_file()
    assert saved.stat().st_mode & 0o777 == 0o750  # the umask's permissions, as any folder made here
    kept = tmp_path / "setfit-b"
    kept.mkdir()
    (kept / "marker").write_text("first")
    assert finetune(Encoder(str(tiny_encoder)), texts, targets, kept) == kept
    assert [p.name for p in kept.iterdir()] == ["marker"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["setfit-a", "setfit-b"]


def test_few_shot_fine_tunes_on_gold_once_and_auto_uses_it_when_the_gold_suffices(run, env, tmp_path, tiny_encoder):
    """What classify does around fine-tuning (kept models, reuse, the automatic choice), on a tiny encoder: how
    well few-shot codes is measured by scripts/eval_quality.py, and the real model is fine-tuned in the test of
    a fine-tuned model's folder above."""
    truth = load_dev(Path(env["REPLIES_DB"]), "cycling_dev.jsonl")
    gold = tmp_path / "gold.jsonl"
    keys = [k for k in truth if truth[k]]  # every category 9 or more: enough for few-shot and the check
    gold.write_text("".join(json.dumps({"platform": "x", "id": k, "labels": truth[k]}) + "\n" for k in keys))
    run("import-labels", gold, "--codebook", DATA / "cycling.yaml")
    result = run("classify", "--codebook", DATA / "cycling.yaml", "--method", "few-shot", "--model", tiny_encoder)
    assert "with few-shot" in result.output and "setfit" in result.output
    assert f"Zero-shot macro-F1 on {len(keys)} gold replies" in result.stderr
    models = Path(env["REPLIES_DB"]).parent / ".replies-models"
    assert list(models.iterdir())
    again = run("classify", "--codebook", DATA / "cycling.yaml", "--method", "few-shot", "--redo", "--model", tiny_encoder)
    assert "0 embedded" in again.output  # the fine-tuned model is kept and its embeddings cached
    # Re-labelling a reply as it was makes it the last one labelled; the gold is the same, so the kept model
    # is still the one to use (before, the labelling order named the model, and it was fine-tuned again).
    book = load(DATA / "cycling.yaml")
    stored_order = lambda: [(r["platform"], r["id"]) for r in rows(
        env["REPLIES_DB"], "select platform, id from gold_current where codebook = ? order by created_at, platform, id",
        [book.name])]
    before = stored_order()
    (tmp_path / "first.jsonl").write_text(json.dumps({"platform": "x", "id": before[0][1],
                                                      "labels": truth[before[0][1]]}) + "\n")
    run("import-labels", tmp_path / "first.jsonl", "--codebook", DATA / "cycling.yaml")
    assert stored_order() != before and sorted(stored_order()) == sorted(before)
    relabelled = run("classify", "--codebook", DATA / "cycling.yaml", "--method", "few-shot", "--redo", "--model", tiny_encoder)
    assert "0 embedded" in relabelled.output and len(list(models.glob("setfit-*"))) == 1

    def last_run() -> tuple[str, float, float]:
        with sqlite3.connect(env["REPLIES_DB"]) as conn:
            return conn.execute("select method, cv_zero_shot, cv_few_shot from classify_runs "
                                "order by id desc").fetchone()

    # no --method, every category with 5 or more gold: few-shot, from the kept model (no fine-tuning, no
    # fine-tuned check on halves of the gold: nothing more is trained or kept)
    kept = sorted(p.name for p in models.iterdir())
    auto = run("classify", "--codebook", DATA / "cycling.yaml", "--redo", "--model", tiny_encoder)
    method, zero, few = last_run()
    assert method == "few-shot" and few is None and 0 <= zero <= 1
    assert "with few-shot" in auto.output and "0 embedded" in auto.output and "Fine-tuning" not in auto.output
    assert f"Zero-shot macro-F1 on {len(keys)} gold replies: {zero:.3f} (it never saw them)" in auto.stderr
    assert sorted(p.name for p in models.iterdir()) == kept


def test_few_shot_without_gold_is_a_clear_error(run, dev_db):
    assert "few-shot needs gold labels" in run("classify", "--method", "few-shot", code=1).stderr


def test_nli_method_runs_the_pipeline_on_a_tiny_model(run, env, tmp_path):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = tmp_path / "tiny-mnli"
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=37, num_labels=3,
                        id2label={0: "contradiction", 1: "neutral", 2: "entailment"},
                        label2id={"contradiction": 0, "neutral": 1, "entailment": 2})
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(default_model_dir()).save_pretrained(folder)
    load_dev(Path(env["REPLIES_DB"]), limit=6)
    result = run("classify", "--method", "nli", "--model", folder)
    assert "6 replies classified with nli" in result.output
    conn = sqlite3.connect(env["REPLIES_DB"])
    assert conn.execute("select count(*), min(score) >= 0, max(score) <= 1 from predictions "
                        "where method = 'nli'").fetchone() == (6 * len(LEAN_IDS), 1, 1)


def test_int8_backend_caches_apart_and_labels_like_fp32(run, env):
    truth = load_dev(Path(env["REPLIES_DB"]), limit=40)
    run("classify")
    result = run("classify", "--backend", "int8")
    assert "40 replies classified" in result.output and "all-MiniLM-L6-v2+int8-ort2" in result.output
    conn = sqlite3.connect(env["REPLIES_DB"])
    models = {m for (m,) in conn.execute("select distinct model from embeddings")}
    assert models == {"all-MiniLM-L6-v2", "all-MiniLM-L6-v2+int8-ort2"}
    # fp32's labels were replaced by int8's for the same codebook; compare against the truth instead.
    from sklearn.metrics import f1_score
    records = [json.loads(line) for line in run("export").output.splitlines()]
    y = [[int(c in truth[r["id"]]) for c in LEAN_IDS] for r in records]
    p = [[int(c in r["labels"]) for c in LEAN_IDS] for r in records]
    assert f1_score(y, p, average="macro", zero_division=0) > 0.5


def test_import_labels_reads_files_as_excel_and_windows_editors_save_them(run, dev_db, tmp_path):
    """Excel's "CSV UTF-8" starts with a byte-order mark and ends lines with CRLF; so does JSONL saved by
    Notepad. Both are read, not refused for want of a `platform` column."""
    path, truth = dev_db
    ids = list(truth)[:12]
    excel = tmp_path / "excel.csv"
    excel.write_bytes(b"\xef\xbb\xbfplatform,id,labels\r\n" +
                      "".join(f"x,{k},{';'.join(truth[k])}\r\n" for k in ids).encode())
    assert "12 replies labelled by cy" in run("import-labels", excel, "--reviewer", "cy").output
    notepad = tmp_path / "notepad.jsonl"
    notepad.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps({"platform": "x", "id": k, "labels": truth[k]})
                                                 + "\r\n" for k in ids).encode())
    assert "12 replies labelled by di" in run("import-labels", notepad, "--reviewer", "di").output
    for reviewer in ("cy", "di"):
        stored = rows(path, "select id, labels from gold_labels where reviewer = ?", [reviewer])
        assert {r["id"]: sorted(json.loads(r["labels"])) for r in stored} == {k: sorted(truth[k]) for k in ids}


def test_import_labels_counts_rows_and_replies_apart_and_streams(run, dev_db, tmp_path):
    """A file naming the same replies many times: rows read and replies labelled are told apart, and the
    file is read a line at a time (memory does not grow with it)."""
    import subprocess
    import sys

    path, truth = dev_db
    keys = list(truth)[:5]
    big = tmp_path / "repeated.jsonl"
    line_of = lambda k: json.dumps({"platform": "x", "id": k, "labels": ["money"]}) + "\n"
    with big.open("w") as handle:
        for _ in range(20_000):  # 100,000 rows, about 5 MB, for 5 replies
            handle.writelines(line_of(k) for k in keys)
    result = run("import-labels", big, "--reviewer", "ann")
    assert "5 replies labelled by ann (100000 label rows read)" in result.output
    assert count(path, "select count(*) from gold_labels") == 5
    def peak_mb(labels_file, reviewer: str) -> int:
        """Peak memory of `replies import-labels` on `labels_file`, in its own process."""
        child = subprocess.run([sys.executable, "-c", (
            "import resource, sys; from replies.cli import main\n"
            "try: main(['import-labels', sys.argv[1], '--db', sys.argv[2], '--reviewer', sys.argv[3]])\n"
            "except SystemExit: pass\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"), str(labels_file), str(path),
            reviewer], capture_output=True, text=True)
        return int(child.stdout.split()[-1])

    small = tmp_path / "small.jsonl"
    small.write_text("".join(line_of(k) for k in keys))
    big_peak, small_peak = peak_mb(big, "bob"), peak_mb(small, "cy")
    assert big_peak < small_peak + 30, (big_peak, small_peak)  # flat, not +70 MB


def test_int8_leaves_attention_scores_and_early_feed_forward_outputs_in_fp32():
    """Which MatMuls the int8 export keeps in fp32: those between two activations (attention scores),
    and the feed-forward output projections of every layer but the last; every other weight is quantised."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from replies.classifier.model import fp32_matmuls

    nodes, weights = [], []
    for layer in range(3):
        for part in ("attention/self/query", "attention/output/dense", "intermediate/dense", "output/dense"):
            name = f"/inner/encoder/layer.{layer}/{part}/MatMul"
            weights.append(numpy_helper.from_array(np.zeros((2, 2), np.float32), f"w{len(weights)}"))
            nodes.append(helper.make_node("MatMul", ["x", weights[-1].name], [name + "_out"], name=name))
        score = f"/inner/encoder/layer.{layer}/attention/self/MatMul"
        nodes.append(helper.make_node("MatMul", ["q", "k"], [score + "_out"], name=score))
    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])
    graph = helper.make_graph(nodes, "g", [value], [value], initializer=weights)
    assert sorted(fp32_matmuls(graph, 3)) == sorted(
        [f"/inner/encoder/layer.{i}/attention/self/MatMul" for i in range(3)]
        + [f"/inner/encoder/layer.{i}/output/dense/MatMul" for i in range(2)])


def test_agreement_on_a_handful_of_replies_says_what_it_cannot_tell(run, dev_db, tiny_encoder):
    """Five reviewed replies: categories nobody gave and the model never predicted are n/a, not 0, and left out
    of the macro average; kappa is n/a where neither reviewer gave a category; a warning says 5 is too few."""
    path, truth = dev_db
    run("classify", "--model", tiny_encoder, "--threshold", "0.999")  # the model predicts (almost) nothing
    five = [k for k in truth if truth[k]][:5]
    for k in five:
        run("label", f"x:{k}", truth[k][0], "--reviewer", "ann")
        run("label", f"x:{k}", truth[k][0], "--reviewer", "bob")
    report = json.loads(run("evaluate", "--json").output)
    given = {truth[k][0] for k in five}
    rows = {r["category"]: r for r in report["per_category"]}
    predicted = {c for c, r in rows.items() if r["precision"] is not None}
    for c in LEAN_IDS:
        if c not in given and c not in predicted:
            assert (rows[c]["precision"], rows[c]["recall"], rows[c]["f1"]) == (None, None, None)
        if c in given:
            assert rows[c]["recall"] is not None and rows[c]["f1"] is not None
    measured = [r["f1"] for r in rows.values() if r["f1"] is not None]
    assert report["macro"]["f1"] == pytest.approx(sum(measured) / len(measured), abs=0.001)
    kappas = {r["category"]: r["kappa"] for r in report["agreement"]}
    assert all(kappas[c] is None for c in LEAN_IDS if c not in given)
    assert all(kappas[c] == 1.0 for c in given)
    table = run("evaluate")
    assert "n/a" in table.output and "only 5 replies" in table.stderr


def test_adjudication_with_one_reviewer_says_there_is_nothing_to_adjudicate(dev_db, tmp_path):
    from replies.codebook import load
    from replies.web.app import create_app

    path, truth = dev_db
    first = next(k for k in truth if truth[k])
    database = db.open_db(path)
    stored_labels.set_gold(database, [{"platform": "x", "id": first, "codebook": "lean_nhs", "reviewer": "ann",
                                       "labels": truth[first]}])
    app = create_app(path, load(), reviewer="ann")
    page = app.test_client().get("/adjudicate", headers={"Host": "127.0.0.1"}).get_data(as_text=True)
    assert "they agreed" not in page and "adjudication needs two" in page


def test_few_shot_waits_for_enough_gold_and_says_how_much_more(run, dev_db, tiny_encoder):
    """Five labelled replies: the automatic choice does not fine-tune (it took most of an hour on a busy
    machine); it runs zero-shot at once and says how many more labels each category needs."""
    path, truth = dev_db
    for k in [k for k in truth if truth[k]][:5]:
        run("label", f"x:{k}", *truth[k])
    result = run("classify", "--model", tiny_encoder)
    assert "with zero-shot" in result.output
    assert "few-shot waits until every category has 5 reviewed replies" in result.stderr
    assert "more labels needed" in result.stderr and "only 5 replies" in result.stderr
    models = Path(path).parent / ".replies-models"
    assert not models.exists() or not list(models.iterdir())  # nothing was fine-tuned


def test_codebooks_by_name_a_template_and_a_notice_when_the_one_in_use_is_not_the_default(run, dev_db, tmp_path,
                                                                                          tiny_encoder):
    listed = run("codebook", "list", "--json").output
    assert json.loads(listed)[0]["name"] == "lean_nhs"
    assert run("codebook", "show", "lean_nhs").output.startswith("# Default codebook")
    mine = tmp_path / "mine.yaml"
    mine.write_text(run("codebook", "template").output.replace("name: lean_nhs", "name: mine"))
    assert load(mine).name == "mine" and load(mine).ids == load().ids  # the template is a working codebook
    run("classify", "--codebook", mine, "--model", tiny_encoder)
    stats = run("stats")
    assert "Codebook: mine" in stats.stderr and "--codebook lean_nhs for the bundled one" in stats.stderr
    back = run("stats", "--codebook", "lean_nhs")  # the bundled codebook by name, as anywhere --codebook is taken
    assert "Codebook:" not in back.stderr and "lean_nhs" in back.output
    missing = run("stats", "--codebook", "lean_nsh", code=1)
    assert "no codebook file or bundled codebook called 'lean_nsh' (bundled: lean_nhs" in missing.stderr


@pytest.mark.parametrize("args,refused", [
    (["--method", "zero-shot", "--concurrency", "8"], "--concurrency is for --method llm, not zero-shot"),
    (["--concurrency", "2"], "--concurrency is for --method llm, not auto"),
    (["--method", "nli", "--model", "x", "--dry-run"], "--dry-run is for --method llm, not nli"),
    (["--method", "llm", "--backend", "int8"], "--backend is for --method auto or zero-shot or few-shot, not llm"),
    (["--method", "nli", "--model", "x", "--labels-per-reply", "2"], "--labels-per-reply is for --method auto or "
                                                                     "zero-shot or few-shot, not nli"),
])
def test_an_option_the_chosen_method_would_ignore_is_refused(run, args, refused):
    """An option only another method reads is a usage error, not silently dropped (its default included: the
    refusal is for what the user typed)."""
    result = run("classify", *args, code=2)
    assert refused in result.stderr


def test_importing_the_classifier_leaves_the_environment_as_it_was(tmp_path):
    """Offline is passed to each load (`local_files_only`), not written into the process environment that a
    program using replies as a library shares."""
    import subprocess
    import sys

    code = ("import os\n"
            "from replies.classifier import model, nli, run, embed\n"
            "print('HF_HUB_OFFLINE' in os.environ, model.offline())\n")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert ran.stdout.split() == ["False", "True"], ran.stderr
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={**env, "HF_HUB_OFFLINE": "0"})
    assert ran.stdout.split() == ["True", "False"], ran.stderr


def test_a_model_name_that_is_not_on_this_machine_is_refused_without_the_network(run, env):
    """A hub name not in the local cache fails at once, offline, with one line (no download is tried)."""
    from replies.classifier.model import Encoder

    with pytest.raises(ModelError, match="offline: only local folders and cached models"):
        Encoder("no-such-org/no-such-encoder")


def test_classify_shows_each_step_from_its_start_with_counts_and_a_time_left(dev_db, env):
    """On a fresh database: a line as soon as the model starts loading, then bars that move with each batch
    (not one that fills at the end) and say how long is left; the summary's counts add up."""
    pexpect = pytest.importorskip("pexpect")
    import sys

    child = pexpect.spawn(sys.executable, ["-m", "replies", "classify", "--batch-size", "8"],
                          env={**os.environ, **env, "TERM": "xterm"}, encoding="utf-8", timeout=300,
                          dimensions=(40, 120))
    child.expect(pexpect.EOF)
    screen = child.before
    assert screen.lstrip("\r\x1b[?25l").startswith("Loading the model  [")
    steps = re.findall(r"(Embedding the codebook|Classifying) +\[[#-]+\] +(\d+)/(\d+)( +\d\d:\d\d:\d\d)?", screen)
    classifying = [(int(done), eta) for name, done, total, eta in steps if name == "Classifying" and total == "60"]
    assert [done for done, _ in classifying] == list(range(0, 60, 8)) + [60]
    assert any(eta for _, eta in classifying) and any(name == "Embedding the codebook" for name, *_ in steps)
    assert "60 replies classified with zero-shot" in screen and "60 embedded now, 0 from the cache" in screen
    again = pexpect.spawn(sys.executable, ["-m", "replies", "classify", "--redo"], env={**os.environ, **env},
                          encoding="utf-8", timeout=300)
    again.expect(pexpect.EOF)
    assert "60 replies classified" in again.before and "0 embedded now, 60 from the cache" in again.before
