"""`replies discover`: themes from the replies themselves, and a draft codebook to edit."""

from __future__ import annotations

import json

import click

from replies.text import clip, visible

from .common import StderrBar, db_option, open_database
from .options import thread_key


@click.command()
@click.option("--thread", "thread_ref", help="Only this thread (URL, id or PLATFORM:ID).")
@click.option("--codebook", "codebook_path", type=click.Path(dir_okay=False),
              help="Discover only among the replies this codebook leaves uncovered (no category above its "
                   "threshold, no reviewer's label): what the codebook lacks. Classify with it first.")
@click.option("--min-size", type=click.IntRange(1), default=3, show_default=True,
              help="Smallest theme kept; replies in smaller clusters are counted as outside any theme.")
@click.option("--max-themes", type=click.IntRange(1), default=8, show_default=True, help="Most themes to find.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed for k-means' starting points, where no earlier run with these settings left its "
                   "centres: the same replies and seed give the same themes.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write a draft codebook (YAML) for `classify`.")
@click.option("--json", "as_json", is_flag=True, help="Print the themes as JSON.")
@click.option("--pseudonymize", is_flag=True,
              help="Quote replies (typical replies, a draft's examples, its question) with authors' handles and "
                   "links that name people replaced, and reply ids as tokens, as `export --pseudonymize` does.")
@db_option
def discover(thread_ref, codebook_path, min_size, max_themes, seed, out, as_json, pseudonymize, db_path):
    """Find the themes in the replies and draft a codebook from them.

    Replies with no content (thanks, "following", emoji only) are left out;
    the rest are clustered on their sentence embeddings (cached, the same
    model as classify). Each theme is shown with its size, distinctive words
    and its five most typical replies in full. The same replies, model and
    seed give the same themes in the same order.

    \b
    Start a codebook:     replies discover --out codebook.yaml
                          (edit the ids, labels and descriptions), then
                          replies classify --codebook codebook.yaml
    Find what it misses:  replies discover --codebook codebook.yaml
    """
    from replies.classifier.discover import discover as run_discover
    from replies.classifier.discover import draft_yaml
    from replies.codebook import load
    from replies.files import atomic_file

    database = open_database(db_path)
    thread = thread_key(database, thread_ref)
    book = load(codebook_path) if codebook_path else None
    bar = StderrBar()
    try:
        found = run_discover(database, thread=thread, codebook=book, min_size=min_size, max_themes=max_themes,
                             seed=seed, progress=lambda stage, done, total: bar(stage.capitalize(), done, total))
    finally:
        bar.close()
    question = _question(database, thread) if out else ""
    if pseudonymize:
        found, question = _pseudonymized(found, question, database)
    if out:
        with atomic_file(out) as handle:
            handle.write(draft_yaml(found, question=question))
        load(out)  # the draft is valid input for classify, as written
    if as_json:
        click.echo(json.dumps({"replies": found.replies, "left_out": found.left_out, "outside": found.outside,
                               "uncovered": found.uncovered, "model": found.model, "params": found.params,
                               "themes": [t.as_dict() for t in found.themes]}, indent=2, ensure_ascii=False))
    else:
        _print(found)
    if out:
        click.echo(f"Draft codebook with {len(found.themes)} categories written to {out}: edit it, then "
                   f"`replies classify --codebook {out}`", err=True)


def _pseudonymized(found, question: str, database):
    """The discovery's outputs (and the draft's question) through the export's pseudonymisation; what is stored
    in the database stays as it was."""
    from dataclasses import replace

    from replies.export.pseudonym import Pseudonymizer

    people = Pseudonymizer.for_database(database)
    themes = [replace(theme, label=people.text(theme.label), words=[people.text(w) for w in theme.words],
                      typical=[people.record(reply) for reply in theme.typical],
                      examples=[people.text(text) for text in theme.examples])
              for theme in found.themes]
    return replace(found, themes=themes), people.text(question)


def _question(database, thread) -> str:
    sql = "select text from threads" + (" where platform = ? and id = ?" if thread else "") + " order by added_at"
    row = database.execute(sql, list(thread) if thread else []).fetchone()
    return " ".join((row[0] or "").split()) if row else ""


def _print(found) -> None:
    themes = len(found.themes)
    plural = lambda n, word, many: f"{n} {word if n == 1 else many}"
    if found.codebook is not None:
        click.echo(f"{plural(found.uncovered, 'reply', 'replies')} fit no category of {found.codebook.name}; "
                   f"{plural(themes, 'theme', 'themes')} among them"
                   f" ({found.left_out} without content, {found.outside} outside any theme)")
    else:
        click.echo(f"{plural(found.replies, 'reply', 'replies')} with content ({found.left_out} left out: thanks, "
                   f"following, emoji only); {plural(themes, 'theme', 'themes')}, {found.outside} replies "
                   "outside any theme")
    for number, theme in enumerate(found.themes, start=1):
        click.echo(f"\nTheme {number}: {clip(visible(theme.label), 60, one_line=True)}  ({theme.size} replies, "
                   f"id {theme.id})")
        click.echo(f"  words: {visible(', '.join(theme.words)) or '-'}")
        for reply in theme.typical:
            click.echo(f"  - [{reply['platform']}] " + visible(" ".join(reply["text"].split())))
