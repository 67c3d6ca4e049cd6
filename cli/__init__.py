"""The `replies` command: a thin layer that parses options and prints; the packages do the work."""

import click

from replies import __version__

from .classify_cmds import classify, evaluate, import_labels, label
from .codebook_cmds import codebook
from .common import RepliesGroup
from .config import Config, config_command
from .demo_cmds import demo, emulator
from .discover_cmds import discover
from .estimate_cmds import estimate, sample
from .explore_cmds import query, report, search, stats
from .export_cmds import export
from .harvest_cmds import harvest, import_, threads, track, untrack
from .review_cmds import review
from .serve_cmds import serve
from .thread_cmds import thread


@click.group(cls=RepliesGroup)
@click.version_option(__version__, prog_name="replies")
@click.pass_context
def main(ctx):
    """Ask a question on social media, then turn the replies into evidence.

    Harvest every reply to a question thread from X, Bluesky, Mastodon, Reddit,
    YouTube or Threads into SQLite, code the replies with a codebook, review,
    export. Start with `replies demo` to see it work on a bundled sample.

    Settings come from the environment, else ~/.config/replies/config.toml
    (see `replies config`).
    """
    overrides = ctx.obj if isinstance(ctx.obj, dict) else {}  # e.g. main(obj={"sleep": ...}) from a test
    ctx.obj = Config.environment_only()  # what errors are redacted with if the config file is refused
    ctx.obj = Config.load(**overrides)


for command in (harvest, track, untrack, config_command, import_, threads, classify, codebook, discover, review, label,
                import_labels, evaluate, sample, estimate, serve, thread, query, search, stats, export, report, demo,
                emulator):
    main.add_command(command)
