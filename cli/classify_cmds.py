"""`replies classify`, `label`, `import-labels`, `evaluate`, `export`."""

from __future__ import annotations

import json

import click
from click.core import ParameterSource

from replies.classifier import methods
from replies.review.labels import LABEL_FORMATS
from replies.text import visible

from .common import StderrBar, StderrEvents, db_option, declared_options, fail, open_database
from .config import current_config
from .options import codebook_option, current_codebook, reviewer_option, say_versions, thread_key
from .output import write_rows


@click.command()
@codebook_option
@click.option("--method", type=click.Choice(methods.names()), default="auto",
              show_default=True, help="; ".join(f"{m.name}: {m.summary}" for m in methods.registered().values())
              + " (REPLIES_LLM_BASE). A fine-tuned model is kept beside the database for reruns.")
@click.option("--model", help="Encoder (or MNLI model for nli): a local folder or a cached hub name. "
                              "Default: the packaged all-MiniLM-L6-v2.")
@click.option("--threshold", type=float,
              help="One fixed score at which every category is given. Default: zero-shot cuts each category "
                   "where the replies' own scores put it (see --labels-per-reply); nli uses 0.5.")
@click.option("--thread", "thread_ref", help="Only this thread (URL, id or PLATFORM:ID).")
@click.option("--batch-size", type=click.IntRange(1, 1024), default=64, show_default=True)
@click.option("--redo", is_flag=True, help="Classify again replies that already have labels from this setup.")
@click.option("--device", help="torch device, e.g. cpu or cuda (default: a GPU when present).")
@db_option
def classify(codebook_path, method, model, threshold, thread_ref, batch_size, redo, device, db_path, **options):
    """Tag each reply with the codebook's categories, with a score per category.

    Runs offline on the packaged all-MiniLM-L6-v2 model. Embeddings are cached
    in the database, so classifying again does no model work for replies
    already seen. Every label is stored with its method, model, codebook hash
    and threshold. With gold labels (`replies label`, `replies import-labels`)
    the few-shot method fine-tunes the encoder on them (a few minutes on a CPU).
    """
    from replies.classifier.methods import Run

    ctx = click.get_current_context()
    chosen = methods.get(method)
    for option in methods.all_options():
        given = ctx.get_parameter_source(option.name) is ParameterSource.COMMANDLINE
        if given and option.name not in chosen.takes():  # an option the chosen method would silently ignore
            raise click.UsageError(f"{option.flag} is for --method {' or '.join(methods.owners(option.name))}, "
                                   f"not {method}")
    database = open_database(db_path)
    book = current_codebook(database, codebook_path)
    config = current_config()
    bar = StderrBar()

    def retry():
        from replies.net.retry import RetryPolicy

        harvest = config.settings()
        return RetryPolicy(StderrEvents(label="Coding"), max_attempts=harvest.max_attempts,
                           max_wait=harvest.max_wait, clock=harvest.clock, sleep=harvest.sleep)

    run = Run(thread=thread_key(database, thread_ref), redo=redo, model=model, device=device,
              batch_size=batch_size, threshold=threshold, environ=config.values, retry=retry,
              progress=lambda stage, done, total: bar(stage.capitalize(), done, total),
              note=lambda message: (bar.close(), click.echo(message, err=True)))
    try:
        result = chosen.run(database, book, run, **{name: options[name] for name in chosen.takes()})
    finally:
        bar.close()
    from replies.classifier.llm.run import LlmResult

    if isinstance(result, LlmResult):
        _print_llm(result, book)
    else:
        _print_scored(result)


def method_options(command: click.Command) -> None:
    """Add to `command` an option for each option a registered method declares (once, where methods share it):
    a method a plugin adds brings its own. One whose flag or name is taken already is left out, and said."""
    declared = []
    for option in methods.all_options():
        if option.type is bool:
            settings = {"is_flag": True, "help": option.help}
        else:
            kind = click.Choice(option.type) if isinstance(option.type, tuple) else option.type
            settings = {"type": kind, "default": option.default, "metavar": option.metavar,
                        "show_default": option.show_default, "help": option.help}
        declared.append((" or ".join(methods.owners(option.name)), option.flag, option.name, settings))
    declared_options(command, declared)


method_options(classify)


def _print_scored(result) -> None:
    """What a scoring method's run came to (a ClassifyResult)."""
    from replies.classifier.evaluate import small_sample_note

    if result.note:
        click.echo(f"Note: {result.note}.", err=True)
    if result.cv_zero_shot is not None:
        click.echo(f"Zero-shot macro-F1 on {result.gold} gold replies: {result.cv_zero_shot:.3f} (it never saw them)"
                   + ("; few-shot learnt from them, so `replies evaluate` flatters it: code a random sample "
                      "(`replies sample`) for figures to cite" if result.method == "few-shot" else ""), err=True)
    if result.cv_zero_shot is not None and small_sample_note(result.gold):
        click.echo(f"Warning: {small_sample_note(result.gold)}.", err=True)
    click.echo(f"{result.classified} replies classified with {result.method} ({result.model}), "
               f"codebook {result.codebook} {result.codebook_hash}; {result.embedded} embedded now, "
               f"{result.classified - result.embedded} from the cache")
    width = max(len(c) for c in result.counts)
    for category, n in result.counts.items():
        click.echo(f"  {category:<{width}}  {n}")


def _print_llm(result, book) -> None:
    """What the language-model coder's run came to (an LlmResult)."""
    examples = f", up to 4 of {result.examples} reviewed replies as examples" if result.examples else ""
    if result.dry_run:
        if result.first_prompt:
            click.echo("The first prompt, whole:")
            for message in result.first_prompt:
                click.echo(f"--- {message['role']}")
                click.echo(visible(message["content"]))
            click.echo("---")
        why = "; ".join(f"{n} {reason}" for reason, n in result.reasons.items())
        click.echo(f"Dry run: {result.to_send} replies would be sent to {result.model} at {result.base}{examples}"
                   + (f" ({why})" if why else "") + f"; about {result.estimated_prompt_tokens:,} prompt and "
                   f"{result.estimated_completion_tokens:,} completion tokens (4 characters a token); "
                   f"{result.reused} already answered. Nothing sent.")
        return
    scored = ", ".join(f"{n} scored by {how}" for how, n in sorted(result.scored_by.items()))
    click.echo(f"{result.coded} replies coded by {result.model} (llm), codebook {book.name} {book.hash}; "
               f"{result.reused} from earlier answers, {result.failed} failed{examples}"
               + (f"; {scored}" if scored else ""))
    click.echo(f"Tokens: {result.prompt_tokens:,} prompt + {result.completion_tokens:,} completion in "
               f"{result.requests} requests"
               + (f"; structured output as {result.dialect}, {result.concurrency} in flight at the end"
                  if result.requests else ""))
    others = {name: n for name, n in result.served_models.items() if name not in (result.model,
                                                                                   f"{result.model}:latest")}
    if others:
        click.echo(f"Warning: the server says {sum(others.values())} answers came from "
                   f"{', '.join(map(repr, others))}, not {result.model!r} (stored with each answer, "
                   "llm_answers.served_model)", err=True)
    if result.failed:
        click.echo(f"Warning: {result.failed} replies got no usable answer after 3 tries; they keep no LLM label "
                   "and are asked again on the next run", err=True)
    width = max(len(c) for c in book.ids)
    for category in book.ids:
        click.echo(f"  {category:<{width}}  {result.counts.get(category, 0)}")
    if result.failed and result.coded == result.reused:  # nothing this run sent came back as codes
        fail(f"all {result.failed} replies sent to {result.model} failed (the last reason is stored with each, "
             "llm_answers.error): check the server and the model, then run again")


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
    from replies.review.labels import label as record

    database = open_database(db_path)
    record(database, current_codebook(database, codebook_path), ref, list(categories), reviewer, note)
    click.echo(f"{ref}: {', '.join(categories) or '(no category)'} by {reviewer}")


@click.command(name="import-labels")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(LABEL_FORMATS), default="auto",
              show_default=True, help="auto: .csv is CSV, .json a Label Studio export, anything else JSONL.")
@codebook_option
@reviewer_option
@db_option
def import_labels(file, fmt, codebook_path, reviewer, db_path):
    """Record gold labels from a file. Every row is checked before any is stored.

    \b
    jsonl        one {"platform", "id", "labels": [...]} per line
    csv          columns platform,id,labels (labels separated by ';')
    labelstudio  Label Studio's JSON (or JSON-MIN) export of the tasks that
                 `replies export --format labelstudio` wrote; each annotator
                 becomes a reviewer (their email, else --reviewer)
    """
    from replies.review.labels import import_labels as run_import

    database = open_database(db_path)
    counts = run_import(database, current_codebook(database, codebook_path), file, reviewer, fmt)
    from_labelstudio = fmt == "labelstudio" or (fmt == "auto" and file.lower().endswith(".json"))
    read = f" ({counts.rows} label rows read)" if counts.rows != counts.replies else ""
    click.echo(f"{counts.replies} replies labelled by the export's annotators{read}" if from_labelstudio
               else f"{counts.replies} replies labelled by {reviewer}{read}")


@click.command()
@codebook_option
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.option("--sample", "sample_name", metavar="NAME",
              help="Reliability on this sample's members only (default: every reply two reviewers coded).")
@db_option
def evaluate(codebook_path, as_json, sample_name, db_path):
    """How well the model agrees with the reviewers, and the reviewers with each other.

    Precision, recall and F1 per category of the current predictions against gold labels, the
    held-out comparison of zero-shot and few-shot where an older `classify` made one, Cohen's kappa
    between reviewers, every coder (a language model, the embedding classifier, each other reviewer)
    against each reviewer, per category: precision, recall, F1 and kappa on the replies both coded; and
    inter-coder reliability, Krippendorff's alpha per category and pooled with a 95% bootstrap interval,
    on the replies two or more reviewers coded (`replies sample --overlap`)."""
    from replies.classifier.evaluate import evaluate as run_evaluate
    from replies.classifier.evaluate import small_sample_note
    from replies.review.reliability import reliability

    database = open_database(db_path)
    book = current_codebook(database, codebook_path)
    result = run_evaluate(database, book)
    say_versions(result.versions, book)
    agreement = reliability(database, book, sample=sample_name)
    if as_json:
        click.echo(json.dumps({"compared": result.compared, "per_category": result.rows, "macro": result.macro,
                               "method": result.method, "cv_zero_shot": result.cv_zero_shot,
                               "cv_few_shot": result.cv_few_shot, "agreement": result.agreement,
                               "coders": result.coders, "reliability": agreement}, indent=2))
        return
    if not result.compared:
        click.echo("No reply has both a prediction and a gold label yet: run `replies classify` and "
                   "`replies label`.", err=True)
    else:
        click.echo(f"Predictions ({result.method}) against gold on {result.compared} replies "
                   "(n/a: nothing to measure, as no reviewer gave the category and the model never predicted it; "
                   "macro averages leave those out):")
        write_rows(shown(result.rows + [result.macro]))
        if result.note:
            click.echo(f"Warning: {result.note}.", err=True)
        if result.method == "few-shot":
            click.echo("Few-shot predictions were trained on this gold, so these figures flatter them"
                       + ("; the held-out figures below do not." if result.cv_few_shot is not None else
                          ": a coded random sample (`replies sample`, `replies estimate`) gives figures that do "
                          "not."))
    if result.cv_few_shot is not None:
        click.echo(f"Held-out macro-F1 on the same gold when classify chose the method: zero-shot "
                   f"{result.cv_zero_shot:.3f}, few-shot {result.cv_few_shot:.3f} (fine-tuned without the half it "
                   "scores)")
    if result.agreement:
        click.echo("Agreement between reviewers (Cohen's kappa; n/a where neither gave the category):")
        write_rows(shown(result.agreement))
        shared = min(row["replies"] for row in result.agreement)
        if small_sample_note(shared):
            click.echo(f"Warning: {small_sample_note(shared)}.", err=True)
    if result.coders:
        click.echo("Every coder against each reviewer (the reviewer's labels as the truth), category by category: "
                   "the language model, the embedding classifier and the other reviewers side by side.")
        write_rows(shown(result.coders))
    if agreement:
        coders = ", ".join(f"{visible(name)} {n}" for name, n in agreement["coders"].items())
        click.echo(f"Reliability (Krippendorff's alpha, nominal; {100 * agreement['level']:g}% bootstrap interval "
                   f"over replies) on {agreement['replies']} replies coded by two or more reviewers ({coders}):")
        write_rows(shown([{"category": row["category"], "alpha": _rounded(row["alpha"]), "low": _rounded(row["low"]),
                           "high": _rounded(row["high"]), "replies": row["replies"]}
                          for row in agreement["categories"]]
                         + [{"category": "pooled", "alpha": _rounded(agreement["pooled"]["alpha"]),
                             "low": _rounded(agreement["pooled"]["low"]), "high": _rounded(agreement["pooled"]["high"]),
                             "replies": agreement["replies"]}]))
        if small_sample_note(agreement["replies"]):
            click.echo(f"Warning: {small_sample_note(agreement['replies'])}.", err=True)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def shown(rows: list[dict]) -> list[dict]:
    """Rows for a table: a figure with nothing to stand on (None) reads n/a."""
    return [{key: "n/a" if value is None else value for key, value in row.items()} for row in rows]
