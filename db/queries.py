"""Reads used by the commands: thread listings and lookups."""

from __future__ import annotations

from sqlite_utils import Database

from .errors import UnknownThread


def list_threads(db: Database) -> list[dict]:
    """Every tracked thread with its reply and quote counts and last harvest."""
    sql = """
        select t.platform, t.id, t.url, t.author_handle,
          substr(replace(t.text, char(10), ' '), 1, 60) as text,
          (select count(*) from replies r where r.platform = t.platform and r.thread_id = t.id
             and r.kind = 'reply') as replies,
          (select count(*) from replies r where r.platform = t.platform and r.thread_id = t.id
             and r.kind = 'quote') as quotes,
          t.last_harvest_at
        from threads t order by t.added_at
    """
    return [dict(r) for r in db.query(sql)]


def thread_filter(thread: tuple[str, str] | None, alias: str = "r") -> tuple[str, dict]:
    """A condition keeping one thread's rows (always true without `thread`) and its named parameters."""
    if not thread:
        return "1", {}
    prefix = f"{alias}." if alias else ""
    return (f"{prefix}platform = :thread_platform and {prefix}thread_id = :thread_id",
            {"thread_platform": thread[0], "thread_id": thread[1]})


def find_thread(db: Database, ref: str) -> dict:
    """A thread by URL, root id, or PLATFORM:ID."""
    candidates = list(db.query(
        "select * from threads where url = ? or id = ? or platform || ':' || id = ?", [ref, ref, ref]
    ))
    if not candidates:
        raise UnknownThread(f"no tracked thread matches {ref!r}: see `replies threads`")
    if len(candidates) > 1:
        raise UnknownThread(f"{ref!r} matches threads on several platforms: write it as PLATFORM:ID")
    return candidates[0]
