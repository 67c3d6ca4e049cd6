"""Storage for replies: schema, migrations, writes and queries (sqlite-utils).

This package imports nothing from the rest of the project.
"""

from .connection import open_db, resolve_path
from .errors import DatabaseError, SchemaTooNew, UnknownThread
from .queries import describe_coverage, find_thread, list_threads, previous_coverage, thread_coverage
from .store import (
    PageCounts,
    finish_run,
    get_cursor,
    start_run,
    store_replies,
    upsert_thread,
)
from .tracking import mark_abandoned_runs, track, tracked, untrack

__all__ = [
    "open_db", "resolve_path", "DatabaseError", "SchemaTooNew", "UnknownThread",
    "find_thread", "list_threads", "thread_coverage", "previous_coverage", "describe_coverage", "PageCounts", "finish_run",
    "get_cursor", "start_run", "store_replies", "upsert_thread", "track", "tracked", "untrack", "mark_abandoned_runs",
]
