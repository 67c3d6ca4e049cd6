"""`replies harvest`, `replies import`, `replies threads`."""

from __future__ import annotations

import click

import db
from harvester.errors import HarvestError, RateLimited
from harvester.run import harvest as harvest_thread
from harvester.settings import Settings
from harvester.twarc_import import import_twarc

from .common import EXIT_PARTIAL, StderrEvents, db_option, fail, open_database
from .output import output_options, write_rows


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("--full-archive", is_flag=True,
              help="X only: search the full archive (search_all) instead of the last 7 days.")
@click.option("--no-wait", is_flag=True,
              help="Stop at a rate limit instead of waiting for it to reset; the next run carries on.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or wait messages.")
@db_option
def harvest(urls, full_archive, no_wait, quiet, db_path):
    """Harvest the question post at each URL and every reply and quote.

    \b
    URL forms:
      https://x.com/USER/status/ID            (needs X_BEARER_TOKEN)
      https://bsky.app/profile/HANDLE/post/ID  or  at://DID/app.bsky.feed.post/ID
      https://INSTANCE/@USER/ID               (MASTODON_ACCESS_TOKEN optional)

    Every page is committed as it arrives: after Ctrl-C, a crash or a rate
    limit, run the same command again and it carries on. A second harvest of a
    thread fetches only what is new where the API allows (since_id on X).
    X's recent search reaches back 7 days; use --full-archive for older threads.
    """
    settings = Settings.from_env()
    database = open_database(db_path)
    failures = 0
    for url in urls:
        events = StderrEvents(label=url[:40], quiet=quiet)
        try:
            result = harvest_thread(database, url, settings, events=events, full_archive=full_archive,
                                    wait=not no_wait)
        except RateLimited:
            events.finish()
            raise
        except HarvestError as exc:
            events.finish()
            if len(urls) == 1:
                raise
            click.echo(f"Error: {url}: {exc}", err=True)
            failures += 1
            continue
        events.finish()
        click.echo(f"{result.platform} {result.thread_id}: {result.new} new, {result.updated} updated, "
                   f"{result.total} stored, {result.requests} requests")
    if failures:
        fail(f"{failures} of {len(urls)} threads failed; the others were harvested", EXIT_PARTIAL)


@click.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
def import_(file, db_path):
    """Import a twarc2 JSONL file (raw API pages or flattened tweets) from an earlier collection."""
    result = import_twarc(open_database(db_path), file)
    click.echo(f"{result.tweets} tweets read: {result.new} new, {result.updated} updated, "
               f"in {result.threads} threads")


@click.command()
@output_options
@db_option
def threads(fmt, db_path):
    """List tracked threads with reply and quote counts and the last harvest time."""
    rows = db.list_threads(open_database(db_path))
    if not rows and fmt == "table":
        click.echo("No threads yet: run `replies harvest URL` or `replies demo`.", err=True)
        return
    write_rows(rows, fmt)
