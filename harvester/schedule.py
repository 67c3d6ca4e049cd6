"""Harvesting several threads (the URLs given, or `harvest --all`: every tracked thread still active), one
after another, and what they came to.

A failure on one thread does not stop the others; the outcome of each is returned (`harvest_one`,
`harvest_all`), and `summarise` turns them into the exit code and the one line a person reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from replies.db.tracking import link_thread, tracked
from replies.errors import PARTIAL_EXIT_CODE, ConfigurationError, RepliesError
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


@dataclass
class Summary:
    """What a harvest of several threads came to: the exit code a program ends with (docs/settings.md) and,
    when it is not 0, the one line a person reads; with the threads behind it."""

    code: int
    message: str | None
    failed: list[ThreadOutcome]
    rate_limited: list[ThreadOutcome]
    incomplete: list[ThreadOutcome]  # harvested, but stored without fields or pages their server sent malformed


def summarise(outcomes: list[ThreadOutcome]) -> Summary:
    """The outcome policy of a harvest: every thread's settings wrong is a configuration error (4); a thread
    failed, or stored without what its server sent malformed, a partial harvest (5); only rate limits, 3
    (the next run carries on); else 0."""
    failed = [o for o in outcomes if o.outcome == "error"]
    limited = [o for o in outcomes if o.outcome == "rate_limited"]
    # a thread stored without fields its server sent malformed is harvested, but not whole
    incomplete = [o for o in outcomes if o.outcome == "ok" and o.result
                  and (o.result.malformed_fields or o.result.failed_requests)]
    # a token or setting that stops every thread is a configuration error, not a partial failure
    all_config = bool(outcomes) and all(o.outcome == "error" and o.exit_code == ConfigurationError.exit_code
                                        for o in outcomes)
    code = (ConfigurationError.exit_code if all_config else PARTIAL_EXIT_CODE if failed or incomplete
            else RateLimited.exit_code if limited else 0)
    message = None
    if code == RateLimited.exit_code:
        message = (f"rate-limited on {len(limited)} of {len(outcomes)} threads; run again after the reset to carry "
                   "on")
    elif code and not failed:
        fields = sum(o.result.malformed_fields for o in incomplete)
        requests = sum(o.result.failed_requests for o in incomplete)
        missing = " and ".join(part for part in (f"{fields} fields their server sent malformed" if fields else "",
                                                 f"what {requests} failed requests held" if requests else "") if part)
        message = f"{len(incomplete)} of {len(outcomes)} threads were stored without {missing} (see the warnings)"
    elif code:
        message = f"{len(failed)} of {len(outcomes)} threads failed; the others were harvested"
    return Summary(code, message, failed, limited, incomplete)
