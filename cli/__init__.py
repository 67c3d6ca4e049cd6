"""The `replies` command: a thin layer that parses options and prints; the packages do the work.

Each command's module is imported when that command runs (`replies threads` never loads the classifier, the
web page or the HTTP stack), so every command starts in about the time Python takes to import click and
sqlite-utils. The table below is the list of commands: name, where it lives, and the line `replies --help`
shows for it (a test checks each line against the command's own help).
"""

from __future__ import annotations

import importlib

import click

from .common import RepliesGroup
from .config import Config

# name -> (module in this package, function, the first sentence of its help)
COMMANDS = {
    "harvest": ("harvest_cmds", "harvest", "Harvest the question post at each URL and every reply and quote."),
    "track": ("harvest_cmds", "track",
              "Follow threads with `replies harvest --all` (for cron or a systemd timer) until a date."),
    "untrack": ("harvest_cmds", "untrack", "Stop following threads; what was harvested stays in the database."),
    "config": ("config", "config_command", "Show the effective settings, where each comes from, with tokens masked."),
    "import": ("harvest_cmds", "import_", "Import replies another tool collected."),
    "threads": ("harvest_cmds", "threads",
                "List tracked threads: reply and quote counts, coverage and the last harvest time."),
    "classify": ("classify_cmds", "classify",
                 "Tag each reply with the codebook's categories, with a score per category."),
    "codebook": ("codebook_cmds", "codebook", "The codebooks replies ships with, and a template to start your own."),
    "discover": ("discover_cmds", "discover", "Find the themes in the replies and draft a codebook from them."),
    "review": ("review_cmds", "review",
               "Review replies in the terminal: read each with the post it answers, confirm or correct the "
               "suggested categories with single keys, and move on."),
    "label": ("classify_cmds", "label",
              "Record the categories a human gives a reply (none given: reviewed, no category applies)."),
    "import-labels": ("classify_cmds", "import_labels", "Record gold labels from a file."),
    "evaluate": ("classify_cmds", "evaluate",
                 "How well the model agrees with the reviewers, and the reviewers with each other."),
    "sample": ("estimate_cmds", "sample", "Draw a random sample of replies for humans to code, for `replies estimate`."),
    "estimate": ("estimate_cmds", "estimate",
                 "Each category's share of the replies, with a confidence interval, from a coded random sample."),
    "serve": ("serve_cmds", "serve", "Serve a web page for reviewing and exploring the replies, on this machine."),
    "thread": ("thread_cmds", "thread",
               "Show the thread REF (URL, id or PLATFORM:ID) as a tree: each reply under the post it answers, "
               "indented by depth, with its author, its text on one line, the codebook's categories it carries "
               "(reviewed, else predicted) and how many replies lie under it."),
    "query": ("explore_cmds", "query",
              "Run SQL against the database, read-only: a write is refused and the file never changes."),
    "search": ("explore_cmds", "search", "Full-text search of reply text, best matches first."),
    "stats": ("explore_cmds", "stats",
              "Replies per category (predicted by the model and given by reviewers) and replies over time."),
    "export": ("export_cmds", "export",
               "Export replies with their labels for a colleague, a paper's supplement or model training."),
    "report": ("explore_cmds", "report",
               "Write one self-contained HTML page: each category's share with its confidence interval (from a coded "
               "random sample: `replies sample`, `replies estimate`), categories predicted vs gold with percentages "
               "and a no-category row, replies over time, and the three most-liked replies per category quoted in "
               "full, with the post each quotes."),
    "demo": ("demo_cmds", "demo", "Run the whole job on the bundled sample, offline."),
    "emulator": ("demo_cmds", "emulator",
                 "Serve the API emulator (X, Bluesky, Mastodon, Reddit, YouTube, Threads, plugins' platforms) on "
                 "127.0.0.1 until Ctrl-C."),
}


class LazyGroup(RepliesGroup):
    """A click group that imports a command's module only when that command is asked for; its own --help lists
    the commands from COMMANDS without importing any of them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if not COMMANDS:
            return
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        # a stand-in with the same help line shortens it exactly as the command itself would
        rows = [(name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit))
                for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from replies import __version__

    click.echo(f"replies, version {__version__}")
    ctx.exit()


@click.group(cls=LazyGroup)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and exit.")
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


def commands() -> dict[str, click.Command]:
    """Every command, loaded: for the command reference and the tests that go through them all."""
    with click.Context(main) as ctx:
        return {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}
