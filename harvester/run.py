"""Harvesting one thread: fetch the root, store every page as it arrives, record the run."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from replies import __version__
from replies import db as store

from . import platforms
from .errors import HarvestError, RateLimited
from .events import Events
from .retry import RetryPolicy
from .settings import Settings
from .source import Source


@dataclass
class HarvestResult:
    platform: str
    thread_id: str
    url: str | None
    new: int
    updated: int
    requests: int
    total: int
    run_id: int


def source_for(url: str, settings: Settings, events: Events, *, full_archive: bool = False,
               wait: bool = True) -> Source:
    """The platform module that understands `url`, ready to harvest it."""
    name, ref = platforms.parse(url)
    retry = RetryPolicy(events, wait_on_rate_limit=wait, max_attempts=settings.max_attempts,
                        clock=settings.clock, sleep=settings.sleep)
    return platforms.module(name).Source(*ref, settings, retry, events, full_archive=full_archive)


def harvest(database: Database, url: str, settings: Settings | None = None, *, events: Events | None = None,
            full_archive: bool = False, wait: bool = True) -> HarvestResult:
    """Harvest the thread at `url` into `database`: the root, every reply at any depth, and quotes.

    Every page is committed with its pagination checkpoint, so a run that is
    interrupted (Ctrl-C, kill, crash, rate limit) is carried on by the next.
    """
    settings = settings or Settings.from_env()
    events = events or Events()
    source = source_for(url, settings, events, full_archive=full_archive, wait=wait)
    try:
        return _harvest(database, url, source, settings, events)
    finally:
        source.close()


def _harvest(database: Database, url: str, source: Source, settings: Settings, events: Events) -> HarvestResult:
    try:
        root = source.fetch_root()
    except HarvestError as exc:
        run_id = store.start_run(database, source.platform, url, __version__)
        store.finish_run(database, run_id, "rate_limited" if isinstance(exc, RateLimited) else "error",
                         settings.redact(str(exc)), requests=source.requests)
        raise
    store.upsert_thread(database, root.thread_row())
    run_id = store.start_run(database, source.platform, root.id, __version__)
    counted = 0
    stored = 0

    def read_cursor(name: str) -> str | None:
        return store.get_cursor(database, source.platform, root.id, name)

    outcome, error = "error", None
    try:
        for batch in source.batches(root, read_cursor):
            rows = [p.reply_row(root.id, batch.source_url, __version__) for p in batch.posts]
            cursors = {(source.platform, root.id, k): v for k, v in batch.cursors.items()}
            delta, counted = source.requests - counted, source.requests
            store.store_replies(database, rows, run_id=run_id, cursors=cursors, requests=delta)
            stored += len(rows)
            events.progress(stored, root.reply_count)
        outcome = "ok"
    except RateLimited as exc:
        outcome, error = "rate_limited", str(exc)
        raise
    except KeyboardInterrupt:
        outcome, error = "interrupted", "interrupted by the user"
        raise
    except HarvestError as exc:
        error = str(exc)
        raise
    except Exception as exc:  # an unexpected failure is still recorded before it propagates
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        store.finish_run(database, run_id, outcome, settings.redact(error) if error else None,
                         requests=source.requests - counted)
    row = database["harvest_runs"].get(run_id)
    total = database.execute(
        "select count(*) from replies where platform = ? and thread_id = ?", [source.platform, root.id]
    ).fetchone()[0]
    return HarvestResult(source.platform, root.id, root.url, row["new_count"], row["updated_count"],
                         row["requests"], total, run_id)
