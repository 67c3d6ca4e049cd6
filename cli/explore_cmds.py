"""`replies query`, `search`, `stats` and `report`: questions to the database from the command line."""

from __future__ import annotations

import shlex
import signal
import threading

import click

from replies import db
from replies.db.queries import prefix_form, run_query
from replies.db.queries import search as run_search
from replies.report.stats import category_stats, replies_over_time, reviewed_count

from .common import Seconds, db_option, open_database
from .options import codebook_option, current_codebook, thread_key
from .output import output_options, write_rows


@click.command()
@click.argument("sql")
@click.option("-p", "--param", "params", type=(str, str), multiple=True, metavar="NAME VALUE",
              help="A named parameter for :NAME in the SQL (repeatable).")
@click.option("--timeout", type=Seconds(min=0, min_open=True), metavar="SECONDS",
              help="Give up on a query that runs longer than this (Ctrl-C always stops one).")
@output_options
@db_option
def query(sql, params, timeout, fmt, db_path):
    """Run SQL against the database, read-only: a write is refused and the file never changes.

    ATTACH and VACUUM INTO are refused too (they would create files). Ctrl-C
    stops a long query; --timeout stops one that runs too long.

    \b
    Views for common questions:
      reply_labels      each reply with its predicted and gold categories
      category_counts   replies per category, predicted and gold
      gold_current      the latest human label of each reply
    Tables: threads, replies, predictions, gold_labels, harvest_runs, ...

    \b
    Examples:
      replies query "select * from category_counts"
      replies query "select author, text from reply_labels where gold like '%money%'" --csv
      replies query "select * from replies where author_handle = :who" -p who alice --nl
    """
    database = db.open_db(db_path, readonly=True)
    interrupted = threading.Event()  # SQLite checks it while it works; Python cannot interrupt SQLite itself
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set())
    try:
        write_rows(run_query(database, sql, dict(params), timeout=timeout, stop=interrupted.is_set), fmt)
    finally:
        signal.signal(signal.SIGINT, previous)


@click.command()
@click.argument("text")
@click.option("--limit", type=click.IntRange(1, 2**63 - 1), default=20, show_default=True)  # SQLite's integers
@click.option("--thread", "thread_ref", help="Only this thread (URL, id or PLATFORM:ID).")
@click.option("--fts", "syntax", is_flag=True, help="Read TEXT as an SQLite FTS5 query: OR, NEAR, prefix*.")
@output_options
@db_option
def search(text, limit, thread_ref, syntax, fmt, db_path):
    """Full-text search of reply text, best matches first.

    TEXT is searched as written: every word must appear (apostrophes and
    hyphens included, as in can't or clinician-led), and "a quoted phrase"
    as a phrase. Where nothing matches, the table shows the replies with words
    that begin with TEXT's (clinician finds clinicians) and says so. With --fts,
    TEXT is an FTS5 query instead.
    """
    database = db.open_db(db_path, readonly=True)
    thread = thread_key(database, thread_ref)
    rows = run_search(database, text, limit=limit, thread=thread, syntax=syntax)
    if not rows and not syntax:
        started = run_search(database, text, limit=limit, thread=thread, prefix=True)
        if started and fmt == "table":  # a person reading: show them, and say what was searched
            click.echo(f"No reply has {text!r} as written; these have words that begin with it "
                       f"(--fts {shlex.quote(prefix_form(text))}):", err=True)
            rows = started
        elif started:  # a program reading: the answer it asked for, and the hint beside it
            click.echo(f"No reply has {text!r} as written; {len(started)}{'+' if len(started) == limit else ''} have "
                       f"words that begin with it: --fts {shlex.quote(prefix_form(text))}", err=True)
    if not rows and fmt == "table":
        click.echo(f"No reply matches {text!r}" + ("" if syntax else ", nor words that begin with it") + ".",
                   err=True)
        return
    write_rows(rows, fmt)


@click.command()
@click.option("--thread", "thread_ref", help="Only this thread (URL, id or PLATFORM:ID).")
@click.option("--by", "period", type=click.Choice(["day", "hour"]), default="day", show_default=True,
              help="Bucket for replies over time.")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@codebook_option
@db_option
def stats(thread_ref, period, as_json, codebook_path, db_path):
    """Replies per category (predicted by the model and given by reviewers) and replies over time."""
    import json

    database = open_database(db_path)
    book = current_codebook(database, codebook_path)
    thread = thread_key(database, thread_ref)
    found = {row["category"]: row for row in category_stats(database, book.name, book.hash, thread)}
    categories = [{"category": c.id, "label": c.label, **{k: found.get(c.id, {}).get(k, 0)
                                                          for k in ("predicted", "gold", "both_agree")}}
                  for c in book.categories]
    over_time = replies_over_time(database, thread, period)
    reviewed = reviewed_count(database, book.name, thread)
    total = sum(row["replies"] for row in over_time)
    if as_json:
        click.echo(json.dumps({"codebook": book.name, "codebook_hash": book.hash, "replies": total,
                               "reviewed": reviewed, "categories": categories, "over_time": over_time}, indent=2))
        return
    click.echo(f"Codebook {book.name} ({book.hash}): {total} replies, {reviewed} reviewed")
    click.echo()
    write_rows(categories)
    click.echo("These count tags: they are not the thread's shares. For each category's share with a confidence "
               "interval,\ndraw a random sample (`replies sample --size 40`), code it, and run `replies estimate`.")
    click.echo()
    width = max((row["replies"] for row in over_time), default=0)
    for row in over_time:
        bar = "#" * max(1, round(40 * row["replies"] / width))
        click.echo(f"{row[period]:<13} {row['replies']:>6}  {bar}")


@click.command()
@click.option("--out", type=click.Path(dir_okay=False), default="report.html", show_default=True)
@click.option("--thread", "thread_ref", help="Only this thread (URL, id or PLATFORM:ID).")
@click.option("--sample", "sample_name", metavar="NAME",
              help="Estimate the shares from this sample (default: the newest, if any is coded).")
@click.option("--pseudonymize", is_flag=True,
              help="Quote replies under stable pseudonyms (the ones `export --pseudonymize` gives), handles they "
                   "mention too, without links back to the posts.")
@codebook_option
@db_option
def report(out, thread_ref, sample_name, pseudonymize, codebook_path, db_path):
    """Write one self-contained HTML page: each category's share with its confidence interval (from a
    coded random sample: `replies sample`, `replies estimate`), categories predicted vs gold with
    percentages and a no-category row, replies over time, and the three most-liked replies per category
    quoted in full, with the post each quotes."""
    from replies.report.html import write_report

    database = open_database(db_path)
    book = current_codebook(database, codebook_path)
    write_report(database, out, book, thread=thread_key(database, thread_ref), sample=sample_name,
                 pseudonymize=pseudonymize)
    click.echo(f"Report written to {out}", err=True)
