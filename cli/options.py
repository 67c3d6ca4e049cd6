"""Options and lookups several commands share: the codebook in use (`--codebook`), a thread from the reference a
user typed (`--thread`), and the reviewer's name (`--reviewer`)."""

from __future__ import annotations

import getpass

import click

from replies.platforms.refs import find_thread

from .config import current_config


def codebook_option(fn):
    return click.option("--codebook", "codebook_path", type=click.Path(dir_okay=False),
                        help="Codebook: a YAML file, or a bundled codebook's name (`replies codebook list`). "
                             "Default: the one `classify` last used on this database, else lean_nhs.")(fn)


def _reviewer(ctx, param, value: str) -> str:
    from replies.review.labels import reviewer_problem

    problem = reviewer_problem(value, final_allowed=True)
    if problem:
        raise click.BadParameter(problem)
    return value


def reviewer_option(fn):
    return click.option("--reviewer", default=lambda: getpass.getuser(), show_default="your user name",
                        callback=_reviewer, help="Name recorded with each label.")(fn)


def say_versions(versions, book) -> None:
    """Say, on stderr, each other version of the codebook that codes were given under and how they are read."""
    for version in versions:
        click.echo(f"Warning: {version.codes} code{'s were' if version.codes > 1 else ' was'} given under another "
                   f"version of codebook {book.name}, {version.describe()}; the codes are read under the version in "
                   f"use ({book.hash})" + ("" if version.mapping else f"; where a category was renamed, record it: "
                                           f"`replies codebook migrate --from {version.version} --map OLD_ID=NEW_ID`"),
                   err=True)


def current_codebook(database, path):
    """--codebook, else REPLIES_CODEBOOK (or the config file's codebook), else the one classify last used
    on this database, else the bundled one. A codebook taken from the database that is not the bundled
    default is said on stderr, so a codebook given once to classify never goes on being used unseen."""
    from replies.codebook import DEFAULT_CODEBOOK, current, load

    named = path or current_config().get("REPLIES_CODEBOOK")
    book = current(database, named)
    if not named and book.hash != load().hash:
        click.echo(f"Codebook: {book.name} ({book.hash}), the one classify last used on this database; "
                   f"--codebook {DEFAULT_CODEBOOK} for the bundled one.", err=True)
    return book


def thread_key(database, ref):
    if not ref:
        return None
    row = find_thread(database, ref)
    return row["platform"], row["id"]
