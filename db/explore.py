"""Read-only questions from the command line: SQL, full-text search and summary counts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from sqlite_utils import Database

from .errors import QueryError
from .queries import thread_filter


def run_query(db: Database, sql: str, params: dict | list | None = None) -> Iterator[dict]:
    """Rows of `sql` as dicts. `db` should be opened read-only; a write is refused either way."""
    db.execute("pragma query_only = 1")
    try:
        cursor = db.execute(sql, params or [])
    except sqlite3.Error as exc:
        raise _query_error(exc, sql) from None
    if cursor.description is None:
        return iter(())
    names = [d[0] for d in cursor.description]
    return _rows(cursor, names, sql)


def _rows(cursor, names, sql) -> Iterator[dict]:
    try:
        while batch := cursor.fetchmany(500):
            for row in batch:
                yield dict(zip(names, row))
    except sqlite3.Error as exc:
        raise _query_error(exc, sql) from None


def _query_error(exc: sqlite3.Error, sql: str) -> QueryError:
    message = str(exc)
    if "readonly" in message or "read-only" in message or "query_only" in message:
        return QueryError("queries are read-only: the database was not changed (use the other commands to "
                          "change it)")
    if "no such table" in message and any(v in message for v in ("reply_labels", "category_counts")):
        message += " (an older database: run any other replies command once to upgrade it)"
    return QueryError(f"SQL error: {message}")


def search(db: Database, text: str, *, limit: int = 20, thread: tuple[str, str] | None = None) -> list[dict]:
    """Replies matching `text` in the full-text index (SQLite FTS5 syntax: words, "phrases", OR, prefix*)."""
    where, params = thread_filter(thread)
    params.update(query=text, limit=limit)
    sql = f"""
        select r.platform, r.id, r.author_handle as author, r.created_at,
          replace(r.text, char(10), ' ') as text, r.url
        from replies_fts f join replies r on r.rowid = f.rowid
        where replies_fts match :query and {where}
        order by f.rank limit :limit
    """
    try:
        return [dict(row) for row in db.query(sql, params)]
    except sqlite3.OperationalError as exc:
        raise QueryError(f"cannot search for {text!r}: {exc} (quote phrases, e.g. '\"junior doctors\"')") \
            from None


def category_stats(db: Database, codebook: str, codebook_hash: str | None,
                   thread: tuple[str, str] | None = None) -> list[dict]:
    """Per category: replies predicted, replies with a current gold label, and both."""
    where, params = thread_filter(thread)
    params.update(hash=codebook_hash, codebook=codebook)
    sql = f"""
        with pred as (
          select p.platform, p.id, p.category from predictions p join replies r using (platform, id)
          where p.codebook_hash = :hash and p.predicted = 1 and r.status = 'ok' and {where}),
        gold as (
          select g.platform, g.id, j.value as category from gold_current g join replies r using (platform, id),
            json_each(g.labels) j where g.codebook = :codebook and r.status = 'ok' and {where}),
        categories as (select category from pred union select category from gold)
        select c.category,
          (select count(*) from pred where pred.category = c.category) as predicted,
          (select count(*) from gold where gold.category = c.category) as gold,
          (select count(*) from pred join gold using (platform, id, category)
             where pred.category = c.category) as both_agree
        from categories c
    """
    return [dict(row) for row in db.query(sql, params)]


def reviewed_count(db: Database, codebook: str, thread: tuple[str, str] | None = None) -> int:
    where, params = thread_filter(thread)
    return db.execute(f"select count(*) from gold_current g join replies r using (platform, id)"
                      f" where g.codebook = :codebook and {where}", {**params, "codebook": codebook}).fetchone()[0]


def replies_over_time(db: Database, thread: tuple[str, str] | None = None, period: str = "day") -> list[dict]:
    """Replies (with content) per day or hour, by the time they were posted."""
    width = {"day": 10, "hour": 13}[period]
    where, params = thread_filter(thread, alias="")
    sql = (f"select substr(created_at, 1, {width}) as {period}, count(*) as replies from replies"
           f" where status = 'ok' and created_at is not null and {where} group by 1 order by 1")
    return [dict(row) for row in db.query(sql, params)]
