"""`replies classify`, `label`, `import-labels`, `evaluate`, `export`."""

from __future__ import annotations

import getpass
import json
import os
import sys
import tempfile
from pathlib import Path

import click

import db
from db.export import jsonl_records
from db.labels import latest_codebook_hash

from .common import StderrBar, db_option, open_database
from .output import write_rows


def codebook_option(fn):
    return click.option("--codebook", "codebook_path", type=click.Path(dir_okay=False),
                        help="Codebook YAML file (default: the bundled lean_nhs codebook).")(fn)


def reviewer_option(fn):
    return click.option("--reviewer", default=lambda: getpass.getuser(), show_default="your user name",
                        help="Name recorded with each label.")(fn)


def _codebook(path):
    from classifier.codebook import load
    return load(path)


def _thread(database, ref):
    if not ref:
        return None
    row = db.find_thread(database, ref)
    return row["platform"], row["id"]


@click.command()
@codebook_option
@click.option("--method", type=click.Choice(["auto", "zero-shot", "few-shot", "nli"]), default="auto",
              show_default=True, help="auto: few-shot once gold labels exist and it cross-validates better.")
@click.option("--model", help="Encoder (or MNLI model for nli): a local folder or a cached hub name. "
                              "Default: the packaged all-MiniLM-L6-v2.")
@click.option("--threshold", type=float, help="Score at which a category is given (default 0.5 per category).")
@click.option("--thread", "thread_ref", help="Only this thread (URL, id or PLATFORM:ID).")
@click.option("--batch-size", type=click.IntRange(1, 1024), default=64, show_default=True)
@click.option("--redo", is_flag=True, help="Classify again replies that already have labels from this setup.")
@click.option("--device", help="torch device, e.g. cpu or cuda (default: a GPU when present).")
@click.option("--backend", type=click.Choice(["fp32", "int8"]), default="fp32", show_default=True,
              help="int8: dynamically quantised encoder on the CPU, faster at nearly the same quality (README).")
@db_option
def classify(codebook_path, method, model, threshold, thread_ref, batch_size, redo, device, backend, db_path):
    """Tag each reply with the codebook's categories, with a score per category.

    Runs offline on the packaged all-MiniLM-L6-v2 model. Embeddings are cached
    in the database, so classifying again does no model work for replies
    already seen. Every label is stored with its method, model, codebook hash
    and threshold. With gold labels (`replies label`, `replies import-labels`)
    the few-shot method fine-tunes the encoder on them (a minute or two on a CPU).
    """
    from classifier.run import classify as run_classify

    book = _codebook(codebook_path)
    database = open_database(db_path)
    bar = StderrBar()
    try:
        result = run_classify(database, book, method=method, model=model, threshold=threshold,
                              thread=_thread(database, thread_ref), batch_size=batch_size, redo=redo,
                              device=device, progress=lambda stage, done, total: bar(stage.capitalize(), done, total),
                              backend=backend)
    finally:
        bar.close()
    if result.cv_few_shot is not None:
        click.echo(f"Cross-validated macro-F1 on {result.gold} gold replies: zero-shot {result.cv_zero_shot:.3f}, "
                   f"few-shot {result.cv_few_shot:.3f} (head on the base encoder)", err=True)
    click.echo(f"{result.classified} replies classified with {result.method} ({result.model}), "
               f"codebook {result.codebook} {result.codebook_hash}; {result.embedded} embedded, the rest cached")
    width = max(len(c) for c in result.counts)
    for category, n in result.counts.items():
        click.echo(f"  {category:<{width}}  {n}")


@click.command()
@click.argument("ref", metavar="PLATFORM:ID")
@click.argument("categories", nargs=-1, metavar="CATEGORY...")
@codebook_option
@reviewer_option
@click.option("--note", help="A note kept with the label.")
@db_option
def label(ref, categories, codebook_path, reviewer, note, db_path):
    """Record the categories a human gives a reply (none given: reviewed, no category applies).

    \b
    Example:  replies label x:1861234567890 money policy
    """
    from classifier.labels import label as record

    book = _codebook(codebook_path)
    record(open_database(db_path), book, ref, list(categories), reviewer, note)
    click.echo(f"{ref}: {', '.join(categories) or '(no category)'} by {reviewer}")


@click.command(name="import-labels")
@click.argument("file", type=click.Path(dir_okay=False))
@codebook_option
@reviewer_option
@db_option
def import_labels(file, codebook_path, reviewer, db_path):
    """Record gold labels from a file: JSONL lines {"platform","id","labels":[...]} or a CSV with
    columns platform,id,labels (labels separated by ';'). Every row is checked before any is stored."""
    from classifier.labels import import_labels as run_import

    n = run_import(open_database(db_path), _codebook(codebook_path), file, reviewer)
    click.echo(f"{n} replies labelled by {reviewer}")


@click.command()
@codebook_option
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@db_option
def evaluate(codebook_path, as_json, db_path):
    """Precision, recall and F1 per category of the current predictions against gold labels, the
    cross-validated comparison of zero-shot and few-shot, and Cohen's kappa between reviewers."""
    from classifier.evaluate import evaluate as run_evaluate

    book = _codebook(codebook_path)
    result = run_evaluate(open_database(db_path), book)
    if as_json:
        click.echo(json.dumps({"compared": result.compared, "per_category": result.rows, "macro": result.macro,
                               "method": result.method, "cv_zero_shot": result.cv_zero_shot,
                               "cv_few_shot": result.cv_few_shot, "agreement": result.agreement}, indent=2))
        return
    if not result.compared:
        click.echo("No reply has both a prediction and a gold label yet: run `replies classify` and "
                   "`replies label`.", err=True)
    else:
        click.echo(f"Predictions ({result.method}) against gold on {result.compared} replies:")
        write_rows(result.rows + [result.macro])
        if result.method == "few-shot":
            click.echo("Few-shot predictions were trained on this gold; use the cross-validated figures below.")
    if result.cv_few_shot is not None:
        click.echo(f"Cross-validated macro-F1 on the same gold: zero-shot {result.cv_zero_shot:.3f}, "
                   f"few-shot {result.cv_few_shot:.3f}")
    if result.agreement:
        click.echo("Agreement between reviewers (Cohen's kappa):")
        write_rows(result.agreement)


@click.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file (default: stdout).")
@click.option("--thread", "thread_ref", help="Only this thread (URL, id or PLATFORM:ID).")
@codebook_option
@db_option
def export(fmt, out, thread_ref, codebook_path, db_path):
    """Export replies with their labels: one JSON object per line with platform, id, thread, parent_id,
    kind, author, text, created_at, url, labels (predicted ids), scores and gold (reviewed ids, or null).

    Labels come from the codebook given, else from the one last used by `classify`."""
    database = open_database(db_path)
    if codebook_path:
        book = _codebook(codebook_path)
        name, digest = book.name, book.hash
    else:
        digest = latest_codebook_hash(database)
        row = database.execute("select codebook from classify_runs where codebook_hash = ? limit 1",
                               [digest]).fetchone()
        name = row[0] if row else _codebook(None).name
    records = jsonl_records(database, codebook=name, codebook_hash=digest, thread=_thread(database, thread_ref))
    if not out:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    target = Path(out)
    if not target.parent.exists():
        raise click.ClickException(f"folder {target.parent} does not exist")
    handle = tempfile.NamedTemporaryFile("w", dir=target.parent, delete=False, encoding="utf-8", suffix=".part")
    try:
        with handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
