"""How many requests are in flight, adapting to the server, and the worker threads that send them (Ctrl-C
ends at once; every answer is handed back as it arrives)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

from replies.codebook import Codebook

from .client import ChatClient


class Pace:
    """How many requests may be in flight, adapting to the server. The first request goes alone (a server
    may load its model on it, which can take minutes); then the limit grows by one while answers come back as
    fast as one alone does, and falls back for good when they take half as long again as one alone: a server
    with one slot answers one at a time, and requests queued behind each other would only run into their
    time-outs."""

    def __init__(self, most: int, clock: Callable[[], float] = time.monotonic):
        self.most, self.clock = most, clock
        self.limit = 1
        self.ceiling = most  # lowered for good once answers are seen queueing behind each other
        self.alone: float | None = None  # how long one answer takes with nothing else in flight
        self.in_flight = 0
        self.condition = threading.Condition()
        self.answered = 0

    def start(self, stop: threading.Event) -> tuple[float, int] | None:
        """Wait for room under the limit; (start time, requests in flight with this one), None once stopped."""
        with self.condition:
            while self.in_flight >= self.limit and not stop.is_set():
                self.condition.wait(0.2)
            if stop.is_set():
                return None
            self.in_flight += 1
            return self.clock(), self.in_flight

    def done(self, started: tuple[float, int]) -> None:
        """An answer has arrived (and been stored) for a request started at `started`."""
        began, together = started
        took = self.clock() - began
        with self.condition:
            self.in_flight -= 1
            self.answered += 1
            if self.answered > 1 and together == 1:  # the first answer may include loading the model: not it
                self.alone = took if self.alone is None else 0.7 * self.alone + 0.3 * took
            if self.alone and together > 1 and took > max(1.5 * self.alone, QUEUE_NOTICED):
                # queued behind each other, not answered side by side: no more than the server answers at once
                self.ceiling = max(1, together - 1)
                self.limit = min(self.limit, self.ceiling)
            elif (self.answered >= 2 and together >= self.limit and self.limit < self.ceiling
                  and (self.alone is None or took < max(1.5 * self.alone, QUEUE_NOTICED))):
                self.limit += 1  # as many in flight as allowed, and answered as fast as one alone: one more
            self.condition.notify_all()

    def cancel(self) -> None:
        """A request started that found nothing left to send."""
        with self.condition:
            self.in_flight -= 1
            self.condition.notify_all()

    def wake(self) -> None:
        """Wake every worker waiting for room, to see that the run has stopped."""
        with self.condition:
            self.condition.notify_all()


SLOW_FIRST = 15.0  # seconds: a first answer slower than this is said to be waited for
QUEUE_NOTICED = 1.0  # seconds: answers quicker than this never count as queued (timing noise, no time-out near)


def _answers(client: ChatClient, codebook: Codebook, jobs: list, pace: Pace,
             note: Callable[[str], None]) -> Iterator[tuple]:
    """(job, Answer) as answers arrive, with as many requests in flight as `pace` allows. The workers are
    daemon threads: on Ctrl-C or an error the rest are not started, and a request still waiting on a slow
    server does not hold the program open (what has arrived is already stored by the caller)."""
    todo: queue.Queue = queue.Queue()
    arrived: queue.Queue = queue.Queue()
    stop = threading.Event()
    for job in jobs:
        todo.put(job)

    def work() -> None:
        while not stop.is_set():
            started = pace.start(stop)
            if started is None:
                return
            try:
                job = todo.get_nowait()
            except queue.Empty:
                pace.cancel()
                return
            try:
                arrived.put((job, client.code(codebook, job[1]), None, started))
            except BaseException as exc:  # handed to the main thread, which raises it
                arrived.put((job, None, exc, started))
                return

    for _ in range(min(pace.most, len(jobs))):
        threading.Thread(target=work, daemon=True, name="llm").start()
    first = True
    try:
        for _ in range(len(jobs)):
            job, answer, error, started = _next(arrived, None if not first else (
                SLOW_FIRST, lambda: note(f"waiting for the first answer from {client.settings.base}: a server "
                                         "loading its model can take minutes")))
            first = False
            if error is not None:
                raise error
            yield job, answer
            pace.done(started)  # the caller has stored it
    finally:
        stop.set()
        pace.wake()


def _next(arrived: queue.Queue, slow: tuple[float, Callable[[], None]] | None = None):
    """The next item, waiting in short steps: the kernel may hand Ctrl-C's SIGINT to a worker thread, and a
    main thread blocked on a lock with no time-out would not run Python's handler until an answer came.
    `slow`: (seconds, say) calls `say()` once if the item takes longer than that."""
    waited = 0.0
    while True:
        try:
            return arrived.get(timeout=0.2)
        except queue.Empty:
            waited += 0.2
            if slow and waited >= slow[0]:
                slow[1]()
                slow = None
