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


class StderrBar:
    """A click progress bar on stderr, only on a terminal; a new bar whenever the label changes."""

    def __init__(self):
        self.label, self.bar, self.shown = None, None, 0

    def __call__(self, label: str, done: int, total: int | None) -> None:
        if not sys.stderr.isatty():
            return
        if label != self.label or self.bar is None:
            self.close()
            self.label, self.shown = label, 0
            self.bar = click.progressbar(length=max(total or 0, done, 1), label=label, file=sys.stderr,
                                         show_pos=True)
            self.bar.__enter__()
        self.bar.length = max(self.bar.length, done)
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


class StderrEvents(Events):
    """Warnings, waits and a progress bar on stderr; the bar only on a terminal."""

    def __init__(self, label: str = "Harvesting", quiet: bool = False):
        self.label = label
        self.quiet = quiet
        self.bar = StderrBar()

    def warn(self, message: str) -> None:
        self.bar.close()
        click.echo(f"Warning: {message}", err=True)

    def waiting(self, seconds: float, reason: str) -> None:
        self.bar.close()
        if not self.quiet:
            click.echo(f"Waiting {seconds:.0f}s: {reason}", err=True)

    def progress(self, stored: int, expected: int | None) -> None:
        if not self.quiet:
            self.bar(self.label, stored, expected)

    def finish(self) -> None:
        self.bar.close()
