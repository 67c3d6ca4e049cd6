"""How the harvester reports progress, waits and warnings without printing.

The library calls these hooks; the CLI supplies an implementation that writes
to stderr. The default does nothing, so the library is quiet when used from Python.
"""

from __future__ import annotations


class Events:
    def warn(self, message: str) -> None:
        """Something the user should know; the harvest goes on."""

    def waiting(self, seconds: float, reason: str) -> None:
        """The harvester is about to sleep (rate limit or retry back-off)."""

    def progress(self, stored: int, expected: int | None) -> None:
        """`stored` posts have been committed so far; `expected` is the platform's own count, if any."""
