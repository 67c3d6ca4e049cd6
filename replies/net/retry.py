"""Retries for every platform: bounded back-off on transient failures, and
rate-limit waits taken from the platform's reset header.

Platform clients translate their library's failures into `Transient` or
`RateLimitHit`; this module decides whether and how long to wait (tenacity).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from .errors import ApiUnavailable, BadResponse, RateLimited
from .events import Events

T = TypeVar("T")
MAX_RATE_LIMIT_WAITS = 20
MAX_BAD_BODY_ATTEMPTS = 3  # a body that is not JSON is rarely fixed by asking many more times


class Transient(Exception):
    """A failure worth retrying: 5xx, time-out, reset connection, cut-off body."""

    def __init__(self, message: str, *, bad_body: bool = False):
        super().__init__(message)
        self.bad_body = bad_body


class RateLimitHit(Exception):
    """A 429; `reset_at` is the epoch second the window reopens, if known."""

    def __init__(self, message: str, reset_at: float | None):
        super().__init__(message)
        self.reset_at = reset_at


class RetryPolicy:
    """Calls a function, retrying transient failures and waiting out rate limits."""

    def __init__(self, events: Events, *, wait_on_rate_limit: bool = True, max_attempts: int = 8,
                 backoff_initial: float = 0.25, backoff_max: float = 20.0, max_wait: float = 900.0,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self.events = events
        self.wait_on_rate_limit = wait_on_rate_limit
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.backoff = wait_exponential(multiplier=backoff_initial, max=backoff_max)
        self.clock = clock
        self.sleep = sleep

    def _rate_wait(self, exc: RateLimitHit) -> float:
        """Seconds until the window reopens (a server's reset in year 9999 is just a very long wait)."""
        return 1.0 if exc.reset_at is None else max(0.0, exc.reset_at - self.clock()) + 1.0

    def call(self, fn: Callable[[], T], what: str) -> T:
        """Run `fn`; raise ApiUnavailable, BadResponse or RateLimited when retries are spent."""
        transient_failures = 0
        rate_waits = 0
        too_long: list[float] = []

        def count(state: RetryCallState) -> None:
            nonlocal transient_failures, rate_waits
            exc = state.outcome.exception()
            if isinstance(exc, RateLimitHit):
                rate_waits += 1
            else:
                transient_failures += 1

        def should_stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception()
            if isinstance(exc, RateLimitHit):
                wait = self._rate_wait(exc)
                if self.wait_on_rate_limit and wait > self.max_wait:
                    too_long.append(wait)  # a reset hours away: stop, the next run carries on
                    return True
                return not self.wait_on_rate_limit or rate_waits > MAX_RATE_LIMIT_WAITS
            if exc.bad_body and transient_failures >= MAX_BAD_BODY_ATTEMPTS:
                return True
            return transient_failures >= self.max_attempts

        def wait_for(state: RetryCallState) -> float:
            exc = state.outcome.exception()
            if isinstance(exc, RateLimitHit):
                return self._rate_wait(exc)
            return self.backoff(state)

        def announce(state: RetryCallState) -> None:
            exc = state.outcome.exception()
            if isinstance(exc, RateLimitHit):
                reason = f"rate limit on {what}; waiting for it to reset"
            else:
                reason = f"{exc}; retrying {what}"
            self.events.waiting(state.next_action.sleep, reason)

        retrying = Retrying(
            retry=retry_if_exception_type((Transient, RateLimitHit)),
            after=count,
            stop=should_stop,
            wait=wait_for,
            before_sleep=announce,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except RateLimitHit as exc:
            when = _clock_time(exc.reset_at)
            beyond = (f" ({too_long[0] / 60:.0f} min away, more than --max-wait {self.max_wait:g}s)"
                      if too_long else "")
            raise RateLimited(
                f"rate limit reached on {what}; it resets at {when}{beyond}: run again then to carry on",
                reset_at=exc.reset_at,
            ) from None
        except Transient as exc:
            if exc.bad_body:
                raise BadResponse(f"{what} did not answer with the JSON expected ({exc}) after "
                                  f"{transient_failures} tries") from None
            raise ApiUnavailable(f"{what} failed {transient_failures} times in a row ({exc}); "
                                 "try again later") from None


def _clock_time(epoch: float | None) -> str:
    """The local time of `epoch`; a reset a server put in year 9999 (or never) is 'an unknown time'."""
    if epoch is None:
        return "soon"
    try:
        return time.strftime("%H:%M:%S", time.localtime(epoch))
    except (OverflowError, ValueError, OSError):
        return "an unknown time"
