"""What every command shares: the --db option, error translation, stderr progress."""

from __future__ import annotations

import sys

import click

import db
from classifier.errors import ClassifierError
from harvester.errors import HarvestError
from harvester.events import Events

EXIT_ERROR, EXIT_RATE_LIMITED, EXIT_CONFIG, EXIT_PARTIAL, EXIT_INTERRUPTED = 1, 3, 4, 5, 130


def db_option(fn):
    return click.option(
        "--db", "db_path", envvar="REPLIES_DB", default="replies.db", show_default=True,
        type=click.Path(dir_okay=False), help="SQLite database file (or set REPLIES_DB).",
    )(fn)


def open_database(path: str):
    return db.open_db(path)


def fail(message: str, code: int = EXIT_ERROR) -> None:
    """Print one line on stderr and exit with `code`."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


class RepliesGroup(click.Group):
    """Turns the library's errors into one line on stderr and a documented exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HarvestError as exc:
            fail(str(exc), exc.exit_code)
        except db.DatabaseError as exc:
            fail(str(exc), EXIT_ERROR)
        except ClassifierError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("\nInterrupted: everything stored so far is kept; run the same command again to carry on.",
                       err=True)
            sys.exit(EXIT_INTERRUPTED)


class StderrEvents(Events):
    """Warnings, waits and a progress bar on stderr; the bar only on a terminal."""

    def __init__(self, label: str = "Harvesting", quiet: bool = False):
        self.label = label
        self.quiet = quiet
        self.bar = None
        self.shown = 0

    def warn(self, message: str) -> None:
        self._clear()
        click.echo(f"Warning: {message}", err=True)

    def waiting(self, seconds: float, reason: str) -> None:
        self._clear()
        if not self.quiet:
            click.echo(f"Waiting {seconds:.0f}s: {reason}", err=True)

    def progress(self, stored: int, expected: int | None) -> None:
        if self.quiet or not sys.stderr.isatty():
            return
        if self.bar is None:
            self.bar = click.progressbar(length=max(expected or 0, stored, 1), label=self.label, file=sys.stderr,
                                         show_pos=True)
            self.bar.__enter__()
        self.bar.length = max(self.bar.length, stored)
        self.bar.update(stored - self.shown)
        self.shown = stored

    def finish(self) -> None:
        self._clear()

    def _clear(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
            self.shown = 0
