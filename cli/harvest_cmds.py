"""`replies harvest`, `replies import`, `replies threads`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from replies import db, platforms
from replies.harvester.table_import import FIELDS, FORMATS, parse_mapping, read_table, store_table
from replies.platforms import parse as parse_url
from replies.platforms.refs import list_threads

from .common import (
    JsonLog,
    Seconds,
    StderrEvents,
    db_option,
    declared_options,
    fail,
    harvest_lock,
    kept_only_if_used,
    open_database,
)
from .config import current_config
from .output import is_terminal, output_options, write_rows

if TYPE_CHECKING:  # the harvest itself (the HTTP stack, the retry policy) loads when a harvest runs
    from replies.harvester.schedule import ThreadOutcome


class PlatformHelp(click.Command):
    """A command whose help lists each registered platform's URL forms and what it needs, from the platforms'
    declarations (`url_forms`, `url_note`), so a platform a plugin adds appears here without an edit."""

    def format_help_text(self, ctx, formatter):
        original = self.help
        lines = []
        for platform in platforms.registered().values():
            lines.append("  " + "  or  ".join(platform.url_forms))
            if platform.url_note:
                lines.append(f"      ({platform.url_note})")
        self.help = original.replace("{url_forms}", "\n    ".join(lines))  # the docstring's own indent
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = original


@click.command(cls=PlatformHelp)
@click.argument("urls", nargs=-1, metavar="URL...")
@click.option("--all", "all_tracked", is_flag=True,
              help="Harvest every tracked thread that is still active (see `replies track`): for cron.")
@click.option("--no-wait", is_flag=True,
              help="Stop at a rate limit instead of waiting for it to reset; the next run carries on.")
@click.option("--max-wait", type=Seconds(min=0), default=900, show_default=True, metavar="SECONDS",
              help="The longest rate-limit wait: a reset further away stops the thread as rate-limited "
                   "(exit code 3), and the next run carries on.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or wait messages.")
@click.option("--log-json", is_flag=True,
              help="Machine-readable log: one JSON object per line on stdout (thread results, warnings, "
                   "waits, errors, a final summary) instead of the human-readable lines.")
@db_option
def harvest(urls, all_tracked, no_wait, max_wait, quiet, log_json, db_path, **options):
    """Harvest the question post at each URL and every reply and quote.

    \b
    URL forms:
    {url_forms}

    Every page is committed as it arrives: after Ctrl-C, a crash or a rate
    limit, run the same command again and it carries on. A second harvest of a
    thread fetches only what is new where the API allows (since_id on X).
    X's recent search reaches back 7 days; use --full-archive for older threads.

    One harvest runs at a time per database: a second exits at once with code 6.
    Exit codes: 0 all done, 3 rate-limited (the next run resumes), 4 a token or
    setting is wrong, 5 some threads failed, 6 another harvest is running.
    """
    if all_tracked == bool(urls):
        raise click.UsageError("give URLs to harvest, or --all for every tracked thread (not both)")
    if len(urls) == 1:
        parse_url(urls[0])  # a URL no platform understands: one line, before any file is made
    settings = current_config().settings().replace(max_wait=max_wait)
    options = {name: value for name, value in options.items() if value}
    log = JsonLog() if log_json else None
    with kept_only_if_used(db_path), harvest_lock(db_path, log):
        database = open_database(db_path, create=True)
        if all_tracked:
            _harvest_tracked(database, settings, options, wait=not no_wait, quiet=quiet, log=log)
        else:
            _harvest_urls(database, urls, settings, options, wait=not no_wait, quiet=quiet, log=log)


# One flag for each harvesting option a registered platform declares (X's --full-archive, Mastodon's --origin):
# a plugin's options appear here without an edit.
declared_options(harvest, [(name, option.flag, option.name, {"is_flag": True, "help": option.help})
                           for name, option in platforms.options()])


def _events(url: str, quiet: bool, log):
    return log.events(url) if log else StderrEvents(label=url[:40], quiet=quiet)


def _report(outcome: ThreadOutcome, log) -> None:
    """The one line per thread a person (or, with --log-json, a program) reads."""
    if log:
        log.thread(outcome)
        return
    result = outcome.result
    if outcome.outcome == "ok":
        coverage = db.describe_coverage(result.found, result.expected, result.unavailable)
        platform = platforms.get(result.platform)
        noun = platform.request_noun if platform else "requests"
        click.echo(f"{result.platform} {result.thread_id}: {result.new} new, {result.updated} updated, "
                   f"{result.total} stored, {result.requests} {noun}"
                   + (f"; coverage {coverage}" if coverage else ""))
    elif outcome.outcome == "finished":
        click.echo(f"{outcome.url}: past its tracking end, not polled (`replies track URL --until DATE` extends it)")
    else:
        click.echo(f"Error: {outcome.url}: {outcome.error}", err=True)


def _finish(outcomes: list[ThreadOutcome], log) -> None:
    from replies.harvester.schedule import summarise

    summary = summarise(outcomes)
    if log:
        log.summary(outcomes, summary.code)
        if summary.code:
            sys.exit(summary.code)
        return
    if summary.code:
        fail(summary.message, summary.code)


def _harvest_urls(database, urls, settings, options, *, wait, quiet, log) -> None:
    from replies.harvester.schedule import harvest_one

    outcomes = []
    for url in urls:
        events = _events(url, quiet, log)
        outcome = harvest_one(database, url, settings, events=events, wait=wait, options=options)
        if outcome.exception and len(urls) == 1 and not log:
            raise outcome.exception  # one thread: its own one-line error and exit code
        _report(outcome, log)
        outcomes.append(outcome)
    _finish(outcomes, log)


def _harvest_tracked(database, settings, options, *, wait, quiet, log) -> None:
    from replies.harvester.schedule import harvest_all

    # each thread's events are finished by the harvest itself, before its outcome is reported
    outcomes = harvest_all(database, settings, events_for=lambda url: _events(url, quiet, log), wait=wait,
                           report=lambda outcome: _report(outcome, log), options=options)
    if not outcomes and not log:
        click.echo("No tracked threads: add one with `replies track URL`.", err=True)
    _finish(outcomes, log)


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("--until", "until", metavar="DATE",
              help="Stop polling after this date or time (ISO, e.g. 2026-12-31 or 2026-12-31T18:00Z); "
                   "default 14 days after the question was posted.")
@db_option
def track(urls, until, db_path):
    """Follow threads with `replies harvest --all` (for cron or a systemd timer) until a date."""
    ends = _parse_until(until) if until else None
    for url in urls:
        parse_url(url)  # refuse a URL no platform module understands before storing any
    database = open_database(db_path, create=True)
    for url in urls:
        db.track(database, url, ends)
        click.echo(f"Tracking {url} until {ends or '14 days after it was posted'}")


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@db_option
def untrack(urls, db_path):
    """Stop following threads; what was harvested stays in the database."""
    database = open_database(db_path)
    for url in urls:
        if not db.untrack(database, url):
            fail(f"{url} is not tracked: see `replies threads` or `replies query \"select * from tracked\"`")
        click.echo(f"No longer tracking {url}")


def _parse_until(text: str) -> str:
    from replies.db.times import parse_iso, to_iso
    try:
        return to_iso(parse_iso(text if "T" in text else f"{text}T23:59:59"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (write 2026-12-31 or 2026-12-31T18:00Z)",
                                 param_hint="--until") from None


@click.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["twarc", *FORMATS]), default="twarc", show_default=True,
              help="twarc: twarc2 JSONL from an X collection. csv or jsonl: any other tool's export, with --map "
                   "and --thread-url.")
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN,...",
              help="csv/jsonl: which column holds which field, e.g. text=comment,author=user,created_at=date. "
                   f"Fields: {', '.join(FIELDS)}. Only text is required.")
@click.option("--thread-url", metavar="URL", help="csv/jsonl: the question post the rows reply to; one URL is "
              "always one thread.")
@click.option("--platform", metavar="NAME", help="csv/jsonl: the platform to store the rows under (default: the "
              "thread URL's site, e.g. linkedin).")
@click.option("--question", metavar="TEXT", help="csv/jsonl: the question's text, stored with the thread.")
@click.option("--dry-run", is_flag=True, help="csv/jsonl: check every row and show how the first rows map; "
              "store nothing.")
@db_option
def import_(file, fmt, mapping, thread_url, platform, question, dry_run, db_path):
    """Import replies another tool collected.

    \b
    twarc2 JSONL (the default format): raw API pages, stream output or
    flattened tweets. Tweets found only in a page's `includes` are imported
    too; retweets are left out (they repeat another post, imported where the
    file holds it).

    \b
    Any CSV or JSONL (comment exporters, LinkedIn copy-outs, spreadsheets):
      replies import comments.csv --format csv --map text=comment,author=user \\
        --thread-url https://www.linkedin.com/posts/... --dry-run

    Every row is checked before any is stored: one bad row and nothing is
    stored, and the bad rows are named. A row with no id gets one made from its
    content, so importing the same file twice adds nothing. A row with no
    parent (or a parent the file does not hold) replies to the question.
    """
    if fmt == "twarc":
        for name, given in (("--map", mapping), ("--thread-url", thread_url), ("--platform", platform),
                            ("--question", question), ("--dry-run", dry_run)):
            if given:
                raise click.UsageError(f"{name} is for --format csv or jsonl; twarc2 files carry their own fields")
        with kept_only_if_used(db_path):
            from replies.harvester.twarc_import import import_twarc

            result = import_twarc(open_database(db_path, create=True), file)
        for note in result.skipped or []:
            click.echo(f"Warning: {file}: {note}", err=True)
        click.echo(f"{result.tweets} tweets read: {result.new} new, {result.updated} updated, "
                   f"in {result.threads} threads"
                   + (f"; {result.retweets} retweets left out" if result.retweets else ""))
        return
    if not mapping:
        raise click.UsageError(f"--format {fmt} needs --map, e.g. --map text=comment,author=user")
    if not thread_url:
        raise click.UsageError(f"--format {fmt} needs --thread-url: the question post the rows reply to")
    table = read_table(file, fmt, parse_mapping(mapping), thread_url, platform)
    extra = "".join([f"; {table.duplicates} duplicate rows" if table.duplicates else "",
                     f"; {table.orphans} with a parent not in the file, attached to the question"
                     if table.orphans else ""])
    if dry_run:
        write_rows(table.preview, "table")
        click.echo(f"Dry run: {table.rows} rows checked, {len(table.posts)} replies would be imported into "
                   f"{table.platform} thread {table.thread_id} ({table.thread_url}){extra}; nothing stored.")
        return
    with kept_only_if_used(db_path):
        store_table(open_database(db_path, create=True), table, f"file:{Path(file).name}", question)
    taken = f"; {table.taken} left out (ids already stored from another source)" if table.taken else ""
    click.echo(f"{table.rows} rows read: {table.new} new, {table.updated} updated{taken}, in {table.platform} "
               f"thread {table.thread_id}{extra}")
    if table.taken:
        click.echo(f"Warning: {table.taken} rows left out: their ids belong to {table.platform} replies stored from "
                   "another source (a harvest or another imported thread), which an import never overwrites; give "
                   "them other ids, or another --platform", err=True)


@click.command()
@output_options
@db_option
def threads(fmt, db_path):
    """List tracked threads: reply and quote counts, coverage and the last harvest time.

    Replies and quotes count posts with content, as `sample` and `estimate` do.
    Coverage compares what the last complete harvest stored with the platform's
    own counts (the question's reply and quote counts and each reply's reply
    count), naming the posts stored without content: "43 of 44; 2 unavailable
    (1 blocked, 1 not found)", "412 of 418; 6 deleted, hidden or unreachable".
    On a terminal the table shows REF (what `replies thread REF` takes) in place
    of the stored id and URL; --csv, --json and a file hold every field."""
    rows = list_threads(open_database(db_path))
    if not rows and fmt == "table":
        click.echo("No threads yet: run `replies harvest URL` or `replies demo`.", err=True)
        return
    if fmt == "table":  # to the minute, as a person reads it
        rows = [{**row, "last_harvest_at": (row["last_harvest_at"] or "")[:16].replace("T", " ")} for row in rows]
        if is_terminal(sys.stdout):  # a glance: "43 of 44" and "12-07 06:29" whole, the question's text cut last
            rows = [{**row, "coverage": (row["coverage"] or "").split(";")[0],
                     "last_harvest_at": row["last_harvest_at"][5:]} for row in rows]
    write_rows(rows, fmt, short={"author_handle": "author", "last_harvest_at": "harvested"},
               on_terminal=["ref", "replies", "quotes", "coverage", "last_harvest_at", "text"],
               uncut=["ref", "coverage", "last_harvest_at"])
