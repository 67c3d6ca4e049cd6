"""`replies review`: an interactive terminal review, one reply at a time, saved as it goes."""

from __future__ import annotations

import shutil
import sys
import textwrap

import click

from replies.db.labels import reviewed_by
from replies.db.samples import coded_count
from replies.estimate.draw import named_sample
from replies.review.queue import MODEL_ORDERS, ORDERS, review_queue
from replies.review.session import DIGITS, Session
from replies.text import clip, visible

from .common import EXIT_INTERRUPTED, db_option, fail, open_database
from .options import (
    codebook_option,
    current_codebook,
    reviewer_option,
    thread_key,
)

HELP = """Keys:
  1-9, 0    toggle category 1-10 (t then a number for more)
  a, Enter  accept the categories as marked and go to the next reply
  x         clear every category (reviewed: none applies)
  s         skip this reply for now
  b         back to the previous reply
  n         add a note to this reply
  q         quit (everything accepted is already saved)
  ?         show these keys and what each category means"""
# ancestors shown above a reply: the nearest, so a deep chain still leaves the reply on the screen
CHAIN_SHOWN = 6


class Review:
    """The terminal's side of a review session (`replies.review.session.Session`): keys come from `read_key`,
    so the loop runs on any terminal; the session decides what each key does, this draws it."""

    def __init__(self, database, book, reviewer: str, queue: list[tuple[str, str]], order: str, read_key=None,
                 sample: dict | None = None, blind: bool = False):
        self.session = Session(database, book, reviewer, queue, blind=blind)
        self.database, self.book, self.reviewer = database, book, reviewer
        self.queue, self.order = queue, order
        self.read_raw = read_key or (lambda: click.getchar())
        self.pending: list[str] = []  # keys that arrived together (typed quickly), taken one at a time
        self.sample, self.blind = sample, blind

    def run(self) -> int:
        session, seen, message, notice = self.session, 0, "", ""
        while not session.done:
            if session.loads != seen:  # a reply newly on screen: what the last decision saved is said once
                seen, message, notice = session.loads, "", session.take_notice()
            self.draw(session.position, session.context, session.chosen, session.note, message, notice)
            message = notice = ""
            step = session.press(self.read_key())
            if step.ask == "number":
                session.toggle(click.prompt("Category number", type=click.IntRange(1, len(self.book.categories))) - 1)
            elif step.ask == "note":
                session.set_note(click.prompt("Note", default=session.note or "", show_default=False))
            elif step.ask == "help":
                message = self.help()
            message = message or step.message
        if not session.quit:
            click.clear()
            notice = session.take_notice()
            if notice:
                click.echo(notice)
            click.echo(f"Nothing left to review ({self.saved} saved this session).")
        return self.saved

    @property
    def saved(self) -> int:
        return self.session.saved

    def read_key(self) -> str:
        """One key. A terminal hands keys typed quickly over together ('xa'): they are taken one by one, in
        order, as typed; an escape sequence (an arrow key) stays whole."""
        if self.pending:
            return self.pending.pop(0)
        key = self.read_raw()
        if len(key) > 1 and not key.startswith("\x1b"):
            self.pending.extend(key[1:])
            key = key[0]
        return key

    def saved_line(self) -> str:
        """How many decisions this session saved, and how many this reviewer has with this codebook in all
        (reopening a review starts the session's count at 0, not the reviewer's)."""
        total = len(reviewed_by(self.database, self.book.name, self.reviewer))
        return f"{self.saved} saved now, {total} in all"

    def help(self) -> str:
        """The keys, then each category's key, label and description: what to code while coding."""
        width = min(shutil.get_terminal_size((100, 30)).columns, 100)
        lines = [HELP, "", "Categories:"]
        for i, category in enumerate(self.book.categories):
            key = DIGITS[i] if i < 10 else f"t{i + 1}"
            lines.append(textwrap.fill(visible(f"{category.label}: {' '.join(category.description.split())}",
                                               keep_newlines=False), width, initial_indent=f" {key:>3}  ",
                                       subsequent_indent=" " * 6))
        return "\n".join(lines)

    def draw(self, position: int, context: dict, chosen: set, note: str | None, message: str,
             notice: str = "") -> None:
        width = min(shutil.get_terminal_size((100, 30)).columns, 100)
        reply, parent, question = context["reply"], context["parent"], context["question"]
        shown = lambda key, row=reply: visible(str(row.get(key) or ""))  # reply text must not act on the terminal
        wrap = lambda text, indent="": textwrap.fill(" ".join((text or "").split()), width, initial_indent=indent,
                                                     subsequent_indent=" " * len(indent))
        if self.sample:
            coded = coded_count(self.database, self.sample["name"], self.book.name)
            lines = [f"Reply {position + 1} of {len(self.queue)} (sample {self.sample['name']}, random order) · "
                     f"{coded} of its {self.sample['size']} coded · reviewer {self.reviewer} · {self.saved_line()}"]
        else:
            lines = [f"Reply {position + 1} of {len(self.queue)} ({self.order} first) · reviewer {self.reviewer}"
                     f" · codebook {self.book.name} · {self.saved_line()}"
                     + (" · blind" if self.blind else "")]
        if question:
            lines.append(wrap(clip(visible(question["text"] or ""), 200, one_line=True), "Q: "))
        # the whole chain the reply answers, question first, the nearest CHAIN_SHOWN replies of it
        chain = context.get("chain") or []
        more = context.get("more_above", 0) + max(0, len(chain) - CHAIN_SHOWN)
        if more:
            lines.append(f"   … {more} more repl{'y' if more == 1 else 'ies'} above")
        for depth, post in enumerate(chain[-CHAIN_SHOWN:]):
            nearest = depth == len(chain[-CHAIN_SHOWN:]) - 1
            lines.append(wrap(clip(f"@{shown('author_handle', post)}: {shown('text', post)}", 300 if nearest else 140,
                                   one_line=True), "  " * min(depth, 4) + ("↳ in reply to " if nearest else "↳ ")))
        if not chain and parent and (not question or parent["text"] != question["text"]):
            lines.append(wrap(clip(f"@{shown('author_handle', parent)}: {shown('text', parent)}", 300, one_line=True),
                              "↳ in reply to "))
        lines.append("─" * width)
        when = (reply.get("created_at") or "")[:16].replace("T", " ")
        lines.append(f"@{shown('author_handle') or '?'} · {reply['platform']} · {visible(when)} · "
                     f"{shown('like_count') or 0} likes · {reply['kind']}")
        if reply.get("spoiler_text"):
            lines.append(wrap(clip(shown("spoiler_text"), 300, one_line=True), "CW: "))
        lines += [textwrap.fill(paragraph, width) if paragraph else "" for paragraph in shown("text").splitlines()]
        if reply.get("url"):
            lines.append(shown("url"))
        lines.append("─" * width)
        for i, category in enumerate(self.book.categories):
            row = None if self.blind else context["predictions"].get(category.id)
            score = "" if self.blind else f"{row['score']:.2f}" if row else "  - "
            suggested = "" if self.blind else "*" if row and row["predicted"] else " "
            key = DIGITS[i] if i < 10 else f"t{i + 1}"
            mark = "x" if category.id in chosen else " "
            lines.append(f" [{mark}] {key:>3}  {visible(category.label, keep_newlines=False):<40} {score}{suggested}")
        lines.append(f"Note: {visible(note)}" if note else "")
        if context["own_labels"] is not None:
            lines.append("(you reviewed this reply before; accepting replaces your earlier label"
                         + (f", given under codebook version {context['own_version']}, shown as this version reads it"
                            if context.get("own_version") else "") + ")")
        if self.blind:
            hint = ("1-9 toggle · a accept (none marked: no category applies) · s skip · b back · n note · q quit"
                    " · ? help")
        else:
            hint = "* = the model's suggestion · 1-9 toggle · a accept · s skip · b back · n note · q quit · ? help"
        if notice:
            lines.append(notice)
        lines.append(message or hint)
        click.clear()
        click.echo("\n".join(lines))


@click.command()
@reviewer_option
@click.option("--order", type=click.Choice(ORDERS), default="uncertain", show_default=True,
              help="uncertain: scores nearest the threshold first, where a human helps most.")
@click.option("--thread", "thread_ref", help="Only this thread (URL, id or PLATFORM:ID).")
@click.option("--category", help="Only replies predicted or labelled with this category id.")
@click.option("--unreviewed/--all", default=True, show_default=True,
              help="Leave out replies you already reviewed (reopening carries on where you stopped).")
@click.option("--sample", "sample_name", metavar="NAME",
              help="Code the members of a random sample (`replies sample`) in random order, blind to the model, "
                   "for `replies estimate`.")
@click.option("--show-model", is_flag=True,
              help="With --sample: show the model's scores and suggestion, for a sample drawn with `replies sample "
                   "--show-model` (a sample drawn blind, the default, is always coded blind).")
@click.option("--blind", is_flag=True,
              help="Hide the model's scores and suggestion, nothing pre-checked: code each reply as you read it "
                   "(always, for a blind sample). Gold coded blind is not pulled toward the model. A blind queue "
                   "takes no --category and no model-decided --order (newest first unless --order thread).")
@codebook_option
@db_option
@click.pass_context
def review(ctx, reviewer, order, thread_ref, category, unreviewed, sample_name, show_model, blind, codebook_path,
           db_path):
    """Review replies in the terminal: read each with the post it answers, confirm or correct the
    suggested categories with single keys, and move on.

    Each decision is saved the moment it is made, with your name and the time,
    so quitting, Ctrl-C or a crash loses at most the reply on screen. Two
    reviewers (--reviewer) label independently; `replies evaluate` then reports
    their agreement. Press ? in the review for the keys.

    With --sample NAME the queue is that sample's members, in random order, and
    the model's scores and suggestions are hidden: code each reply as you read
    it. Accepting with nothing marked records that no category applies.
    """
    sample = None
    if sample_name:
        given = [f"--{name}" for name in ("order", "category", "thread")
                 if ctx.get_parameter_source(name if name != "thread" else "thread_ref").name == "COMMANDLINE"]
        if given:
            raise click.UsageError(f"{given[0]} cannot be used with --sample: a sample is coded in its own random "
                                   "order, every member")
    elif show_model:
        raise click.UsageError("--show-model is for --sample (the other queues show the model unless --blind)")
    if blind and show_model:
        raise click.UsageError("--blind and --show-model contradict each other: choose one")
    if blind and category:
        raise click.UsageError("--blind cannot be used with --category: the replies the model tagged would tell you "
                               "its answer")
    if blind and order in MODEL_ORDERS and ctx.get_parameter_source("order").name == "COMMANDLINE":
        raise click.UsageError(f"--blind cannot be used with --order {order}: the model's scores decide that order; "
                               "use newest or thread")
    database = open_database(db_path)
    if sample_name:
        sample = named_sample(database, sample_name)
        if show_model and sample["blind"]:
            raise click.UsageError(f"sample {sample_name} is coded blind (it was drawn so): its coders never see "
                                   "the model; to code with the model shown, draw a sample with `replies sample "
                                   "--size N --show-model`")
        blind = sample["blind"]
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail("review needs a terminal; to record labels from a script use `replies label` or "
             "`replies import-labels`")
    book = current_codebook(database, codebook_path)
    if category and category not in book.ids:
        fail(f"unknown category {category!r} for codebook {book.name} (known: {', '.join(book.ids)})")
    if not sample_name and blind and ctx.get_parameter_source("order").name != "COMMANDLINE":
        order = "newest"  # a blind queue is not ordered by the model's scores
    book.remember(database)
    queue = review_queue(database, codebook=book.name, codebook_hash=book.hash, reviewer=reviewer, order=order,
                         thread=thread_key(database, thread_ref), category=category, unreviewed=unreviewed,
                         sample=sample_name, blind=blind)
    if not queue:
        what = f" in sample {sample_name}" if sample_name else ""
        click.echo(f"Nothing to review{what} for {reviewer}" + (" (all reviewed: --all shows them again)"
                                                                if unreviewed else "") + ".")
        return
    session = Review(database, book, reviewer, queue, order, sample=sample, blind=blind)
    try:
        saved = session.run()
    except (KeyboardInterrupt, EOFError):
        n = session.saved
        click.echo(f"\nStopped: {n} repl{'y' if n == 1 else 'ies'} coded and saved; `replies review` carries on from "
                   "here.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo(f"{saved} repl{'y' if saved == 1 else 'ies'} reviewed by {reviewer}.")
