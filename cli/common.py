"""What every command shares: the --db option, error translation, stderr progress."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import click

from replies import db
from replies.db.lock import HarvestLock, LockHeld
from replies.db.times import utc_now
from replies.errors import PARTIAL_EXIT_CODE, RepliesError
from replies.harvester.settings import redact as redact_tokens
from replies.net.events import Events
from replies.text import visible

from .config import current_config

EXIT_ERROR, EXIT_USAGE, EXIT_RATE_LIMITED, EXIT_CONFIG = 1, 2, 3, 4
EXIT_PARTIAL, EXIT_LOCKED, EXIT_INTERRUPTED = PARTIAL_EXIT_CODE, 6, 130
FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # a write refused for want of room


class Number(click.FloatRange):
    """A number in a range where "nan", which every comparison lets through, is refused; `what` names it in
    the message."""

    what = "number"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a {self.what}", param, ctx)
        return number


class Seconds(Number):
    """A number of seconds, at least `min`; "inf" means no limit."""

    name, what = "seconds", "number of seconds"


class Level(Number):
    """A confidence level above 0 and at most 0.999999: closer to 1, the interval's normal quantile is no longer
    a number a computer holds (0.9999999999999999 makes it 1.0, whose quantile is infinite)."""

    name, what = "level", "confidence level"

    def __init__(self):
        super().__init__(0, 0.999999, min_open=True)


def db_option(fn):
    return click.option(
        "--db", "db_path", envvar="REPLIES_DB", default=lambda: current_config().get("REPLIES_DB", "replies.db"),
        show_default="replies.db", type=click.Path(dir_okay=False),
        help="SQLite database file (or set REPLIES_DB, or `db` in the config file).",
    )(fn)


def open_database(path: str, *, create: bool = False):
    """The database at `path`. Only the commands that store what they fetch (`create`) make a new one: a
    mistyped --db given to any other is an error, not an empty database left behind."""
    return db.open_db(path, create=create)


def fail(message: str, code: int = EXIT_ERROR) -> None:
    """Print one line on stderr (tokens redacted) and exit with `code`."""
    click.echo(f"Error: {visible(redact(message), keep_newlines=False)}", err=True)
    sys.exit(code)


def redact(text: str) -> str:
    """`text` with every token this command knows replaced by ***: tokens never reach output or logs."""
    return redact_tokens(text, current_config().tokens())


@contextmanager
def kept_only_if_used(db_path: str):
    """A database this command makes is removed again, with its WAL and lock files, when the command ends
    with nothing stored in it (no thread, reply or tracked URL; the record of its own failed run is not kept
    either): a first harvest or import that fails leaves no empty database behind."""
    path = db.resolve_path(db_path)
    existed = path.exists()
    try:
        yield
    finally:
        if not existed and path.exists() and _holds_nothing(path):
            for suffix in ("", "-wal", "-shm", ".lock"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


def _holds_nothing(path) -> bool:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return not any(conn.execute(f"select 1 from {table} limit 1").fetchone()
                           for table in ("threads", "replies", "tracked"))
    except sqlite3.Error:
        return False  # unreadable as a database: not something to delete


@contextmanager
def harvest_lock(db_path: str, log=None):
    """Hold the database's harvest lock, or exit at once with code 6 when another harvest has it.

    A lock left by a killed run is taken over, and that run's records are marked interrupted."""
    path = db.resolve_path(db_path)
    if not path.parent.is_dir():
        fail(f"cannot use database {path}: folder {path.parent} does not exist")
    try:
        with HarvestLock(path) as lock:
            if lock.stale:
                message = (f"taking over the lock of a harvest that died (pid {lock.stale.get('pid')}, started "
                           f"{lock.stale.get('started_at')}); its unfinished runs are marked interrupted")
                if log:
                    log.event("warning", message=message)
                else:
                    click.echo(f"Warning: {message}", err=True)
                db.mark_abandoned_runs(open_database(db_path, create=True), "the harvesting process died")
            yield lock
    except OSError as exc:  # the lock file cannot be made or opened: a read-only folder, a full disk
        fail(f"cannot take the harvest lock {path}.lock: {exc.strerror}")
    except LockHeld as exc:
        if log:
            log.event("error", message=str(exc), exit_code=EXIT_LOCKED)
            sys.exit(EXIT_LOCKED)
        fail(str(exc), EXIT_LOCKED)


class JsonLog:
    """--log-json: one JSON object per line on stdout, each with the time and an event name."""

    def event(self, name: str, **fields) -> None:
        record = {"time": utc_now(), "event": name, **fields}
        line = redact(json.dumps(record, ensure_ascii=False, default=str))
        click.echo(line)

    def events(self, url: str) -> "JsonEvents":
        return JsonEvents(self, url)

    def thread(self, outcome) -> None:
        result = outcome.result
        fields = {"url": outcome.url, "outcome": outcome.outcome}
        if result:
            fields.update(platform=result.platform, thread=result.thread_id, new=result.new,
                          updated=result.updated, stored=result.total, requests=result.requests,
                          found=result.found, expected=result.expected, malformed_fields=result.malformed_fields,
                          failed_requests=result.failed_requests)
        if outcome.error:
            fields.update(error=outcome.error, exit_code=outcome.exit_code)
        self.event("thread", **fields)

    def summary(self, outcomes, exit_code: int) -> None:
        count = lambda kind: sum(1 for o in outcomes if o.outcome == kind)
        self.event("summary", threads=len(outcomes), ok=count("ok"), rate_limited=count("rate_limited"),
                   failed=count("error"), finished=count("finished"),
                   new=sum(o.result.new for o in outcomes if o.result), exit_code=exit_code)


class JsonEvents(Events):
    def __init__(self, log: JsonLog, url: str):
        self.log, self.url = log, url

    def warn(self, message: str) -> None:
        self.log.event("warning", url=self.url, message=message)

    def waiting(self, seconds: float, reason: str) -> None:
        self.log.event("waiting", url=self.url, seconds=round(seconds, 1), reason=reason)

    def finish(self) -> None:
        pass


class RepliesGroup(click.Group):
    """Turns the library's errors into one line on stderr and a documented exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RepliesError as exc:
            fail(str(exc), exc.exit_code)
        except sqlite3.OperationalError as exc:  # the disk is full, the file is read-only, a lock timed out
            full = "free some space, then run the same command again: nothing committed is lost"
            hint = {"database or disk is full": full,
                    "disk I/O error": "is the disk full or a file-size limit reached? " + full,
                    "database is locked": "another program held the database too long; run again"}.get(str(exc), "")
            fail(f"could not write the database: {exc}" + (f" ({hint})" if hint else ""), EXIT_ERROR)
        except sqlite3.DatabaseError as exc:  # a damaged file: "database disk image is malformed"
            fail(f"cannot read the database: {exc}; restore it from a backup, or save what can be read with "
                 "`sqlite3 FILE .recover | sqlite3 NEW.db`", EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("\nInterrupted: everything stored so far is kept; run the same command again to carry on.",
                       err=True)
            sys.exit(EXIT_INTERRUPTED)
        except OSError as exc:
            if exc.errno not in FULL:
                raise  # a closed pipe (`| head`) click ends quietly; anything else keeps its traceback
            # the output (standard output, most often) cannot take more: what was not written is dropped
            # rather than failing again when Python flushes it at exit
            sys.stdout = open(os.devnull, "w")
            fail(f"could not write the output: {exc.strerror}; free some space, or send the output elsewhere",
                 EXIT_ERROR)


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
        if done and not self.bar.eta_known and total:
            # click makes its first estimate a second in; a step of many seconds says how long is left from its
            # first update instead (the mean time an item took so far)
            self.bar.avg = [(time.time() - self.bar.start) / done]
            self.bar.eta_known = True
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
        click.echo(f"Warning: {visible(redact(message), keep_newlines=False)}", err=True)

    def waiting(self, seconds: float, reason: str) -> None:
        self.bar.close()
        if not self.quiet:
            click.echo(f"Waiting {seconds:.0f}s: {reason}", err=True)

    def progress(self, stored: int, expected: int | None) -> None:
        if not self.quiet:
            self.bar(self.label, stored, expected)

    def finish(self) -> None:
        self.bar.close()


FLAG_RE = re.compile(r"--[a-z][a-z0-9-]{1,40}")


def declared_options(command: click.Command, declared: list[tuple[str, str, str, dict]]) -> None:
    """Add to `command` an option for each (owner, flag, name, click settings) a plugin or a built-in part
    declares, after the command's own. A malformed flag, or a flag or name the command (or an earlier
    declaration) has already, would break the command for everyone: it is left out, and said on stderr."""
    taken_flags = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help"}
    taken_names = {param.name for param in command.params}
    for owner, flag, name, settings in declared:
        if not FLAG_RE.fullmatch(flag) or flag in taken_flags or not name.isidentifier() or name in taken_names:
            click.echo(f"replies: the option {flag} ({name}) of {owner} is left out: its flag or name is "
                       "malformed or taken", err=True)
            continue
        taken_flags.add(flag)
        taken_names.add(name)
        command.params.append(click.Option([flag, name], **settings))
