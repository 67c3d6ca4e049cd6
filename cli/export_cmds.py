"""`replies export`: labelled datasets in jsonl, csv, parquet, Label Studio and Hugging Face form."""

from __future__ import annotations

import sys

import click

from replies import __version__
from replies.db.labels import last_classify_run
from replies.db.versions import differences
from replies.export.formats import FORMATS, check_request, export_dataset
from replies.export.pseudonym import Pseudonymizer
from replies.export.split import parse_split

from .common import EXIT_USAGE, db_option, fail, open_database
from .options import codebook_option, current_codebook, say_versions, thread_key
from .output import terminal_safe


@click.command()
@click.option("--format", "fmt", default="jsonl", show_default=True, metavar="|".join(FORMATS),
              help="Output format (see below).")
@click.option("--out", type=click.Path(), help="File (folder for hf) to write; default stdout for jsonl, csv "
                                               "and labelstudio.")
@click.option("--gold-only", is_flag=True, help="Only replies a human reviewed.")
@click.option("--thread", "thread_ref", help="Only this thread (URL, id or PLATFORM:ID).")
@click.option("--split", "split_spec", metavar="NAME=FRACTION,...",
              help="Split into named parts stratified by category, e.g. train=0.8,dev=0.1,test=0.1; adds a "
                   "`split` field (hf: one file per part).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --split: same seed, same split.")
@click.option("--pseudonymize", is_flag=True,
              help="Replace authors and @mentions with stable salted pseudonyms and ids with salted tokens; "
                   "drop URLs.")
@click.option("--salt", help="Salt for --pseudonymize (default: a secret kept in this database).")
@click.option("--strip-links", is_flag=True, help="With --pseudonymize: replace links in the text by [link].")
@click.option("--no-formula-escape", "formula_escape", flag_value=False, default=True,
              help="csv: keep text that starts with = + - @ as it is. By default such a cell gets a leading ' so "
                   "that a spreadsheet shows it instead of running it as a formula.")
@click.option("--replication", metavar="DIR", type=click.Path(file_okay=False),
              help="Write a replication package for a sample's estimate into the folder DIR instead: the sample, "
                   "the codes, the model's scores, the codebook, the estimate and a numpy-only script that "
                   "recomputes every figure.")
@click.option("--sample", "sample_name", metavar="NAME", help="With --replication: the sample (default: the newest).")
@codebook_option
@db_option
def export(fmt, out, gold_only, thread_ref, split_spec, seed, pseudonymize, salt, strip_links, formula_escape,
           replication, sample_name, codebook_path, db_path):
    """Export replies with their labels for a colleague, a paper's supplement or model training.

    \b
    jsonl        one object per reply: platform, id, thread, parent_id, kind,
                 author, text, created_at, url, labels (predicted ids), scores
                 (id -> score), gold (reviewed ids: [] coded with no
                 category, null not coded) and samples (the samples it is in)
    csv          the same fields, coded (1 where a human coded it, 0 not),
                 then gold_<id> (the human's 0/1, empty if not coded) and
                 model_<id> (the model's 0/1) per category; text starting
                 with = + - @ gets a leading ' (see --no-formula-escape)
    parquet      the CSV's columns with types (timestamps, lists, a struct of
                 scores); needs --out
    labelstudio  Label Studio tasks with the predictions as pre-annotations;
                 --out also writes NAME.label-config.xml, the labelling
                 interface to paste into the project's settings
    hf           a folder of JSONL files (one per --split part) and a dataset
                 card (README.md) that `datasets.load_dataset` reads; needs --out

    Labels come from --codebook, else the codebook `classify` last used. Nothing
    is written at --out unless the whole export succeeds.
    """
    if replication:
        _replication(replication, sample_name, codebook_path, db_path)
        return
    if sample_name:
        fail("--sample is for --replication", EXIT_USAGE)
    check_request(fmt, out)  # usage errors (exit code 2) before a database file is made
    split = parse_split(split_spec) if split_spec else None
    if (salt or strip_links) and not pseudonymize:
        fail("--salt and --strip-links only make sense with --pseudonymize", EXIT_USAGE)
    database = open_database(db_path)
    book = current_codebook(database, codebook_path)
    say_versions(differences(database, book.name, book.hash, book.ids), book)
    thread = thread_key(database, thread_ref)
    pseudonymizer = Pseudonymizer.for_database(database, salt, strip_links=strip_links) if pseudonymize else None
    run = last_classify_run(database, book.hash) or {}
    threads = database["threads"].count
    about = {"tool_version": __version__, "method": run.get("method"), "model": run.get("model"),
             "threads": f"{threads} question post{'s' if threads != 1 else ''}", "pseudonymized": pseudonymize,
             "strip_links": strip_links}
    stdout = terminal_safe(sys.stdout, json_text=fmt != "csv")  # a reply's escape sequence must not act on a screen
    counts = export_dataset(database, fmt, out, book, stdout=stdout, thread=thread,
                            gold_only=gold_only, split=split, seed=seed, pseudonymizer=pseudonymizer,
                            model=run.get("model"), about=about, formula_escape=formula_escape)
    if out:
        parts = ", ".join(f"{name} {n}" for name, n in counts.items() if name != "all")
        total = sum(counts.values())
        click.echo(f"{total} replies written to {out}" + (f" ({parts})" if parts else ""), err=True)


def _replication(folder: str, sample_name: str | None, codebook_path, db_path) -> None:
    import inspect

    from replies.estimate import intervals
    from replies.estimate.shares import estimate
    from replies.export.replication import write_package

    database = open_database(db_path)
    book = current_codebook(database, codebook_path)
    result = estimate(database, book, sample=sample_name)
    counts = write_package(database, book, result.sample, result.as_json(), inspect.getsource(intervals), folder,
                           __version__)
    click.echo(f"Replication package for sample {result.sample} written to {folder}: {counts['population']} replies "
               f"in the population, {counts['members']} members, {counts['codes']} codes, {counts['scores']} "
               f"scores; `python {folder}/recompute.py` recomputes every figure", err=True)
