"""`replies codebook`: the bundled codebooks by name, one printed whole, a template to start your own, and the
versions a database's codes were given under, with the mappings that carry codes from one to the next."""

from __future__ import annotations

import click

from replies.codebook import bundled, load, locate

from .common import EXIT_USAGE, db_option, fail, open_database
from .options import codebook_option, current_codebook
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
      replies codebook versions             the versions this database's codes were given under
      replies codebook migrate --from HASH --map money=funding
                                            how codes from an older version read under this one

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


@codebook.command()
@codebook_option
@db_option
@output_options
def versions(codebook_path, db_path, fmt):
    """The versions of the codebook in use that this database's human codes were given under: how many codes
    each, and how each differs from the version in use (categories removed, added, perhaps renamed; the
    mapping recorded, if any)."""
    from replies.db.versions import differences

    database = open_database(db_path)
    book = current_codebook(database, codebook_path)
    same = database.execute("select count(*) from gold_labels where codebook = ? and (codebook_hash = ? or "
                            "codebook_hash is null)", [book.name, book.hash]).fetchone()[0]
    rows = [{"version": book.hash, "codes": same, "differs": "the version in use"}]
    rows += [{"version": d.version, "codes": d.codes, "differs": d.describe().split(": ", 1)[-1]}
             for d in differences(database, book.name, book.hash, book.ids)]
    write_rows(rows, fmt)


@codebook.command()
@click.option("--from", "from_hash", required=True, metavar="HASH",
              help="The older version whose codes to read under the codebook in use (see `codebook versions`).")
@click.option("--map", "pairs", required=True, metavar="OLD=NEW[,OLD=NEW...]",
              help="Each category id of the older version and the id it is called in the codebook in use.")
@codebook_option
@db_option
def migrate(from_hash, pairs, codebook_path, db_path):
    """Record how codes given under an older version of the codebook read under the one in use: a category
    renamed (money=funding), or merged into another. The codes themselves are never rewritten; estimate,
    evaluate and export read them through this mapping, and a category of the version in use that the older
    version lacked stays unknown for its codes until a mapping names it.
    """
    from replies.db.versions import categories, differences, save_mapping

    database = open_database(db_path)
    book = current_codebook(database, codebook_path)
    old = categories(database, from_hash)
    if old is None:
        known = ", ".join(d.version for d in differences(database, book.name, book.hash, book.ids)) or "none"
        fail(f"no codebook version {from_hash!r} is stored in this database (versions codes were given under "
             f"besides {book.hash}: {known})", EXIT_USAGE)
    if from_hash == book.hash:
        fail(f"{from_hash} is the version in use: there is nothing to map", EXIT_USAGE)
    old_ids = {c["id"] for c in old}
    mapping = {}
    for pair in filter(None, (p.strip() for p in pairs.split(","))):
        source, sep, target = (part.strip() for part in pair.partition("="))
        if not sep or not source or not target:
            fail(f"--map {pair!r} is not OLD=NEW", EXIT_USAGE)
        if source not in old_ids:
            fail(f"--map {pair!r}: version {from_hash} has no category {source!r} (it has {', '.join(sorted(old_ids))})",
                 EXIT_USAGE)
        if target not in book.ids:
            fail(f"--map {pair!r}: codebook {book.name} ({book.hash}) has no category {target!r} (it has "
                 f"{', '.join(book.ids)})", EXIT_USAGE)
        mapping[source] = target
    save_mapping(database, from_hash, book.hash, mapping)
    found = next((d for d in differences(database, book.name, book.hash, book.ids) if d.version == from_hash), None)
    click.echo(f"Codes given under {from_hash} now read under {book.hash}: "
               + ", ".join(f"{a} as {b}" for a, b in mapping.items())
               + (f" ({found.codes} codes; {found.describe().split(': ', 1)[-1]})" if found else ""))
