"""`replies import --format csv|jsonl --map ...`: replies from any other tool's export."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import count, rows

THREAD = "https://www.linkedin.com/posts/asker_lean-nhs-activity-7300000000000000000-abcd"
CSV = (
    "\ufeffComment ID;Reply To;Member;Posted;Reactions;Comment\n"
    "c1;;Ana Lopez;2026-11-20T09:00:00Z;12;Nobody gets protected time for improvement work.\n"
    "c2;c1;Ben Okafor;2026-11-20T09:30:00Z;3;\"Exactly; and the targets change every year.\"\n"
    "c3;;Chen Wu;1763629200;0;\"Money, mostly.\nAnd time.\"\n"
    "c4;c99;Dee Shah;2026-11-20 11:00;1;A reply to something not in this file.\n"
)


def _csv(tmp_path, text: str = CSV):
    path = tmp_path / "comments.csv"
    path.write_text(text, encoding="utf-8")
    return path


MAP = "id=Comment ID,parent=Reply To,author=Member,created_at=Posted,likes=Reactions,text=Comment"


def test_a_csv_with_a_mapping_comes_in_once(run, env, tmp_path):
    path = _csv(tmp_path)
    result = run("import", path, "--format", "csv", "--map", MAP, "--thread-url", THREAD,
                 "--question", "Why is lean harder in the NHS?")
    assert "4 rows read: 4 new" in result.output and "1 with a parent not in the file" in result.output
    stored = {r["id"]: r for r in rows(env["REPLIES_DB"], "select * from replies")}
    assert set(stored) == {"c1", "c2", "c3", "c4"}
    thread = rows(env["REPLIES_DB"], "select * from threads")[0]
    assert thread["platform"] == "linkedin" and thread["url"] == THREAD
    assert thread["text"] == "Why is lean harder in the NHS?"
    assert stored["c2"]["parent_id"] == "c1" and stored["c2"]["text"] == "Exactly; and the targets change every year."
    assert stored["c1"]["parent_id"] == thread["id"] and stored["c4"]["parent_id"] == thread["id"]
    assert stored["c3"]["text"] == "Money, mostly.\nAnd time." and stored["c3"]["created_at"] == "2025-11-20T09:00:00.000Z"
    assert stored["c4"]["created_at"] == "2026-11-20T11:00:00.000Z" and stored["c1"]["like_count"] == 12
    assert json.loads(stored["c1"]["raw"])["Member"] == "Ana Lopez"
    again = run("import", path, "--format", "csv", "--map", MAP, "--thread-url", THREAD)
    assert "0 new, 0 updated" in again.output
    exported = [json.loads(line) for line in run("export", "--format", "jsonl").output.splitlines()]
    assert {e["id"] for e in exported} == {"c1", "c2", "c3", "c4"}
    listed = json.loads(run("threads", "--json").output)
    assert [(t["platform"], t["replies"], t["coverage"]) for t in listed] == [("linkedin", 4, None)]  # no count known


def test_rows_without_ids_get_stable_ones_from_their_content(run, env, tmp_path):
    path = tmp_path / "yt.jsonl"
    lines = [{"user": "a", "comment": "Staffing.", "when": "2026-11-01T10:00:00Z"},
             {"user": "b", "comment": "Budgets.", "when": "2026-11-01T10:05:00Z"},
             {"user": "b", "comment": "Budgets.", "when": "2026-11-01T10:05:00Z"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    args = ("import", path, "--format", "jsonl", "--map", "text=comment,author=user,created_at=when",
            "--thread-url", "https://example.org/forum/thread/42", "--platform", "forum")
    result = run(*args)
    assert "3 rows read: 2 new" in result.output and "1 duplicate rows" in result.output
    first = {r["id"] for r in rows(env["REPLIES_DB"], "select id from replies")}
    run(*args)
    assert {r["id"] for r in rows(env["REPLIES_DB"], "select id from replies")} == first
    assert count(env["REPLIES_DB"], "select count(*) from replies where platform = 'forum'") == 2


def test_a_dry_run_shows_the_mapping_and_stores_nothing(run, env, tmp_path):
    result = run("import", _csv(tmp_path), "--format", "csv", "--map", MAP, "--thread-url", THREAD, "--dry-run")
    assert "Ana Lopez" in result.output and "(the question)" in result.output
    assert "4 replies would be imported" in result.output and "nothing stored" in result.output
    assert not Path(env["REPLIES_DB"]).exists()  # not even a database is made


def test_bad_rows_are_named_and_nothing_is_stored(run, env, tmp_path):
    bad = CSV + "c5;;Eve;yesterday-ish;2;A date nobody can read.\nc6;;Fay;2026-11-20T12:00:00Z;lots;Likes in words.\n" \
                "c7;;Gus;2026-11-20T12:00:00Z;1;\n"
    run("import", _csv(tmp_path), "--format", "csv", "--map", MAP, "--thread-url", THREAD)
    result = run("import", _csv(tmp_path, bad.replace("Nobody gets", "Nobody ever gets")), "--format", "csv",
                 "--map", MAP, "--thread-url", THREAD, code=1)
    message = result.stderr
    assert "3 of 7 rows cannot be imported, nothing was stored" in message
    assert "row 6: created_at (Posted) = 'yesterday-ish'" in message and "row 7: likes (Reactions)" in message
    assert "row 8: text (Comment) is empty" in message and len(message.strip().splitlines()) == 1
    assert count(env["REPLIES_DB"], "select count(*) from replies") == 4  # the good rows' edit did not land
    assert count(env["REPLIES_DB"], "select count(*) from replies where text like 'Nobody ever%'") == 0


def test_mapping_mistakes_are_one_clear_line(run, env, tmp_path):
    path = _csv(tmp_path)
    result = run("import", path, "--format", "csv", "--map", "text=Body", "--thread-url", THREAD, code=1)
    assert "no column 'Body'; its columns are Comment ID, Reply To, Member" in result.stderr
    result = run("import", path, "--format", "csv", "--map", "txt=Comment", "--thread-url", THREAD, code=1)
    assert "unknown field 'txt'" in result.stderr
    result = run("import", path, "--format", "csv", "--map", "author=Member", "--thread-url", THREAD, code=1)
    assert "which column holds the text" in result.stderr
    result = run("import", path, "--format", "csv", "--map", "text=Comment", code=2)
    assert "--thread-url" in result.stderr
    result = run("import", path, "--format", "csv", "--map", "text=Comment", "--thread-url", "linkedin", code=1)
    assert "not an http(s) URL" in result.stderr
    result = run("import", path, "--map", "text=Comment", code=2)
    assert "--map is for --format csv or jsonl" in result.stderr
