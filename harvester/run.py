"""Harvesting one thread: fetch the root, store every page as it arrives, record the run."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from replies import __version__, db, platforms
from replies.errors import ConfigurationError, RepliesError
from replies.net.events import Events
from replies.net.retry import RetryPolicy
from replies.platforms.refs import coverage

from .errors import BadResponse, RateLimited
from .record import MALFORMED, Post
from .settings import Settings
from .source import Batch, Source

PAGING = ("next_token", "cursor", "next")  # cursor names that must move on from page to page


class PageGuard:
    """Bounds a harvest by what the platform reported, whatever its server sends: a page cursor handed out
    twice ends the harvest, and so do more pages than the thread's own counts could need, or more time
    than `deadline` seconds."""

    def __init__(self, platform: str, root: Post, *, deadline: float = float("inf"),
                 clock: Callable[[], float] = time.time):
        self.platform = platform
        self.clock, self.deadline = clock, deadline
        self.started = clock()
        self.reported = (root.reply_count or 0) + (root.quote_count or 0)
        # one page per reported post, twice over, plus slack for posts that arrived since: a generous bound
        self.limit = 100 + 2 * self.reported
        self.pages = 0
        self.seen: set[tuple[str, str]] = set()

    def check(self, batch: Batch) -> None:
        self.pages += 1
        for key, value in batch.cursors.items():
            if value is None or not key.endswith(PAGING):
                continue
            if (key, value) in self.seen:
                raise BadResponse(f"the {self.platform} server sent the same page cursor twice ({key}); stopped "
                                  "there, what was stored is kept")
            self.seen.add((key, value))
        if self.clock() - self.started > self.deadline:
            raise BadResponse(f"the {self.platform} thread has taken longer than {self.deadline / 60:.0f} minutes; "
                              "stopped there, what was stored is kept and the next run carries on")
        if self.pages > self.limit:
            raise BadResponse(f"the {self.platform} server kept sending pages: {self.pages} pages for a thread it "
                              f"reports {self.reported} replies and quotes on; stopped there, what was "
                              "stored is kept")


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
    found: int | None = None     # replies and quotes stored with content ...
    expected: int | None = None  # ... against what the platform's own counts promise
    malformed_fields: int = 0    # fields the server sent not as its API documents, stored without (warned)
    failed_requests: int = 0     # requests for part of the thread that failed and were passed over (warned)
    unavailable: dict[str, int] | None = None  # posts stored without content (blocked, deleted ...), by status


def source_for(url: str, settings: Settings, events: Events, *, options: Mapping[str, Any] | None = None,
               wait: bool = True) -> Source:
    """The Source of the platform that understands `url`, ready to harvest it. `options` are the harvesting
    options platforms declare (`full_archive`, `origin`): each goes to the platform that declares it only."""
    unknown = sorted(set(options or {}) - {option.name for _, option in platforms.options()})
    if unknown:
        raise ConfigurationError(f"no platform takes the harvesting option {unknown[0]!r} (they take: "
                                 + ", ".join(option.name for _, option in platforms.options()) + ")")
    name, ref = platforms.parse(url)
    platform = platforms.get(name)
    retry = RetryPolicy(events, wait_on_rate_limit=wait, max_attempts=settings.max_attempts,
                        max_wait=settings.max_wait, clock=settings.clock, sleep=settings.sleep)
    mine = {key: value for key, value in (options or {}).items() if key in platform.option_names()}
    return platform.source_class()(*ref, settings, retry, events, **mine)


def harvest(database: Database, url: str, settings: Settings | None = None, *, events: Events | None = None,
            options: Mapping[str, Any] | None = None, wait: bool = True) -> HarvestResult:
    """Harvest the thread at `url` into `database`: the root, every reply at any depth, and quotes. `options`:
    the platforms' declared harvesting options by name (`{"full_archive": True}` for X), unknown ones refused.

    Every page is committed with its pagination checkpoint, so a run that is
    interrupted (Ctrl-C, kill, crash, rate limit) is carried on by the next.
    `events.finish()` is called when the harvest ends, however it ends.
    """
    settings = settings or Settings.from_env()
    events = events or Events()
    try:
        source = source_for(url, settings, events, options=options, wait=wait)
        try:
            return _harvest(database, url, source, settings, events)
        finally:
            source.close()
    finally:
        events.finish()


def _harvest(database: Database, url: str, source: Source, settings: Settings, events: Events) -> HarvestResult:
    try:
        root = source.fetch_root()
    except RepliesError as exc:
        run_id = db.start_run(database, source.platform, url, __version__)
        db.finish_run(database, run_id, "rate_limited" if isinstance(exc, RateLimited) else "error",
                         settings.redact(str(exc)), requests=source.requests)
        raise
    db.upsert_thread(database, root.thread_row())
    run_id = db.start_run(database, source.platform, root.id, __version__)
    counted = 0
    stored = 0

    def read_cursor(name: str) -> str | None:
        return db.get_cursor(database, source.platform, root.id, name)

    outcome, error, coverage = "error", None, None
    guard = PageGuard(source.platform, root, deadline=settings.thread_deadline, clock=settings.clock)
    malformed = _warn_malformed(source.platform, [root], events, 0)
    failed = 0
    try:
        for batch in source.batches(root, read_cursor):
            guard.check(batch)
            malformed = _warn_malformed(source.platform, batch.posts, events, malformed)
            for failure in batch.failures:
                failed += 1
                events.warn(f"{failure}; the thread is incomplete, and the next run asks again")
            rows = [p.reply_row(root.id, batch.source_url, __version__) for p in batch.posts]
            cursors = {(source.platform, root.id, k): v for k, v in batch.cursors.items()}
            delta, counted = source.requests - counted, source.requests
            db.store_replies(database, rows, run_id=run_id, cursors=cursors, requests=delta)
            stored += len(rows)
            events.progress(stored, root.reply_count)
        outcome = "ok"
        coverage = _coverage(database, source.platform, root.id, events)
    except RateLimited as exc:
        outcome, error = "rate_limited", str(exc)
        raise
    except KeyboardInterrupt:
        outcome, error = "interrupted", "interrupted by the user"
        raise
    except RepliesError as exc:
        error = str(exc)
        raise
    except Exception as exc:  # an unexpected failure is still recorded before it propagates
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        db.finish_run(database, run_id, outcome, settings.redact(error) if error else None,
                         requests=source.requests - counted, coverage=coverage)
    row = database["harvest_runs"].get(run_id)
    total = database.execute(
        "select count(*) from replies where platform = ? and thread_id = ?", [source.platform, root.id]
    ).fetchone()[0]
    if malformed > MALFORMED_SHOWN:
        events.warn(f"{malformed} fields in all were not as the {source.platform} API documents them and were "
                    "stored without them (the raw JSON keeps them)")
    return HarvestResult(source.platform, root.id, root.url, row["new_count"], row["updated_count"],
                         row["requests"], total, run_id, row["found"], row["expected"], malformed, failed,
                         db.unavailable_posts(database, source.platform, root.id))


MALFORMED_SHOWN = 10  # warnings about malformed fields per thread, before one that counts the rest


def _warn_malformed(platform: str, posts: list[Post], events: Events, seen: int) -> int:
    """Warn of each field a server sent not as its API documents (the first MALFORMED_SHOWN of a thread);
    returns how many there are so far."""
    for post in posts:
        if post.status == MALFORMED:
            post.problems.insert(0, "the post as a whole (kept with its raw JSON, left out of classification and "
                                    "exports)")
        for problem in post.problems:
            seen += 1
            if seen <= MALFORMED_SHOWN:
                events.warn(f"{platform} post {post.id}: {problem} is not as the API documents it; stored "
                            "without it (the raw JSON keeps it)")
    return seen


def _coverage(database: Database, platform: str, thread_id: str, events: Events) -> tuple[int, int | None]:
    """(found, expected) after a complete pass; a shortfall is a warning, and so is a fall since the last
    pass that measured it."""
    found, expected = coverage(database, platform, thread_id)
    before = db.previous_coverage(database, platform, thread_id)
    if expected is not None and found < expected:
        shortfall = db.describe_coverage(found, expected, db.unavailable_posts(database, platform, thread_id))
        message = (f"coverage: {found} of the {expected} replies and quotes the platform counts were stored"
                   f"{shortfall.removeprefix(f'{found} of {expected}')}")
        if before and before[0] * expected > found * before[1]:
            message += f" (down from {before[0]} of {before[1]} at the last harvest)"
        events.warn(message)
    return found, expected
