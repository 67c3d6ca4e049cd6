"""`replies codebook`: the bundled codebooks by name, one printed whole, and a template to start your own."""

from __future__ import annotations

import click

from replies.codebook import bundled, load, locate

from .output import output_options, write_rows

TEMPLATE_HEAD = """\
# A codebook for replies: copy this file, then make it yours.
#   name       one line: what the labels are stored under
#   question   the question the replies answer
#   categories each with an id (lower_case), a label, a description written the way people would say it,
#              examples (short phrases that belong) and, optionally, counter_examples (phrases that do not)
# Use it with: replies classify --codebook mine.yaml
"""


@click.group()
def codebook():
    """The codebooks replies ships with, and a template to start your own.

    \b
      replies codebook list                 the bundled codebooks
      replies codebook show lean_nhs        one printed whole (a name or a file)
      replies codebook template > mine.yaml  a commented copy of the default to edit

    Wherever a command takes --codebook, a bundled codebook's name works as
    well as a file: --codebook lean_nhs goes back to the default.
    """


@codebook.command(name="list")
@output_options
def list_codebooks(fmt):
    """The bundled codebooks: name, question and categories."""
    rows = []
    for name, path in bundled().items():
        book = load(path)
        rows.append({"name": name, "categories": len(book.categories), "question": book.question,
                     "ids": ", ".join(book.ids)})
    write_rows(rows, fmt)


@codebook.command()
@click.argument("name_or_file")
def show(name_or_file):
    """Print a codebook (a bundled one's NAME, or a FILE) as its YAML, after checking it."""
    path = locate(name_or_file)
    load(path)  # a malformed file is one line naming the file and line, not printed as if it were fine
    click.echo(path.read_text(encoding="utf-8"), nl=False)


@codebook.command()
@click.argument("name", default="lean_nhs")
def template(name):
    """Print a bundled codebook (default lean_nhs) with comments on its fields, to edit into your own:
    replies codebook template > mine.yaml"""
    path = locate(name)
    load(path)
    click.echo(TEMPLATE_HEAD + path.read_text(encoding="utf-8"), nl=False)
