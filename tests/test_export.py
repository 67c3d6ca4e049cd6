"""`replies export` in every format, splits, pseudonyms, Label Studio round trips and bad input."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replies.files import WriteError, atomic_file, atomic_folder
from tests.helpers import rows

LEAN_IDS = ["workforce_protectionism", "policy", "money", "time_resources", "healthcare_different",
            "lean_misconceptions", "leadership"]
FIELDS = ["platform", "id", "thread", "parent_id", "depth", "kind", "author", "text", "spoiler_text", "quote_of", "created_at", "url", "labels",
          "scores", "gold", "gold_codebook", "samples"]
CSV_FIELDS = [*FIELDS[:FIELDS.index("gold") + 1], "coded", *FIELDS[FIELDS.index("gold") + 1:]]
CATEGORY_COLUMNS = [f"gold_{c}" for c in LEAN_IDS] + [f"model_{c}" for c in LEAN_IDS]



def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def label_some(cli, classified, n=6):
    replies = rows(classified, "select platform, id from replies where status = 'ok' order by id limit ?", (n,))
    for i, r in enumerate(replies):
        cli("label", f"{r['platform']}:{r['id']}", *LEAN_IDS[i % 3: i % 3 + 2], "--reviewer", "ann")
    return replies


def test_jsonl_keeps_the_field_contract(cli, classified):
    labelled = label_some(cli, classified, 2)
    records = jsonl(cli("export").output)
    ok = rows(classified, "select * from replies where status = 'ok'")
    assert len(records) == len(ok) and all(list(r) == FIELDS for r in records)
    by_key = {(r["platform"], r["id"]): r for r in records}
    for reply in ok:
        record = by_key[(reply["platform"], reply["id"])]
        assert (record["text"], record["author"], record["url"]) == (reply["text"], reply["author_handle"],
                                                                     reply["url"])
        predicted = rows(classified, "select category, score, predicted from predictions where platform = ? "
                                     "and id = ?", (reply["platform"], reply["id"]))
        assert sorted(record["labels"]) == sorted(p["category"] for p in predicted if p["predicted"])
        assert record["scores"] == {p["category"]: pytest.approx(p["score"], abs=1e-4) for p in predicted}
    # depth: 1 for a reply to the question, one more for each reply above it (walked here by hand)
    parents = {(r["platform"], r["id"]): r["parent_id"] for r in ok}
    for (platform, reply_id), record in by_key.items():
        depth, parent = 1, parents[(platform, reply_id)]
        while (platform, parent) in parents:
            depth, parent = depth + 1, parents[(platform, parent)]
        assert record["depth"] == depth, (platform, reply_id)
    assert max(r["depth"] for r in records if r["platform"] == "mastodon") == 22
    first = by_key[(labelled[0]["platform"], labelled[0]["id"])]
    assert first["gold"] == sorted(LEAN_IDS[0:2])
    gold_only = jsonl(cli("export", "--gold-only").output)
    assert {(r["platform"], r["id"]) for r in gold_only} == {(r["platform"], r["id"]) for r in labelled}


def coded_and_sampled(cli, classified):
    """Three replies coded (one with no category), a sample of 5 drawn: the records, by key, from JSONL."""
    label_some(cli, classified, 2)
    empty = rows(classified, "select platform, id from replies where status = 'ok' order by id desc limit 1")[0]
    cli("label", f"{empty['platform']}:{empty['id']}", "--reviewer", "ann")
    cli("sample", "--size", "5", "first", "--seed", "3")
    return {(r["platform"], r["id"]): r for r in jsonl(cli("export").output)}, (empty["platform"], empty["id"])


def test_csv_keeps_human_and_model_codes_apart(cli, classified):
    records, empty = coded_and_sampled(cli, classified)
    table = list(csv.DictReader(io.StringIO(cli("export", "--format", "csv").output)))
    assert len(table) == len(records)
    assert list(table[0]) == CSV_FIELDS + CATEGORY_COLUMNS
    by_key = {(row["platform"], row["id"]): row for row in table}
    # coded with no category: `gold` empty as for a reply never coded, but `coded` tells them apart
    assert records[empty]["gold"] == [] and by_key[empty]["gold"] == "" and by_key[empty]["coded"] == "1"
    assert [by_key[empty][f"gold_{c}"] for c in LEAN_IDS] == ["0"] * len(LEAN_IDS)
    assert sum(row["coded"] == "1" for row in table) == 3
    members = {key for key, r in records.items() if r["samples"] == ["first"]}
    assert len(members) == 5 and all(r["samples"] in ([], ["first"]) for r in records.values())
    for key, row in by_key.items():
        record = records[key]
        assert (row["samples"] == "first") == (key in members)
        if record["gold"] is None:
            assert row["coded"] == "0" and all(row[f"gold_{c}"] == "" for c in LEAN_IDS)
        else:
            assert [int(row[f"gold_{c}"]) for c in LEAN_IDS] == [int(c in record["gold"]) for c in LEAN_IDS]
        # the model's columns hold the model's tags, whatever a human said
        assert [int(row[f"model_{c}"]) for c in LEAN_IDS] == [int(c in record["labels"]) for c in LEAN_IDS]
        assert row["labels"] == ";".join(record["labels"])
        assert row["text"] == ("'" if record["text"].startswith(("=", "+", "-", "@")) else "") + record["text"]
        assert json.loads(row["scores"]) == record["scores"]
    # the slow path (a split) writes the same columns and cells
    split = {(row["platform"], row["id"]): row for row in csv.DictReader(io.StringIO(
        cli("export", "--format", "csv", "--split", "train=0.5,test=0.5").output))}
    for key, row in split.items():
        assert {k: v for k, v in row.items() if k != "split"} == by_key[key]


def test_parquet_has_the_csv_columns_typed(cli, classified, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    records, empty = coded_and_sampled(cli, classified)
    out = tmp_path / "replies.parquet"
    cli("export", "--format", "parquet", "--out", out)
    table = pq.read_table(out)
    csv_table = list(csv.DictReader(io.StringIO(cli("export", "--format", "csv", "--no-formula-escape").output)))
    assert table.num_rows == len(records) and table.schema.names == list(csv_table[0])
    assert table.schema.field("created_at").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("labels").type == pa.list_(pa.string())
    assert table.schema.field("scores").type.num_fields == len(LEAN_IDS)
    assert table.schema.field("coded").type == pa.bool_()
    for row, cells in zip(table.to_pylist(), csv_table):
        record = records[(row["platform"], row["id"])]
        for name in ("text", "labels", "gold", "samples", "quote_of", "spoiler_text", "gold_codebook"):
            assert row[name] == record[name], name
        assert row["created_at"].isoformat().startswith(record["created_at"][:19])
        assert row["scores"] == pytest.approx(record["scores"], abs=1e-4)
        assert row["coded"] == (record["gold"] is not None)
        for name in CATEGORY_COLUMNS:
            assert ("" if row[name] is None else str(row[name])) == cells[name], name
    assert table.to_pylist()[[r["id"] for r in table.to_pylist()].index(empty[1])]["gold"] == []


def test_split_is_stratified_stable_and_loads_in_datasets(cli, classified, tmp_path):
    datasets = pytest.importorskip("datasets")
    label_some(cli, classified, 10)
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((first, 7), (second, 7), (other, 8)):
        cli("export", "--format", "hf", "--out", out, "--split", "train=0.8,dev=0.1,test=0.1", "--seed", seed)
    assert sorted(p.name for p in first.iterdir()) == ["README.md", "dev.jsonl", "test.jsonl", "train.jsonl"]
    split_of = lambda folder: {(r["platform"], r["id"]): r["split"] for name in ("train", "dev", "test")
                               for r in jsonl((folder / f"{name}.jsonl").read_text())}
    a = split_of(first)
    assert a == split_of(second) and a != split_of(other)
    total = len(jsonl(cli("export").output))
    sizes = {name: sum(1 for v in a.values() if v == name) for name in ("train", "dev", "test")}
    assert sum(sizes.values()) == total
    assert abs(sizes["train"] - 0.8 * total) <= 4 and abs(sizes["test"] - 0.1 * total) <= 4
    records = jsonl(cli("export").output)
    final = {(r["platform"], r["id"]): (r["gold"] if r["gold"] is not None else r["labels"]) for r in records}
    for category in LEAN_IDS:  # every category reaches training, and no split holds all of one
        members = [k for k, labels in final.items() if category in labels]
        assert any(a[k] == "train" for k in members) and any(a[k] != "train" for k in members), category
    loaded = datasets.load_dataset("json", data_files={s: str(first / f"{s}.jsonl") for s in sizes})
    assert {s: loaded[s].num_rows for s in sizes} == sizes
    card = (first / "README.md").read_text()
    assert "| **replies** | " + " | ".join(str(sizes[s]) for s in ("train", "dev", "test")) in card
    assert all(f"`{c}`" in card for c in LEAN_IDS) and "seed 7" in card
    assert "load_dataset" in card


def test_pseudonymize_hides_people_and_links(cli, classified, tmp_path):
    originals = rows(classified, "select author_handle, text, url, id from replies where status = 'ok'")
    out = cli("export", "--pseudonymize", "--strip-links").output
    handles = {r["author_handle"] for r in originals}
    for handle in handles:
        assert handle.lower() not in out.lower(), handle
    for reply in originals:
        assert reply["id"] not in out and reply["url"] not in out
    assert "http" not in out
    records = jsonl(out)
    assert all(r["url"] is None and r["author"].startswith("user_") for r in records)
    authors = {r["author"] for r in records}
    again = jsonl(cli("export", "--pseudonymize", "--strip-links").output)
    assert again == records  # stable: the salt is kept in the database
    salted = jsonl(cli("export", "--pseudonymize", "--salt", "other").output)
    assert {r["author"] for r in salted}.isdisjoint(authors)
    secret = rows(classified, "select value from settings where key = 'pseudonym_salt'")[0]["value"]
    assert secret not in out
    # the question's author is mentioned in replies: each mention carries the same pseudonym
    from replies.export.pseudonym import Pseudonymizer
    on_x = rows(classified, "select text from replies where status = 'ok' and platform = 'x'")
    mentions = sum((r["text"] or "").count("@joy_improves") for r in on_x)
    assert mentions and out.count("@" + Pseudonymizer(secret).person("joy_improves", "x")) == mentions
    replying = [r for r in records if r["parent_id"]]
    assert {r["parent_id"] for r in replying} & {r["id"] for r in records}  # structure survives


def test_mentions_and_authors_share_pseudonyms():
    from replies.export.pseudonym import Pseudonymizer

    p = Pseudonymizer("salt")
    assert p.text("thanks @Joy_Improves!", "x") == f"thanks @{p.person('joy_improves', 'x')}!"
    assert p.text("cc @nurse_ellie@mastodon.social and @gp.bsky.social", "mastodon") == \
        f"cc @{p.person('nurse_ellie@mastodon.social', 'mastodon')} and @{p.person('gp.bsky.social', 'mastodon')}"
    assert p.text("mail me at a@b.com") == "mail me at a@b.com"
    assert Pseudonymizer("salt", strip_links=True).text("see https://x.com/a?b=1 now") == "see [link] now"


@pytest.mark.parametrize("text, gone", [
    ("thanks @alice. and @alice!", ["alice"]),
    ("＠alice said it first", ["alice"]),
    ("cc @bob@scholar.social.", ["bob", "scholar.social"]),
    ("via at://did:plc:4kq7xz2abcdef/app.bsky.feed.post/3kabc and did:plc:4kq7xz2abcdef", ["4kq7xz2abcdef", "3kabc"]),
    ("see x.com/alice_b/status/1234 and bsky.app/profile/did:plc:zzz999/post/3k", ["alice_b", "zzz999", "1234"]),
    ('=HYPERLINK("https://evil.example/track?u=carol","click") and the rest stays', ["carol", "evil.example"]),
])
def test_no_form_of_a_mention_or_a_link_leaks(text, gone):
    from replies.export.pseudonym import Pseudonymizer

    shown = Pseudonymizer("salt", strip_links=True).text(text, "bluesky")
    for piece in gone:
        assert piece not in shown, (piece, shown)
    if "rest stays" in text:
        assert shown.endswith('"click") and the rest stays')  # a link stops at its quote


def test_identity_is_platform_and_account():
    from replies.export.pseudonym import Pseudonymizer

    p = Pseudonymizer("salt")
    assert p.person("bob", "x") != p.person("bob", "mastodon", "mastodon.social")
    assert p.person("Alice.", "x") == p.person("＠alice", "x") == p.person("@alice", "x")
    author = p.record({"platform": "mastodon", "id": "1", "parent_id": None, "thread": "1", "author":
                       "bob@mastodon.social", "text": "as @bob said, and @bob@mastodon.social too", "url": "u"})
    assert author["text"] == f"as @{author['author']} said, and @{author['author']} too"


@given(st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True), st.sampled_from(["@", "＠"]),
       st.sampled_from(["", ".", "!", ",", " and more"]), st.sampled_from(["", "Hi ", "(cc "]))
def test_every_spelling_of_a_mention_gets_the_one_pseudonym(user, at, after, before):
    from replies.export.pseudonym import Pseudonymizer

    p = Pseudonymizer("salt")
    shown = p.text(f"{before}{at}{user}{after}", "x")
    assert shown == f"{before}@{p.person(user, 'x')}{after}"


def test_labelstudio_round_trip(cli, classified, tmp_path):
    tasks_file = tmp_path / "tasks.json"
    cli("export", "--format", "labelstudio", "--out", tasks_file)
    tasks = json.loads(tasks_file.read_text())
    records = jsonl(cli("export").output)
    assert len(tasks) == len(records)
    config = (tmp_path / "tasks.label-config.xml").read_text()
    assert 'choice="multiple"' in config and all(f'value="{c}"' in config for c in LEAN_IDS)
    for task, record in zip(tasks, records):
        assert task["data"]["text"] == record["text"] and task["data"]["reply_id"] == record["id"]
        result = task["predictions"][0]["result"]
        assert (result[0]["value"]["choices"] if result else []) == record["labels"]
    # what Label Studio's JSON export looks like after two annotators worked on the first tasks
    given = {}
    for n, task in enumerate(tasks[:6]):
        choices = LEAN_IDS[n % 4: n % 4 + 2]
        task["id"] = n + 1
        task["annotations"] = [{"id": 100 + n, "completed_by": {"id": 1, "email": "ann@example.org"},
                                "was_cancelled": False, "result": [
                                    {"id": f"a{n}", "from_name": "category", "to_name": "text", "type": "choices",
                                     "value": {"choices": choices}}]}]
        if n < 2:
            task["annotations"].append({"id": 200 + n, "completed_by": 2, "was_cancelled": False, "result": []})
        given[(task["data"]["platform"], task["data"]["reply_id"])] = sorted(choices)
    tasks[6]["annotations"] = [{"id": 300, "completed_by": 1, "was_cancelled": True, "result": []}]
    export_file = tmp_path / "project-1-export.json"
    export_file.write_text(json.dumps(tasks[:7]))
    cli("import-labels", "--format", "labelstudio", export_file)
    stored = rows(classified, "select platform, id, reviewer, labels from gold_labels")
    ann = {(r["platform"], r["id"]): json.loads(r["labels"]) for r in stored if r["reviewer"] == "ann@example.org"}
    assert ann == given
    other = [r for r in stored if r["reviewer"] == "labelstudio-user-2"]
    assert len(other) == 2 and all(json.loads(r["labels"]) == [] for r in other)
    assert len(stored) == 8  # the cancelled annotation was left out
    evaluation = json.loads(cli("evaluate", "--json").output)
    assert evaluation["agreement"]


def test_a_labelstudio_file_that_is_not_json_is_one_line(cli, classified, tmp_path):
    for name, content, message in (
            ("latin.json", '[{"data": {"text": "caf\u00e9"}}]'.encode("latin-1"), "not UTF-8 text"),
            ("deep.json", b"[" * 100_000 + b"]" * 100_000, "JSON nested deeper than any Label Studio export"),
            ("cut.json", b'[{"data": ', "not JSON (Expecting value at line 1)")):
        path = tmp_path / name
        path.write_bytes(content)
        result = cli("import-labels", "--format", "labelstudio", path, code=1)
        assert result.stderr.startswith(f"Error: {path}: {message}") and result.stderr.count("\n") == 1, result.stderr


def test_labelstudio_files_of_another_codebook_are_refused_whole(cli, classified, tmp_path):
    tasks_file = tmp_path / "tasks.json"
    cli("export", "--format", "labelstudio", "--out", tasks_file)
    tasks = json.loads(tasks_file.read_text())[:3]
    for task in tasks:
        task["annotations"] = [{"completed_by": 1, "result": [
            {"from_name": "category", "to_name": "text", "type": "choices", "value": {"choices": ["money"]}}]}]
    tasks[2]["annotations"][0]["result"][0]["value"]["choices"] = ["flat_tyres"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(tasks))
    result = cli("import-labels", bad, code=1)
    assert "'flat_tyres' is not a category of codebook lean_nhs" in result.stderr
    assert "task 3" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert rows(classified, "select count(*) as n from gold_labels")[0]["n"] == 0
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps([{"data": {"text": "hello"}, "annotations": []}]))
    assert "not an export of tasks" in cli("import-labels", foreign, code=1).stderr
    other_book = tmp_path / "other.json"
    other_book.write_text(json.dumps([{**tasks[0], "data": {**tasks[0]["data"], "codebook": "cycling"}}]))
    assert "made for codebook 'cycling'" in cli("import-labels", other_book, code=1).stderr
    notjson = tmp_path / "broken.json"
    notjson.write_text("[{")
    assert "not JSON" in cli("import-labels", notjson, code=1).stderr


@pytest.mark.parametrize("args, message, code", [
    (["--format", "xml", "--out", "{tmp}/x.xml"], "unknown --format 'xml'", 2),
    (["--split", "train=0.8,test=0.1", "--out", "{tmp}/x.jsonl"], "add up to 0.9, not 1", 2),
    (["--split", "train:0.8", "--out", "{tmp}/x.jsonl"], "NAME=FRACTION", 2),
    (["--format", "hf", "--split", "../../x=1", "--out", "{tmp}/hf"], "'../../x' is not a split name", 2),
    (["--format", "hf", "--split", "/tmp/abs=1", "--out", "{tmp}/hf"], "is not a split name", 2),
    (["--out", "{tmp}/missing/x.jsonl"], "does not exist", 1),
    (["--format", "hf"], "give --out", 2),
    (["--format", "parquet", "--out", "{tmp}/missing/x.parquet"], "does not exist", 1),
    (["--strip-links", "--out", "{tmp}/x.jsonl"], "only make sense with --pseudonymize", 2),
])
def test_bad_input_is_one_line_and_leaves_no_file(cli, tmp_path, args, message, code):
    result = cli("export", *[a.format(tmp=tmp_path) for a in args], code=code)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert all(p.name.startswith("replies.db") for p in tmp_path.iterdir())
    assert not (tmp_path.parent / "x.jsonl").exists() and not (tmp_path.parent.parent / "x.jsonl").exists()


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError):
        with atomic_file(target) as handle:
            handle.write("half")
            raise RuntimeError("disk full")
    folder = tmp_path / "dataset"
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(folder) as tmp:
            (tmp / "train.jsonl").write_text("half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    with pytest.raises(WriteError, match="not an empty folder"):
        with atomic_folder(tmp_path / "full"):
            pass


def test_labelstudio_json_min_export_is_read_too(cli, classified, tmp_path):
    tasks_file = tmp_path / "tasks.json"
    cli("export", "--format", "labelstudio", "--out", tasks_file)
    tasks = json.loads(tasks_file.read_text())[:3]
    # JSON-MIN: the data fields at the top level, one choice as a string, several as {"choices": [...]}
    flat = [{**tasks[0]["data"], "category": "money", "annotator": "ann@example.org", "id": 1},
            {**tasks[1]["data"], "category": {"choices": ["policy", "leadership"]}, "annotator": "bob@example.org",
             "id": 2},
            {**tasks[2]["data"], "id": 3}]  # not annotated: nothing recorded
    path = tmp_path / "project-min.json"
    path.write_text(json.dumps(flat))
    assert "2 replies labelled by the export's annotators" in cli("import-labels", path).output
    stored = {(r["id"], r["reviewer"]): json.loads(r["labels"])
              for r in rows(classified, "select id, reviewer, labels from gold_labels")}
    assert stored == {(tasks[0]["data"]["reply_id"], "ann@example.org"): ["money"],
                      (tasks[1]["data"]["reply_id"], "bob@example.org"): ["leadership", "policy"]}


def test_split_cuts_each_stratum_by_the_fractions():
    """Replies count for their rarest category; each such stratum is cut by the fractions, so on data
    whose strata are known the counts per split are known exactly."""
    from replies.export.split import assign

    items = ([(f"a{i}", ["common", "rare"]) for i in range(10)] + [(f"c{i}", ["common"]) for i in range(30)]
             + [(f"n{i}", []) for i in range(20)])
    split = assign(items, {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=3)
    by_stratum = {prefix: {name: sum(1 for k, v in split.items() if k[0] == prefix and v == name)
                           for name in ("train", "dev", "test")} for prefix in "acn"}
    assert by_stratum == {"a": {"train": 8, "dev": 1, "test": 1}, "c": {"train": 24, "dev": 3, "test": 3},
                          "n": {"train": 16, "dev": 2, "test": 2}}
    assert split == assign(list(reversed(items)), {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=3)
    assert split != assign(items, {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=4)


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(cli, classified, tmp_path):
    import csv
    import io
    import sqlite3

    hostile = ['=HYPERLINK("http://evil.example","click")', "+1 so true", "-sigh- again", "@SUM(A1:A9)"]
    conn = sqlite3.connect(classified)
    ids = [i for (i,) in conn.execute("select id from replies where status = 'ok' order by id limit 4")]
    for reply_id, text in zip(ids, hostile):
        conn.execute("update replies set text = ? where id = ?", [text, reply_id])
    conn.commit()
    conn.close()
    for args in ([], ["--split", "train=0.5,test=0.5"]):  # the fast path and the record path
        rows = {r["id"]: r for r in csv.DictReader(io.StringIO(cli("export", "--format", "csv", *args).output))}
        assert [rows[i]["text"] for i in ids] == ["'" + t for t in hostile]
    raw = {r["id"]: r for r in csv.DictReader(io.StringIO(
        cli("export", "--format", "csv", "--no-formula-escape").output))}
    assert [raw[i]["text"] for i in ids] == hostile
    queried = list(csv.DictReader(io.StringIO(cli("query", "select id, text from replies where id = :i", "-p", "i",
                                                  ids[0], "--csv").output)))
    assert queried == [{"id": ids[0], "text": "'" + hostile[0]}]
