"""Reads used by the commands: thread listings and lookups, read-only SQL, full-text search, and the
SQL pieces every query shares (one thread's rows, a reply's final labels, chunked `IN` lists)."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence

from sqlite_utils import Database

from .errors import QueryError


def has_replies(db: Database) -> bool:
    """Whether any reply with content is stored."""
    return db.execute("select exists (select 1 from replies where status = 'ok' and text != '')").fetchone()[0] == 1


def platforms_stored(db: Database) -> list[str]:
    """Every platform name a stored reply has: the harvested ones and those imports gave (linkedin, ...)."""
    return [name for name, in db.execute("select distinct platform from replies order by 1").fetchall()]


def thread_choices(db: Database) -> list[dict]:
    """Every thread's platform, id and the start of its question, for a menu: no counting, so it stays cheap."""
    return [dict(r) for r in db.query("select platform, id, substr(replace(text, char(10), ' '), 1, 70) as text"
                                      " from threads order by added_at")]


def thread_rows(db: Database) -> list[dict]:
    """Every tracked thread with its reply and quote counts (posts with content: what `sample` and `estimate`
    count), its posts stored without content by status (`unavailable`, a JSON object), and `found` and
    `expected` from the last harvest that measured its coverage (None where none did), oldest first."""
    sql = """
        select t.platform, t.id, t.url, t.author_handle,
          substr(replace(t.text, char(10), ' '), 1, 60) as text,
          (select count(*) from replies r where r.platform = t.platform and r.thread_id = t.id
             and r.kind = 'reply' and r.status = 'ok') as replies,
          (select count(*) from replies r where r.platform = t.platform and r.thread_id = t.id
             and r.kind = 'quote' and r.status = 'ok') as quotes,
          (select json_group_object(status, n) from (select r.status, count(*) as n from replies r
             where r.platform = t.platform and r.thread_id = t.id and r.status != 'ok' group by r.status))
            as unavailable,
          h.found, h.expected, t.last_harvest_at
        from threads t left join harvest_runs h on h.id = (
          select max(h2.id) from harvest_runs h2 where h2.platform = t.platform and h2.thread_id = t.id
            and h2.expected is not null)
        order by t.added_at
    """
    return [dict(r) for r in db.query(sql)]


def thread_rows_all(db: Database) -> list[dict]:
    """Every tracked thread's stored row, by platform and id (for resolving a reference a user typed)."""
    return [dict(row) for row in db.query("select * from threads order by platform, id")]


def thread_coverage(db: Database, platform: str, thread_id: str, *, counts_every_reply: bool = False
                    ) -> tuple[int, int | None]:
    """(found, expected) for a thread: the replies and quotes stored with content, against what the platform's
    own counts promise, the root's reply and quote counts plus each stored reply's reply count (replies to a
    quote belong to the quote's own conversation, so quotes' counts are left out; and where the root counts
    every reply, `counts_every_reply`, as YouTube's does, its count alone). `expected` is None where no count is
    known at all (an imported file, a platform that gave none)."""
    found, below, counted = db.execute(
        "select coalesce(sum(status = 'ok'), 0),"
        " coalesce(sum(case when kind = 'reply' and status = 'ok' then reply_count end), 0),"
        " count(reply_count)"
        " from replies where platform = ? and thread_id = ?", [platform, thread_id]).fetchone()
    root = db.execute("select coalesce(reply_count, 0) + coalesce(quote_count, 0),"
                      " reply_count is null and quote_count is null from threads"
                      " where platform = ? and id = ?", [platform, thread_id]).fetchone()
    if (root is None or root[1]) and not counted:
        return found, None
    if counts_every_reply and root is not None and not root[1]:
        return found, root[0]
    return found, below + (root[0] if root else 0)


def previous_coverage(db: Database, platform: str, thread_id: str) -> tuple[int, int] | None:
    """(found, expected) of the thread's latest harvest that measured a coverage above nothing, or None."""
    row = db.execute("select found, expected from harvest_runs where platform = ? and thread_id = ? and expected > 0"
                     " order by id desc limit 1", [platform, thread_id]).fetchone()
    return (row[0], row[1]) if row else None


def unavailable_posts(db: Database, platform: str, thread_id: str) -> dict[str, int]:
    """The thread's posts stored without content (placeholders: blocked, not found, deleted), by status."""
    return dict(db.execute("select status, count(*) from replies where platform = ? and thread_id = ? and"
                           " status != 'ok' group by status order by status", [platform, thread_id]).fetchall())


def describe_coverage(found: int | None, expected: int | None, unavailable: dict[str, int] | None = None
                      ) -> str | None:
    """"412 of 418; 6 deleted, hidden or unreachable", or None where nothing was measured. With `unavailable`
    (posts stored without content, by status), the shortfall names them: "43 of 44; 2 unavailable (1 blocked,
    1 not found)", and only what they leave unexplained is "deleted, hidden or unreachable"."""
    if found is None or expected is None:
        return None
    text = f"{found} of {expected}"
    stored = sum((unavailable or {}).values())
    if stored:
        kinds = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted((unavailable or {}).items()))
        text += f"; {stored} unavailable ({kinds})"
    if expected - found > stored:
        text += f"; {expected - found - stored}{' more' if stored else ''} deleted, hidden or unreachable"
    return text


def thread_filter(thread: tuple[str, str] | None, alias: str = "r") -> tuple[str, dict]:
    """A condition keeping one thread's rows (always true without `thread`) and its named parameters."""
    if not thread:
        return "1", {}
    prefix = f"{alias}." if alias else ""
    return (f"{prefix}platform = :thread_platform and {prefix}thread_id = :thread_id",
            {"thread_platform": thread[0], "thread_id": thread[1]})


def final_labels_sql(alias: str = "r") -> str:
    """SQL for a reply's final labels, a JSON array: its latest reviewed labels (`gold_current`) where a
    human looked, else the categories predicted. The one definition of "gold, else predicted"; it takes
    the named parameters :codebook (gold) and :hash (the codebook version of the predictions)."""
    return (f"coalesce((select json(g.labels) from gold_current g where g.platform = {alias}.platform"
            f" and g.id = {alias}.id and g.codebook = :codebook),"
            f" (select json_group_array(p.category) from predictions p where p.platform = {alias}.platform"
            f" and p.id = {alias}.id and p.codebook_hash = :hash and p.predicted = 1))")


def select_in(db: Database, sql: str, values: Sequence, params: Sequence = (), chunk: int = 500) -> Iterator[tuple]:
    """Rows of `sql`, whose `{marks}` stands for an `IN (...)` list, over `values` in chunks that stay
    within SQLite's limit on parameters; `params` come before the list."""
    for start in range(0, len(values), chunk):
        part = list(values[start:start + chunk])
        yield from db.execute(sql.format(marks=",".join("?" * len(part))), [*params, *part]).fetchall()


def run_query(db: Database, sql: str, params: dict | list | None = None, *, timeout: float | None = None,
              stop: Callable[[], bool] = lambda: False) -> Iterator[dict]:
    """Rows of `sql` as dicts. `db` should be opened read-only; a write is refused either way, and so are
    ATTACH and VACUUM INTO (which would create files). The query is abandoned (QueryError) after
    `timeout` seconds, or as soon as `stop()` is true (the CLI's Ctrl-C), checked every 1,000 steps."""
    db.execute("pragma query_only = 1")
    deadline = time.monotonic() + timeout if timeout else None
    why: list[str] = []

    def progress() -> int:
        if not why and stop():
            why.append("interrupted")
        if not why and deadline is not None and time.monotonic() > deadline:
            why.append(f"took longer than {timeout:g}s (--timeout)")
        return 1 if why else 0

    db.conn.set_progress_handler(progress, 1000)
    db.conn.set_authorizer(_no_new_files)
    try:
        cursor = db.execute(sql, params or [])
    except sqlite3.Error as exc:
        raise _query_error(exc, why) from None
    if cursor.description is None:
        return iter(())
    names = [d[0] for d in cursor.description]
    return _rows(cursor, names, why, stop)


def _no_new_files(action: int, *_) -> int:
    """The authorizer of read-only queries: ATTACH (VACUUM INTO attaches its target) would create files."""
    return sqlite3.SQLITE_DENY if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH) else sqlite3.SQLITE_OK


def _rows(cursor, names, why: list[str], stop: Callable[[], bool]) -> Iterator[dict]:
    try:
        while batch := cursor.fetchmany(500):
            if stop():
                raise KeyboardInterrupt
            for row in batch:
                yield dict(zip(names, row))
    except sqlite3.Error as exc:
        raise _query_error(exc, why) from None


def _query_error(exc: sqlite3.Error, why: list[str] | None = None) -> QueryError:
    message = str(exc)
    if why and why[0] == "interrupted":
        raise KeyboardInterrupt
    if why:
        return QueryError(f"query stopped: it {why[0]}; the database was not changed")
    if "not authorized" in message or "authorization denied" in message:
        return QueryError("ATTACH, DETACH and VACUUM INTO are refused: queries are read-only and create no files")
    if "readonly" in message or "read-only" in message or "query_only" in message:
        return QueryError("queries are read-only: the database was not changed (use the other commands to "
                          "change it)")
    if "no such table" in message and any(v in message for v in ("reply_labels", "category_counts")):
        message += " (an older database: run any other replies command once to upgrade it)"
    return QueryError(f"SQL error: {message}")


MAX_DEPTH = 1000  # a chain of parents longer than this is a loop a server made, not a conversation


def depth_sql(alias: str = "r") -> str:
    """SQL for a reply's depth in its thread: 1 for a reply to the question (or a quote of it, or a reply
    whose parent was never stored), 2 for a reply to that, and so on. The walk up the parents is bounded, so
    parents that loop (a hostile server's) cannot keep SQLite going."""
    return (f"(with recursive up(pid, n) as (select {alias}.parent_id, 1 union all"
            f" select p.parent_id, up.n + 1 from up join replies p on p.platform = {alias}.platform"
            f" and p.id = up.pid where up.n < {MAX_DEPTH}) select max(n) from up)")


def fts_query(text: str, syntax: bool = False, prefix: bool = False) -> str:
    """The FTS5 query for what a person typed. By default every word is searched as written (all must appear;
    apostrophes, hyphens, OR and * are text, not syntax) and "a quoted phrase" as a phrase; with `prefix` each
    word (not a phrase) as the start of a word too (clinician finds clinicians); `syntax` passes `text` to FTS5
    as it is (OR, NEAR, prefix*, column filters)."""
    if syntax:
        return text
    parts = re.findall(r'"([^"]*)"|(\S+)', text)
    return " ".join('"' + (phrase or word).replace('"', '""') + '"' + ("*" if prefix and word else "")
                    for phrase, word in parts if (phrase or word).strip())


def prefix_form(text: str) -> str:
    """What `fts_query(text, prefix=True)` searches, as a user would write it with --fts: clinician*."""
    parts = re.findall(r'"([^"]*)"|(\S+)', text)
    return " ".join(f'"{phrase}"' if phrase else word + "*" for phrase, word in parts if (phrase or word).strip())


def search(db: Database, text: str, *, limit: int = 20, thread: tuple[str, str] | None = None,
           syntax: bool = False, prefix: bool = False) -> list[dict]:
    """Replies matching `text` in the full-text index, best first: its words as written (with `prefix`, as the
    start of words), or with `syntax` SQLite FTS5's own (words, "phrases", OR, prefix*)."""
    where, params = thread_filter(thread)
    query = fts_query(text, syntax, prefix)
    if not query:
        return []
    params.update(query=query, limit=limit)
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
        raise QueryError(f"cannot search for {text!r} with FTS5 syntax: {exc} (leave out --fts to search the words "
                         "as written)") from None
