"""How a long piece of work (a harvest, a language-model run) reports progress, waits and warnings without
printing.

The library calls these hooks; the CLI supplies an implementation that writes to stderr (or JSON lines). The
default does nothing, so the library is quiet when used from Python.
"""

from __future__ import annotations


class Events:
    def warn(self, message: str) -> None:
        """Something the user should know; the work goes on."""

    def waiting(self, seconds: float, reason: str) -> None:
        """The work is about to sleep (a rate limit or a retry's back-off)."""

    def progress(self, stored: int, expected: int | None) -> None:
        """`stored` items have been committed so far; `expected` is the whole, where known."""

    def finish(self) -> None:
        """The work these events reported on is over: a progress display can be closed."""
