"""The database layer on temporary files: migrations, upserts, full-text search, WAL."""

from __future__ import annotations

import sqlite3

import pytest
from sqlite_utils import Database

from replies import db
from replies.db.schema import known_migrations


def _reply(i: int, **extra) -> dict:
    row = {"platform": "x", "id": str(i), "thread_id": "1", "parent_id": "1", "kind": "reply", "status": "ok",
           "text": f"reply number {i} about staffing", "like_count": i, "raw": {"id": str(i)}}
    row.update(extra)
    return row


def test_blank_database_is_migrated_in_wal_mode(tmp_path):
    database = db.open_db(tmp_path / "a.db")
    assert {"threads", "replies", "harvest_runs", "cursors", "replies_fts"} <= set(database.table_names())
    assert database.execute("pragma journal_mode").fetchone()[0] == "wal"
    applied = [m["name"] for m in database.query("select name from _sqlite_migrations order by id")]
    assert applied == known_migrations()


def test_reopening_applies_nothing_twice_and_keeps_data(tmp_path):
    path = tmp_path / "a.db"
    database = db.open_db(path)
    db.store_replies(database, [_reply(1)])
    database.close()
    again = db.open_db(path)
    assert again.execute("select count(*) from _sqlite_migrations").fetchone()[0] == len(known_migrations())
    assert again.execute("select count(*) from replies").fetchone()[0] == 1


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "a.db"
    db.open_db(path).close()
    conn = sqlite3.connect(path)
    conn.execute("insert into _sqlite_migrations (migration_set, name, applied_at) values "
                 "('replies', 'm999_from_the_future', '2030-01-01')")
    conn.commit()
    conn.close()
    with pytest.raises(db.SchemaTooNew, match="newer version"):
        db.open_db(path)


def test_upsert_counts_new_and_updated_and_never_duplicates(tmp_path):
    database = db.open_db(tmp_path / "a.db")
    first = db.store_replies(database, [_reply(i) for i in range(5)])
    assert (first.new, first.updated) == (5, 0)
    second = db.store_replies(database, [_reply(i, like_count=i + (i == 2)) for i in range(6)])
    assert (second.new, second.updated) == (1, 1)
    assert database.execute("select count(*) from replies").fetchone()[0] == 6
    row = database["replies"].get(("x", "2"))
    assert row["like_count"] == 3 and row["first_seen"] <= row["last_seen"]


def test_full_text_search_follows_updates(tmp_path):
    database = db.open_db(tmp_path / "a.db")
    db.store_replies(database, [_reply(1, text="money never follows the patient")])
    db.store_replies(database, [_reply(1, text="time and backfill are the problem")])
    hits = lambda q: [r["id"] for r in database.query(
        "select replies.id from replies join replies_fts on replies.rowid = replies_fts.rowid "
        "where replies_fts match ?", [q])]
    assert hits("backfill") == ["1"] and hits("money") == []


def test_cursor_is_saved_with_its_page_or_not_at_all(tmp_path):
    database = db.open_db(tmp_path / "a.db")
    with pytest.raises(sqlite3.IntegrityError):
        db.store_replies(database, [_reply(1), {"platform": "x", "id": None}],
                         cursors={("x", "1", "search.next_token"): "abc"})
    assert db.get_cursor(database, "x", "1", "search.next_token") is None
    assert database.execute("select count(*) from replies").fetchone()[0] == 0


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(db.DatabaseError, match="does not exist"):
        db.open_db(tmp_path / "nowhere" / "a.db")


def test_db_path_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REPLIES_DB", str(tmp_path / "env.db"))
    assert db.resolve_path() == tmp_path / "env.db"
    assert db.resolve_path(tmp_path / "flag.db") == tmp_path / "flag.db"
    monkeypatch.delenv("REPLIES_DB")
    assert str(db.resolve_path()) == "replies.db"


def test_a_database_from_the_first_release_is_upgraded_with_its_data(tmp_path):
    from replies.db.schema import migrations

    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m002_classification")
    old["replies"].insert(_reply(7, raw='{"id": "7"}'))
    old.close()
    upgraded = db.open_db(path)
    assert "predictions" in upgraded.table_names() and "embeddings" in upgraded.table_names()
    assert upgraded["replies"].get(("x", "7"))["text"] == "reply number 7 about staffing"
