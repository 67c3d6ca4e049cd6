"""`harvest --all`: poll every tracked thread that is still active, one after another.

A failure on one thread does not stop the others; the outcome of each is
returned so the caller can print a line per thread and choose the exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from replies.db.tracking import link_thread, tracked
from replies.errors import RepliesError
from replies.net.events import Events

from .errors import BadResponse, RateLimited
from .run import HarvestResult, harvest
from .settings import Settings


@dataclass
class ThreadOutcome:
    url: str
    outcome: str  # ok, rate_limited, error, finished (past its end: not polled)
    result: HarvestResult | None = None
    error: str | None = None
    exit_code: int = 0
    exception: RepliesError | None = None


def harvest_one(database: Database, url: str, settings: Settings, *, events: Events, wait: bool = True,
                options: Mapping[str, Any] | None = None) -> ThreadOutcome:
    """Harvest one thread, turning a harvest error into its outcome rather than raising it."""
    try:
        return ThreadOutcome(url, "ok", harvest(database, url, settings, events=events, wait=wait,
                                                options=options))
    except RepliesError as exc:
        return ThreadOutcome(url, "rate_limited" if isinstance(exc, RateLimited) else "error", error=str(exc),
                             exit_code=exc.exit_code, exception=exc)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        # An answer shaped unlike the API's documentation: that thread's outcome, never every thread's.
        error = BadResponse(f"the server's answer for {url} is not shaped as its API documents "
                            f"({type(exc).__name__}: {str(exc)[:120]}); what arrived before it is kept")
        return ThreadOutcome(url, "error", error=str(error), exit_code=error.exit_code, exception=error)


def harvest_all(database: Database, settings: Settings, *, now: datetime | None = None,
                events_for: Callable[[str], Events] | None = None, wait: bool = True,
                report: Callable[[ThreadOutcome], None] | None = None,
                options: Mapping[str, Any] | None = None) -> list[ThreadOutcome]:
    """Harvest every active tracked thread (with the platforms' harvesting `options`); `report` is called after
    each one."""
    outcomes = []
    for item in tracked(database, now):
        if not item["active"]:
            outcome = ThreadOutcome(item["url"], "finished")
        else:
            events = events_for(item["url"]) if events_for else Events()
            outcome = harvest_one(database, item["url"], settings, events=events, wait=wait, options=options)
            if outcome.result:
                link_thread(database, item["url"], outcome.result.platform, outcome.result.thread_id)
        outcomes.append(outcome)
        if report:
            report(outcome)
    return outcomes
