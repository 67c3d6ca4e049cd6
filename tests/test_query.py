"""`replies query`, `search` and `stats` on the classified sample, with SQLite as the independent check."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import subprocess
from pathlib import Path


def sql(path, query, params=()):
    conn = sqlite3.connect(path)
    rows = conn.execute(query, params).fetchall()
    conn.close()
    return rows


def file_digest(path: Path) -> str:
    """The database file and its write-ahead log (an absent log and an empty one are the same)."""
    wal = Path(str(path) + "-wal")
    return hashlib.sha256(path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")).hexdigest()


def test_category_counts_view_matches_the_predictions(cli, classified):
    rows = json.loads(cli("query", "select * from category_counts", "--json").output)
    expected = dict(sql(classified, "select category, sum(predicted) from predictions group by category"))
    assert {r["category"]: r["predicted"] for r in rows} == expected
    assert all(r["gold"] == 0 for r in rows)
    assert sum(expected.values()) > 0


def test_reply_labels_view_shows_predicted_and_gold(cli, classified):
    platform, reply_id = sql(classified, "select platform, id from replies where status = 'ok' limit 1")[0]
    cli("label", f"{platform}:{reply_id}", "money", "policy", "--reviewer", "ann")
    out = cli("query", "select * from reply_labels where platform = :p and id = :i", "-p", "p", platform,
              "-p", "i", reply_id, "--nl").output
    row = json.loads(out)
    predicted = sorted(c for (c,) in sql(classified, "select category from predictions where platform = ? and id = ?"
                                                     " and predicted = 1", (platform, reply_id)))
    assert sorted(json.loads(row["predicted"])) == predicted
    assert json.loads(row["gold"]) == ["money", "policy"]
    counts = {r["category"]: r["gold"] for r in json.loads(cli("query", "select * from category_counts",
                                                               "--json").output)}
    assert counts["money"] == 1 and counts["policy"] == 1 and counts["leadership"] == 0


def test_query_is_read_only_and_leaves_the_file_alone(cli, classified):
    before = file_digest(classified)
    count = sql(classified, "select count(*) from replies")[0][0]
    for statement in ("delete from replies", "insert into settings values ('a', 'b')", "drop view reply_labels",
                      "update replies set text = 'x'"):
        result = cli("query", statement, code=1)
        assert "read-only" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sql(classified, "select count(*) from replies")[0][0] == count
    assert file_digest(classified) == before


def test_query_output_formats_agree(cli, classified):
    statement = "select platform, id, like_count from replies order by platform, id limit 5"
    expected = [list(r) for r in sql(classified, statement)]
    as_json = json.loads(cli("query", statement, "--json").output)
    assert [[r["platform"], r["id"], r["like_count"]] for r in as_json] == expected
    as_nl = [json.loads(line) for line in cli("query", statement, "--nl").output.splitlines()]
    assert as_nl == as_json
    as_csv = list(csv.DictReader(io.StringIO(cli("query", statement, "--csv").output)))
    assert [[r["platform"], r["id"], int(r["like_count"])] for r in as_csv] == expected
    as_tsv = cli("query", statement, "--tsv").output.splitlines()
    assert as_tsv[0].split("\t") == ["platform", "id", "like_count"] and len(as_tsv) == 6
    table = cli("query", statement).output
    assert all(r[1] in table for r in expected)


def test_query_errors_are_one_line(cli, tmp_path):
    result = cli("query", "select nope from replies", code=1)
    assert result.stderr.strip() == "Error: SQL error: no such column: nope"
    missing = cli("query", "select 1", "--db", tmp_path / "none.db", code=1)
    assert "no database" in missing.stderr and not (tmp_path / "none.db").exists()


def test_search_uses_the_full_text_index(cli, classified):
    rows = json.loads(cli("search", "consultants", "--json").output)
    expected = {r for (r,) in sql(classified, "select id from replies where status = 'ok' and "
                                              "lower(text) like '%consultants%'")}
    assert expected and {r["id"] for r in rows} == expected
    phrase = json.loads(cli("search", '"block contracts"', "--json").output)
    assert phrase and all("block contracts" in r["text"].lower() for r in phrase)
    assert "No reply matches" in cli("search", "zzzqqq").stderr
    bad = cli("search", "--fts", '"unbalanced', code=1)  # FTS5 syntax only when asked for
    assert bad.stderr.startswith("Error: cannot search for") and len(bad.stderr.strip().splitlines()) == 1
    assert "lean OR" in cli("search", "--fts", "lean OR", code=1).stderr
    assert json.loads(cli("search", "consultants", "--json", "--limit", str(2**63 - 1)).output) == rows
    assert "Invalid value for '--limit'" in cli("search", "consultants", "--limit", str(2**63), code=2).stderr


def test_stats_counts_predicted_gold_and_time(cli, classified):
    ids = sql(classified, "select platform, id from replies where status = 'ok' order by id limit 3")
    for platform, reply_id in ids:
        cli("label", f"{platform}:{reply_id}", "money", "--reviewer", "ann")
    cli("label", f"{ids[0][0]}:{ids[0][1]}", "money", "leadership", "--reviewer", "bob")  # latest review wins
    data = json.loads(cli("stats", "--json").output)
    by_id = {c["category"]: c for c in data["categories"]}
    assert by_id["money"]["gold"] == 3 and by_id["leadership"]["gold"] == 1 and data["reviewed"] == 3
    predicted = dict(sql(classified, "select category, sum(predicted) from predictions group by category"))
    assert {c: row["predicted"] for c, row in by_id.items()} == predicted
    total = sql(classified, "select count(*) from replies where status = 'ok'")[0][0]
    assert data["replies"] == total == sum(r["replies"] for r in data["over_time"])
    text = cli("stats").output
    assert "3 reviewed" in text and "Money and funding flows" in text


FOREVER = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"


def test_a_query_that_never_ends_is_stopped_by_its_timeout(cli, classified):
    result = cli("query", FOREVER, "--timeout", "0.5", code=1)
    assert result.stderr == ("Error: query stopped: it took longer than 0.5s (--timeout); the database was not "
                             "changed\n")
    # NaN passes every comparison, so it would mean no limit at all: refused, like 0
    assert "'nan' is not a number of seconds" in cli("query", "select 1", "--timeout", "nan", code=2).stderr
    assert "not in the range x>0" in cli("query", "select 1", "--timeout", "0", code=2).stderr


def test_ctrl_c_stops_a_query_sqlite_is_running(classified):
    import os
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "replies", "query", FOREVER, "--db", str(classified)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def cpu_seconds() -> float:  # user + system time of the child so far, from /proc
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    while proc.poll() is None and cpu_seconds() < 2.0:  # imports done, deep in the query: it never ends
        time.sleep(0.05)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "Interrupted" in err and "Traceback" not in err


def test_attach_and_vacuum_into_are_refused_and_create_no_file(cli, classified, tmp_path):
    before = file_digest(classified)
    for statement in (f"attach '{tmp_path / 'other.db'}' as other", f"vacuum into '{tmp_path / 'copy.db'}'"):
        result = cli("query", statement, code=1)
        assert "refused" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "other.db").exists() and not (tmp_path / "copy.db").exists()
    assert file_digest(classified) == before


def test_blobs_as_base64_and_a_file_that_is_not_a_database(cli, classified, tmp_path):
    import base64

    rows = json.loads(cli("query", "select vector from embeddings limit 1", "--json").output)
    stored, = sql(classified, "select vector from embeddings limit 1")[0]
    assert rows == [{"vector": "base64:" + base64.b64encode(stored).decode()}]
    junk = tmp_path / "notes.db"
    junk.write_text("not a database at all " * 100)
    result = cli("query", "select 1", "--db", junk, code=1)
    assert "cannot open database" in result.stderr and "Traceback" not in result.stderr


def test_search_takes_what_people_type(cli, classified):
    """Apostrophes, hyphens, a stray quote, OR and a star are text to find, not FTS5 syntax to get wrong."""
    cant = json.loads(cli("search", "can't", "--json").output)
    assert cant and all("can't" in r["text"].lower() or "can’t" in r["text"].lower() for r in cant)
    for typed in ("clinician-led", '"unbalanced', "lean OR", "improve*", "NEAR(a b)", "text:lean", "(", "'"):
        result = cli("search", typed)
        assert result.exit_code == 0 and "Traceback" not in result.output + result.stderr, (typed, result.stderr)
    hyphen = json.loads(cli("search", "top-down", "--json").output)
    assert all("top" in r["text"].lower() and "down" in r["text"].lower() for r in hyphen)
    either = {r["id"] for r in json.loads(cli("search", "--fts", "consultants OR contracts", "--json").output)}
    assert {r["id"] for r in json.loads(cli("search", "consultants", "--json").output)} <= either


def test_a_search_that_finds_nothing_as_written_shows_the_words_that_begin_with_it(cli, classified):
    """`search clinician` where replies say "clinicians": the table shows them and says it searched
    clinician*; a program asking for JSON gets the exact answer ([]) and the hint on stderr."""
    import sqlite3

    conn = sqlite3.connect(classified)
    ids = [row[0] for row in conn.execute("select id from replies where status = 'ok' order by id limit 3")]
    for n, reply_id in enumerate(ids):
        conn.execute("update replies set text = ? where id = ?", [f"Zorbians {n} will not be told by managers", reply_id])
    conn.commit()
    conn.close()
    table = cli("search", "zorbian")
    assert "No reply has 'zorbian' as written; these have words that begin with it (--fts 'zorbian*')" in table.stderr
    assert table.stdout.count("Zorbians") == 3
    exact = cli("search", "zorbian", "--json")
    assert json.loads(exact.stdout) == [] and "3 have words that begin with it: --fts 'zorbian*'" in exact.stderr
    assert len(json.loads(cli("search", "--fts", "zorbian*", "--json").output)) == 3
    assert "No reply matches 'qqzzx', nor words that begin with it." in cli("search", "qqzzx").stderr
    assert cli("search", "zorbians").stderr == ""  # found as written: no note


def test_tables_fit_the_terminal_and_files_get_them_whole(classified, tmp_path):
    """In a 100-column terminal, `threads` and `search` cut their longest text with an ellipsis to fit; piped
    to a file, the same table is whole, and --csv is never cut."""
    import os
    import sys

    import pexpect

    env = {**os.environ, "REPLIES_DB": str(classified), "COLUMNS": "100", "LINES": "40"}
    for args in (["threads"], ["search", "lean", "--limit", "5"]):
        child = pexpect.spawn(sys.executable, ["-m", "replies", *args], env=env, encoding="utf-8",
                              dimensions=(40, 100), timeout=60)
        child.expect(pexpect.EOF)
        lines = [line for line in child.before.replace("\r", "").splitlines() if line.strip()]
        assert len(lines) >= 3 and max(len(line) for line in lines) <= 100, (args, lines)
        assert any("…" in line for line in lines), args
    piped = subprocess.run([sys.executable, "-m", "replies", "threads"], env=env, capture_output=True, text=True)
    assert max(len(line) for line in piped.stdout.splitlines()) > 100 and "…" not in piped.stdout
    whole = subprocess.run([sys.executable, "-m", "replies", "threads", "--csv"], env=env, capture_output=True,
                           text=True)
    assert "…" not in whole.stdout
