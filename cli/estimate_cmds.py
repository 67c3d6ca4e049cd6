"""`replies sample` and `replies estimate`: a random sample for humans to code, then each category's share with
a confidence interval."""

from __future__ import annotations

import json

import click

from replies.db import samples as sample_store
from replies.estimate.text import scope
from replies.text import visible

from .common import Level, db_option, open_database
from .options import codebook_option, current_codebook, say_versions, thread_key
from .output import write_rows

SQLITE_MAX = 2**63 - 1




@click.command()
@click.argument("name", required=False)
@click.option("--size", type=click.IntRange(1, SQLITE_MAX), metavar="N",
              help="Draw a new sample of N replies (without replacement, every reply equally likely).")
@click.option("--extend", "more", type=click.IntRange(1, SQLITE_MAX), metavar="M",
              help="Add M more random members to the sample NAME; the members drawn before stay.")
@click.option("--overlap", type=click.IntRange(2, SQLITE_MAX), metavar="K",
              help="Draw K of sample NAME's members for a second coder (--coder), who codes them blind to the "
                   "model and to the first coder; `replies evaluate` then gives Krippendorff's alpha.")
@click.option("--coder", metavar="NAME", help="With --overlap: the second coder's reviewer name.")
@click.option("--seed", type=click.IntRange(0, SQLITE_MAX),
              help="The draw's seed (default: a random one, printed): the same seed on the same replies draws "
                   "the same sample.")
@click.option("--name", "name_option", metavar="NAME", help="The new sample's name (default: sample-DATE).")
@click.option("--thread", "thread_ref", help="Draw from this thread's replies only (URL, id or PLATFORM:ID); "
                                             "default: every thread's.")
@click.option("--include-asker", is_flag=True,
              help="Count the asker's own posts in the population (by default they are left out: the asker "
                   "answering a reply is not an answer to the question).")
@click.option("--no-quotes", is_flag=True, help="Leave quote posts out of the population (by default they count).")
@click.option("--keep-duplicates", is_flag=True,
              help="Count every copy of a text one author posted more than once, on one platform or cross-posted "
                   "on several (by default such a text counts once: one person, one answer).")
@click.option("--show-model", is_flag=True,
              help="Code the new sample with the model's scores shown (by default a sample is coded blind: until "
                   "every member is coded, no page or queue shows the model's tags for its members).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@codebook_option
@db_option
def sample(name, size, more, overlap, coder, seed, name_option, thread_ref, include_asker, no_quotes, keep_duplicates,
           show_model, fmt, codebook_path, db_path):
    """Draw a random sample of replies for humans to code, for `replies estimate`.

    The sample is drawn from the replies with text (not the question post) as
    they stand now, on every platform in scope, and recorded with its seed, its
    population (the ids it was drawn from) and its members. Code the members
    with `replies review --sample NAME` (blind to the model, in random order) or
    in `replies serve`; then `replies estimate` gives each category's share.
    Code every member, or as many as you can in the order offered: members
    skipped because they are hard make the sample less random.

    \b
    replies sample --size 40               draw 40 replies
    replies sample --extend 20 NAME        20 more members for NAME
    replies sample --overlap 15 NAME --coder bea   15 of them for a second coder
    replies sample                         list the samples
    replies sample NAME                    NAME's members and who coded them
    """
    from replies.estimate.draw import draw, extend

    if name and name_option and name != name_option:
        raise click.UsageError(f"two names given: {name!r} and --name {name_option!r}")
    name = name or name_option
    if sum(option is not None for option in (size, more, overlap)) > 1:
        raise click.UsageError("--size draws a new sample, --extend adds to one and --overlap draws from one for a "
                               "second coder: give one of them")
    if (overlap is None) != (coder is None):
        raise click.UsageError("--overlap K NAME needs --coder, the second coder's name (and --coder needs --overlap)")
    drawing_only = {"--seed": seed is not None and overlap is None, "--thread": bool(thread_ref),
                    "--show-model": show_model,
                    "--include-asker": include_asker, "--no-quotes": no_quotes, "--keep-duplicates": keep_duplicates}
    given = [option for option, on in drawing_only.items() if on]
    if given and size is None:
        raise click.UsageError(f"{given[0]} is for drawing a sample with --size")
    database = open_database(db_path)
    if overlap is not None:
        _overlap(database, name, overlap, coder, seed, fmt)
        return
    if size is not None:
        rule = sample_store.PopulationRule(asker=include_asker, quotes=not no_quotes, duplicates=keep_duplicates)
        drawn = draw(database, size=size, seed=seed, name=name, thread=thread_key(database, thread_ref),
                     blind=not show_model, rule=rule)
        if not drawn.new:
            click.echo(f"Sample {drawn.name} was already drawn exactly so; nothing changed.", err=True)
        if fmt == "json":
            click.echo(json.dumps(drawn.as_json(), ensure_ascii=False))
            return
        click.echo(f"Sample {drawn.name}: {drawn.size} of {drawn.population} replies drawn at random from "
                   f"{scope(drawn.thread)} (seed {drawn.seed}).")
        click.echo(f"Population: the {drawn.population} replies with text; {drawn.rule.describe(drawn.left_out)}.")
        _next_steps(drawn.name)
        return
    if more is not None:
        if not name:
            raise click.UsageError("--extend needs the sample's NAME: replies sample --extend M NAME")
        drawn, added = extend(database, name, more)
        if fmt == "json":
            click.echo(json.dumps({**drawn.as_json(), "added": [{"platform": p, "id": i} for p, i in added]},
                                  ensure_ascii=False))
            return
        click.echo(f"Sample {drawn.name}: {len(added)} members added, {drawn.size} of {drawn.population} replies "
                   f"now (seed {drawn.seed}).")
        _next_steps(drawn.name)
        return
    book = current_codebook(database, codebook_path)
    if name:
        _show(database, name, book, fmt)
        return
    rows = [{"name": s["name"], "drawn": s["created_at"][:16].replace("T", " "), "from": scope(s["thread"]),
             "seed": s["seed"], "size": s["size"], "population": s["population"],
             "coded": sample_store.coded_count(database, s["name"], book.name)} for s in sample_store.list_samples(database)]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False))
    elif not rows:
        click.echo("No sample drawn yet: `replies sample --size 40` draws one.", err=True)
    else:
        click.echo(f"Coded with codebook {book.name}:")
        write_rows(rows)


def _overlap(database, name: str | None, size: int, coder: str, seed: int | None, fmt: str) -> None:
    from replies.estimate.draw import draw_overlap
    from replies.review.labels import reviewer_problem

    if not name:
        raise click.UsageError("--overlap needs the sample's NAME: replies sample --overlap K NAME --coder B")
    problem = reviewer_problem(coder)
    if problem:
        raise click.BadParameter(problem, param_hint="--coder")
    used, members = draw_overlap(database, name, size, coder, seed)
    if fmt == "json":
        click.echo(json.dumps({"sample": name, "coder": coder, "seed": used, "size": len(members),
                               "members": [{"platform": p, "id": i} for p, i in members]}, ensure_ascii=False))
        return
    click.echo(f"Overlap of sample {name}: {len(members)} of its members drawn at random for {coder} (seed {used}).")
    click.echo(f"Code them: replies review --sample {name} --reviewer {coder}   (blind to the model and to the first "
               "coder; or in the browser with that reviewer's name)")
    click.echo("Then:      replies evaluate   (Krippendorff's alpha per category)")


def _next_steps(name: str) -> None:
    click.echo(f"Code them: replies review --sample {name}   (or in the browser: replies serve)")
    click.echo(f"Then:      replies estimate --sample {name}")


def _show(database, name: str, book, fmt: str) -> None:
    from replies.estimate.draw import named_sample

    found = named_sample(database, name)
    codes = sample_store.member_codes(database, name, book.name)
    members = sample_store.units(database, name, found["size"])
    rows = [{"platform": platform, "id": reply_id, "coded": json.dumps(codes[i]["labels"]) if i in codes else None,
             "by": codes[i]["reviewer"] if i in codes else None} for i, (platform, reply_id) in enumerate(members)]
    if fmt == "json":
        click.echo(json.dumps({"name": name, "seed": found["seed"], "size": found["size"],
                               "population": found["population"], "created_at": found["created_at"],
                               "history": found["history"], "members": rows}, ensure_ascii=False))
        return
    click.echo(f"Sample {name}: {found['size']} of {found['population']} replies from {scope(found['thread'])} "
               f"(seed {found['seed']}, drawn {found['created_at'][:16].replace('T', ' ')}); {len(codes)} coded with "
               f"codebook {book.name}")
    write_rows(rows)


@click.command()
@click.option("--sample", "sample_name", metavar="NAME", help="The sample to estimate from (default: the newest).")
@click.option("--thread", "thread_ref", help="The newest sample drawn from this thread (URL, id or PLATFORM:ID).")
@click.option("--level", type=Level(), default=0.95, show_default=True, help="Confidence level of the intervals.")
@click.option("--reviewer", help="Use only this reviewer's codes (default: each member's final decision where "
                                 "one was recorded, else its latest code).")
@click.option("--by", type=click.Choice(["platform", "thread", "depth"]),
              help="Each group's share too, with its own interval, from the same sample: by platform, by thread, "
                   "or by depth (1: replies to the question, 2: replies to those, 3+).")
@click.option("--compare", metavar="BY=A,BY=B",
              help="The difference between two groups' shares with its interval, e.g. "
                   "platform=mastodon,platform=x (A minus B).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "methods"]), default="text",
              show_default=True, help="text: the table and what it means; json: every figure with the method, "
                                      "version and population rule; csv: the table a paper can paste; methods: a "
                                      "paragraph for a methods section, with references.")
@codebook_option
@db_option
def estimate(sample_name, thread_ref, level, reviewer, by, compare, fmt, codebook_path, db_path):
    """Each category's share of the replies, with a confidence interval, from a coded random sample.

    Combines the model's scores on every reply the sample was drawn from with
    the human codes on the sample's coded members (a regression estimator, as
    in model-assisted survey sampling and prediction-powered inference): the
    estimate is unbiased whatever the model, and the better the model, the
    narrower the interval. Beside it: the coded members alone (human-only) and
    the share the model tags (model-only, no interval: its errors are unknown).
    Replies added after the draw are outside the sample's population.
    """
    from replies.estimate.shares import estimate as run_estimate

    database = open_database(db_path)
    book = current_codebook(database, codebook_path)
    result = run_estimate(database, book, sample=sample_name, thread=thread_key(database, thread_ref), level=level,
                          reviewer=reviewer, by=by, compare=_comparison(compare))
    from replies.estimate.text import disagreement, warnings

    for note in warnings(result):
        click.echo(note, err=True)
    say_versions(result.versions, book)
    if disagreement(result):
        click.echo(disagreement(result), err=True)
    if fmt == "json":
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
        return
    if fmt in ("csv", "methods"):
        from replies.estimate.methods import methods_text, table_rows

        if fmt == "csv":
            write_rows(table_rows(result), "csv")
        else:
            from replies.review.reliability import reliability

            click.echo(visible(methods_text(result, reliability(database, book, sample=result.sample))))
        return
    _print_estimate(result, book)


def _comparison(text: str | None) -> tuple[str, str, str] | None:
    """('platform', 'mastodon', 'x') from 'platform=mastodon,platform=x'."""
    if text is None:
        return None
    parts = [part.strip().partition("=") for part in text.split(",")]
    if len(parts) != 2 or any(not sep or not key or not value for key, sep, value in parts) \
            or parts[0][0] != parts[1][0]:
        raise click.BadParameter(f"{text!r} is not BY=A,BY=B with one grouping (e.g. platform=mastodon,platform=x)",
                                 param_hint="--compare")
    if parts[0][0] not in ("platform", "thread", "depth"):
        raise click.BadParameter(f"{parts[0][0]!r} is not a grouping: platform, thread or depth",
                                 param_hint="--compare")
    return parts[0][0], parts[0][2], parts[1][2]


def _print_estimate(result, book) -> None:
    from replies.estimate.text import lines

    for line in lines(result, book):
        click.echo(line)
