"""The command reference (docs/cli.md), made from each command's own --help so the two cannot drift."""

from __future__ import annotations

import click

WIDTH = 100


def reference(group: click.Group) -> str:
    """Markdown with the --help of `group` and of each of its commands, in alphabetical order."""
    parts = ["# Command reference", "",
             "Every command's `--help`, as printed. Made by `python scripts/cli_reference.py`; a test fails when "
             "this file and the commands disagree.", ""]
    with click.Context(group) as ctx:
        commands = [("", group)] + [(name, group.get_command(ctx, name)) for name in group.list_commands(ctx)]
    parts += [f"- [`replies {name}`](#replies-{name})" for name, _ in commands[1:]] + [""]
    for name, command in commands:
        info_name = f"replies {name}".strip()
        with click.Context(command, info_name=info_name, terminal_width=WIDTH, max_content_width=WIDTH) as ctx:
            text = command.get_help(ctx)
        parts += [f"## {info_name}", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(parts)


TABLE_START = "<!-- settings table: made by `python scripts/cli_reference.py` from the declared settings -->\n"
TABLE_END = "<!-- end of settings table -->\n"


def with_settings_table(page: str, table: str) -> str:
    """`page` (docs/settings.md) with the text between its table markers replaced by `table`."""
    before, rest = page.split(TABLE_START, 1)
    _, after = rest.split(TABLE_END, 1)
    return before + TABLE_START + table + TABLE_END + after
