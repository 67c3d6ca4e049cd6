"""`harvest --all`: poll every tracked thread that is still active, one after another.

A failure on one thread does not stop the others; the outcome of each is
returned so the caller can print a line per thread and choose the exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from db.tracking import link_thread, tracked

from .errors import HarvestError, RateLimited
from .events import Events
from .run import HarvestResult, harvest
from .settings import Settings


@dataclass
class ThreadOutcome:
    url: str
    outcome: str  # ok, rate_limited, error, finished (past its end: not polled)
    result: HarvestResult | None = None
    error: str | None = None
    exit_code: int = 0


def harvest_all(database: Database, settings: Settings, *, now: datetime | None = None,
                events_for: Callable[[str], Events] | None = None, wait: bool = True,
                report: Callable[[ThreadOutcome], None] | None = None) -> list[ThreadOutcome]:
    """Harvest every active tracked thread; `report` is called after each one."""
    outcomes = []
    for item in tracked(database, now):
        if not item["active"]:
            outcome = ThreadOutcome(item["url"], "finished")
        else:
            events = events_for(item["url"]) if events_for else Events()
            try:
                result = harvest(database, item["url"], settings, events=events, wait=wait)
                link_thread(database, item["url"], result.platform, result.thread_id)
                outcome = ThreadOutcome(item["url"], "ok", result)
            except RateLimited as exc:
                outcome = ThreadOutcome(item["url"], "rate_limited", error=str(exc), exit_code=exc.exit_code)
            except HarvestError as exc:
                outcome = ThreadOutcome(item["url"], "error", error=str(exc), exit_code=exc.exit_code)
        outcomes.append(outcome)
        if report:
            report(outcome)
    return outcomes
