"""The estimate as a person reads it: the lines `replies estimate` prints (the table, the groups, the
comparison, what the sample still lacks), built from an `Estimate` and nothing else, so a notebook or a report
prints the same. Every label, name and reviewer comes from files and people: it is made safe for a terminal
here (`visible`)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from replies.text import visible

if TYPE_CHECKING:  # the figures' own module needs numpy; printing them does not
    from replies.codebook import Codebook

    from .shares import Estimate

WIDTH = 100  # the text fits a 100-column terminal


def scope(thread) -> str:
    """Where a sample was drawn from, in words."""
    return f"thread {thread[0]}:{thread[1]}" if thread else "all threads"


def percent(value: float) -> str:
    return f"{100 * value:.1f}"


def warnings(result: Estimate) -> list[str]:
    """What a reader of the figures must know about the sample's state: members still to code, members that
    can no longer be coded (`disagreement` says the third thing, reviewers who disagree)."""
    said = []
    if result.to_code:
        said.append(f"{result.to_code} of the {result.size} members of sample {result.sample} are still to code: "
                    f"these figures use the {result.labelled} coded.")
    if result.uncodable:
        said.append(f"{result.uncodable} member{'s' if result.uncodable > 1 else ''} of sample {result.sample} can "
                    "no longer be coded (deleted or removed since the draw): left out, as if like the others; "
                    "nothing is left to do for them.")
    return said


def disagreement(result: Estimate) -> str | None:
    """How many coded members have reviewers who disagree and no final decision, and what to do."""
    if not result.disagreements:
        return None
    return (f"{result.disagreements} coded member{'s have' if result.disagreements > 1 else ' has'} reviewers who "
            "disagree and no final decision: the latest code was used for each. Record final decisions on the "
            "Adjudicate page of `replies serve`, or choose one coder with --reviewer.")


def lines(result: Estimate, book: Codebook, width: int = WIDTH) -> list[str]:
    """Everything `replies estimate` prints on stdout: the table, then the groups and the comparison where the
    estimate has them."""
    out = table(result, width)
    if result.groups:
        out += group_lines(result, book)
    if result.comparison:
        out += comparison_lines(result, book)
    return out


def interval(entry: dict, key: str = "estimate") -> str:
    if entry.get(key) is None:
        return f"not estimated ({entry.get('not_estimated')})"
    return f"{percent(entry[key])}% ({percent(entry['low'])}–{percent(entry['high'])})"

def group_lines(result: Estimate, book: Codebook) -> list[str]:
    """Each group's share of its own replies."""
    out = []
    labels = {c.id: visible(c.label, keep_newlines=False) for c in book.categories}
    level = f"{100 * result.level:g}%"
    out.append(f"\nBy {result.groups['by']}: each group's share of its own replies, with {level} intervals:")
    for group in result.groups["groups"]:
        out.append(f"\n  {visible(group['group'])}: {group['population']} replies, {group['coded']} coded")
        for entry in group["categories"]:
            out.append(f"    {labels.get(entry['id'], entry['id'])[:30]:<30}  {interval(entry)}")
    return out


def comparison_lines(result: Estimate, book: Codebook) -> list[str]:
    """The difference between two groups' shares, in points."""
    out = []
    labels = {c.id: visible(c.label, keep_newlines=False) for c in book.categories}
    found = result.comparison
    out.append(f"\n{visible(found['first'])} minus {visible(found['second'])} ({found['by']}), in points, "
               f"{100 * result.level:g}% intervals:")
    for entry in found["categories"]:
        shown = (f"{100 * entry['difference']:+.1f} ({100 * entry['low']:+.1f} to {100 * entry['high']:+.1f})"
                 if entry["difference"] is not None else f"not estimated ({entry['not_estimated']})")
        out.append(f"  {labels.get(entry['id'], entry['id'])[:30]:<30}  {shown}")
    return out


def table(result: Estimate, width: int = WIDTH) -> list[str]:
    """The sample, the codebook and the scores used, each category's share with its interval, what the columns
    mean, and how many more codes would bring the widest interval to ±5 points."""
    out: list[str] = []
    level = f"{100 * result.level:g}%"
    sources = ", ".join(f"{s['method'] or '?'} ({s['model'] or '?'})" for s in result.scored_by)
    coders = ", ".join(f"{name} {n}" for name, n in result.coders.items())
    # labels, names and reviewers come from files and people: nothing they hold may act on the terminal
    say = lambda text: out.append(visible(textwrap.fill(text, width, break_on_hyphens=False)))
    say(f"Sample {result.sample}: {result.labelled} of {result.size} members coded, drawn from "
        f"{result.population} replies ({scope(result.thread)}, seed {result.seed}).")
    say(f"Codebook {result.codebook} ({result.codebook_hash}); model scores: {sources}; codes: {coders}.")
    say(f"Shares of the {result.population} replies, with {level} confidence intervals:")
    out.append("")
    rows = []
    for c in result.categories:
        human = c.human_only
        label = visible(c.label, keep_newlines=False)
        if c.not_estimated:
            rows.append((label if len(label) <= 30 else label[:29] + "…", "—", "not estimated", "", "",
                         f"{percent(c.model_only)}"))
            continue
        rows.append((label if len(label) <= 30 else label[:29] + "…",
                     f"{percent(c.estimate)}%", f"{percent(c.low)}–{percent(c.high)}",
                     f"{c.count:.0f} ({c.count_low:.0f}–{c.count_high:.0f})",
                     f"{percent(human['estimate'])} ({percent(human['low'])}–{percent(human['high'])})",
                     f"{percent(c.model_only)}"))
    headers = ("Category", "Share", f"{level} interval", "Replies", "Coded only, %", "Model tags, %")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                   for i, (cell, w) in enumerate(zip(cells, widths))).rstrip()
    out.append(line(headers))
    for row in rows:
        out.append(line(row))
    out.append("")
    for c in result.categories:
        if c.not_estimated:
            say(f"{c.label} is not estimated: {c.not_estimated}.")
    say(f"Share and interval: the coded members' answers, made more precise by the model's scores on all "
        f"{result.population} replies. Coded only: the same members without the model. Model tags: what the model "
        "alone says, errors and all.")
    plan = result.plan
    if plan:
        widest = next(c for c in result.categories if c.id == plan["category"])
        points = f"±{100 * plan['half_width']:.1f} points"
        if plan["more_coded"] <= 0:
            say(f"Every interval is within ±{100 * plan['target']:.0f} points (the widest, {widest.label}, {points}).")
        else:
            advice = f"about {plan['more_coded']} more coded members would bring it to ±{100 * plan['target']:.0f}"
            if plan["extend_by"]:
                uncoded = f"code the {result.to_code} still uncoded, then " if result.to_code else ""
                advice += f" ({uncoded}`replies sample --extend {plan['extend_by']} {result.sample}`)"
            say(f"Widest interval: {widest.label}, {points}; {advice}.")
    return out
