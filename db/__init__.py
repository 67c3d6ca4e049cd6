"""Storage for replies: schema, migrations, writes and queries (sqlite-utils).

It imports nothing from the rest of the project but its one error base (`replies.errors`). What every harvest
and listing needs is exported here, from `connection` (opening and migrating), `store` (harvested pages and
their checkpoints), `queries` (thread rows, read-only SQL, search; a user's thread reference is
resolved by `replies.platforms.refs`, which knows the platforms' forms), `tracking` (scheduled threads) and
`errors`; the rest is imported from its module: `labels` (embeddings, predictions, reviewers' labels, classify
runs, codebook versions), `samples`, `discoveries`, `tree` (a thread depth first), `schema` (migrations and
views), `lock` (the harvest lock), `versions` (codes read under another codebook version) and `times`.
"""

from .connection import open_db, resolve_path
from .errors import DatabaseError, SchemaTooNew, UnknownThread
from .queries import (
    describe_coverage,
    previous_coverage,
    thread_coverage,
    unavailable_posts,
)
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
    "thread_coverage", "previous_coverage", "describe_coverage", "unavailable_posts", "PageCounts", "finish_run",
    "get_cursor", "start_run", "store_replies", "upsert_thread", "track", "tracked", "untrack", "mark_abandoned_runs",
]
