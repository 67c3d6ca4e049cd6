"""`replies demo` and `replies emulator`: the bundled sample served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

import click

from replies import db, platforms
from replies.emulator import Emulator, World
from replies.emulator.sample import load_sample, load_sample_elsewhere, post_url
from replies.harvester.run import harvest as harvest_thread
from replies.harvester.settings import Settings
from replies.text import clip, visible

from .common import StderrEvents, fail


def _x_token() -> str:
    """The X token the emulator is started to take: the one its declared settings give."""
    return platforms.emulator_environment("")["X_BEARER_TOKEN"]
SAMPLE_AUTHORS = {"joy_improves", "joy.improves"}


def _is_demo_database(path: Path) -> bool:
    database = db.open_db(path)
    handles = {row["author_handle"] or "" for row in database.query("select author_handle from threads")}
    database.close()
    return all(h in SAMPLE_AUTHORS or h.startswith("joy@127.0.0.1") for h in handles)


@click.command()
@click.option("--db", "db_path", default="replies-demo.db", show_default=True, type=click.Path(dir_okay=False),
              help="Where to write the demo database (replaced on each run).")
def demo(db_path):
    """Run the whole job on the bundled sample, offline.

    Starts the API emulator on 127.0.0.1 with the sample question (asked on X,
    Bluesky and Mastodon: 157 replies and quotes), harvests each thread through the real
    code paths, classifies the replies against the default codebook with the
    packaged model, and prints what was collected.
    """
    path = Path(db_path)
    if path.exists():
        if not _is_demo_database(path):
            fail(f"{path} holds threads that are not the demo's; pass another --db")
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    world = World()
    roots = load_sample(world)
    with Emulator(world, x_tokens=[_x_token()]) as emulator:
        settings = Settings.from_env(platforms.emulator_environment(emulator.base_url))
        database = db.open_db(path)
        click.echo(f"API emulator serving the sample at {emulator.base_url}", err=True)
        started = time.perf_counter()
        for platform, root in roots.items():
            url = post_url(emulator, root)
            result = harvest_thread(database, url, settings, events=StderrEvents(label=platform))
            click.echo(f"Harvested {platform:<8} {result.total:>3} replies and quotes in {result.requests} requests"
                       f"  ({url})")
        elapsed = time.perf_counter() - started
    _summary(database, elapsed, path)
    _classify(database)
    click.echo(f"\nNext: replies serve --db {path} --open   replies review --db {path}   replies stats --db {path}   "
               f"replies report --db {path} --out report.html   replies export --db {path} > labelled.jsonl")


def _classify(database) -> None:
    from replies.classifier.run import classify
    from replies.codebook import load

    codebook = load()
    started = time.perf_counter()
    result = classify(database, codebook)
    click.echo(f"\nClassified {result.classified} replies against the {codebook.name} codebook "
               f"({result.method}, {result.model}) in {time.perf_counter() - started:.1f}s:")
    for category in codebook.categories:
        top = database.execute(
            "select r.text from predictions p join replies r on r.platform = p.platform and r.id = p.id "
            "where p.codebook_hash = ? and p.category = ? and p.predicted = 1 order by p.score desc limit 1",
            [codebook.hash, category.id]).fetchone()
        example = clip(visible(top[0] if top else ""), 71, one_line=True)
        click.echo(f"  {category.label:<32} {result.counts[category.id]:>3}   e.g. \"{example}\"")


def _summary(database, elapsed: float, path: Path) -> None:
    total = database.execute("select count(*) from replies").fetchone()[0]
    kinds = dict(database.execute("select kind, count(*) from replies group by kind").fetchall())
    statuses = dict(database.execute("select status, count(*) from replies where status != 'ok' group by status"))
    click.echo(f"\n{total} posts stored in {path} in {elapsed:.1f}s: {kinds.get('reply', 0)} replies, "
               f"{kinds.get('quote', 0)} quotes" +
               "".join(f", {n} {s.replace('_', ' ')}" for s, n in statuses.items()))
    click.echo("\nMost-liked replies:")
    for row in database.query("select platform, author_handle, like_count, text from replies where status = 'ok'"
                              " order by like_count desc, id limit 5"):
        click.echo(f"  [{row['platform']}] @{visible(str(row['author_handle']))} ({row['like_count']} likes): "
                   f"{clip(visible(row['text']), 91, one_line=True)}")


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8766, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--sample/--empty", default=True, show_default=True, help="Serve the bundled sample thread.")
def emulator(port, sample):
    """Serve the API emulator (X, Bluesky, Mastodon, Reddit, YouTube, Threads, plugins' platforms) on 127.0.0.1
    until Ctrl-C.

    Point replies at it with the printed settings to try harvesting by hand.
    """
    world = World()
    roots = {**load_sample(world), **load_sample_elsewhere(world)} if sample else {}
    extra = {name: platforms.resolve(platform.sample)(world) for name, platform in platforms.registered().items()
             if sample and platform.sample}  # a plugin's sample thread: its URL
    server = Emulator(world, port=port, x_tokens=[_x_token()])
    try:
        server.start()
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; try --port 0")
    base = server.base_url
    click.echo("export " + " ".join(f"{name}={value}" for name, value in platforms.emulator_environment(base).items()))
    for platform, root in roots.items():
        click.echo(f"{platform}: {post_url(server, root)}")
    for platform, url in extra.items():
        click.echo(f"{platform}: {url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
