"""A one-file HTML report: categories predicted vs gold, replies over time, most-liked replies.

Reply text, handles and URLs are untrusted: every value from the database is escaped,
and only http(s) links become links. Charts are inline SVG, so the page needs nothing else.
"""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from replies.codebook import Codebook
from replies.db.discoveries import latest_discovery
from replies.db.queries import final_labels_sql, thread_filter
from replies.db.samples import one_of_each_text
from replies.db.times import utc_now
from replies.estimate.errors import EstimateError
from replies.estimate.shares import estimate
from replies.export.pseudonym import Pseudonymizer
from replies.files import atomic_file
from replies.text import clip
from replies.text import html_text as escape

from .estimates import (
    CHART_CSS,
    FIT,
    estimate_chart,
    estimate_summary,
    estimate_table,
    legend,
    methods_paragraphs,
    reliability_table,
)
from .stats import category_stats, replies_over_time, reviewed_count

PREDICTED, GOLD = "#4c72b0", "#dd8452"


def top_replies(db: Database, codebook: Codebook, category: str, *, limit: int = 3,
                thread: tuple[str, str] | None = None) -> list[dict]:
    """The most-liked replies in a category by their final labels (reviewed where a human looked, else
    predicted), each text once: a reply cross-posted on several platforms is quoted once."""
    where, params = thread_filter(thread)
    params.update(codebook=codebook.name, hash=codebook.hash, category=category, limit=limit * 8 + 20)
    sql = f"""
        select r.platform, r.id, r.author_handle as author, r.created_at, r.like_count, r.text, r.url, r.kind,
          exists (select 1 from gold_current g where g.platform = r.platform and g.id = r.id
                  and g.codebook = :codebook) as reviewed,
          coalesce((select q.text from replies q where q.platform = r.platform and q.id = r.quote_of),
                   (select t.text from threads t where t.platform = r.platform and t.id = r.quote_of))
            as quoted_text,
          coalesce((select q.author_handle from replies q where q.platform = r.platform and q.id = r.quote_of),
                   (select t.author_handle from threads t where t.platform = r.platform and t.id = r.quote_of))
            as quoted_author
        from replies r
        where r.status = 'ok' and {where}
          and exists (select 1 from json_each({final_labels_sql()}) j where j.value = :category)
        order by coalesce(r.like_count, 0) desc, r.created_at, r.id limit :limit
    """
    return one_of_each_text(map(dict, db.query(sql, params)), limit)


def category_bars(db: Database, codebook: Codebook, thread: tuple[str, str] | None = None
                  ) -> list[tuple[str, int, int]]:
    """(label, replies predicted, replies reviewed) per category, in the codebook's order: `category_chart`'s
    input."""
    counts = {row["category"]: row for row in category_stats(db, codebook.name, codebook.hash, thread)}
    return [(c.label, counts.get(c.id, {}).get("predicted", 0), counts.get(c.id, {}).get("gold", 0))
            for c in codebook.categories]


def category_table(db: Database, codebook: Codebook, bars: list[tuple[str, int, int]],
                   thread: tuple[str, str] | None = None) -> str:
    """`category_bars`' counts (`bars`) with their percentages, predicted (of the classified replies) and
    reviewed (of the reviewed ones), and a row for the replies that carry no category: counts of tags, not
    estimates."""
    where, params = thread_filter(thread)
    params.update(hash=codebook.hash, codebook=codebook.name)
    classified, unlabelled = db.execute(f"""
        select count(*), coalesce(sum(not exists (select 1 from predictions p where p.platform = r.platform
          and p.id = r.id and p.codebook_hash = :hash and p.predicted = 1)), 0)
        from replies r where r.status = 'ok' and {where} and exists (select 1 from predictions p
          where p.platform = r.platform and p.id = r.id and p.codebook_hash = :hash)""", params).fetchone()
    reviewed, unreviewed_none = db.execute(f"""
        select count(*), coalesce(sum(json_array_length(g.labels) = 0), 0)
        from gold_current g join replies r using (platform, id)
        where g.codebook = :codebook and r.status = 'ok' and {where}""", params).fetchone()
    share = lambda n, of: f"{n} ({100 * n / of:.0f}%)" if of else f"{n}"
    rows = [(label, share(predicted, classified), share(gold, reviewed))
            for label, predicted, gold in bars]
    rows.append(("No category", share(unlabelled, classified), share(unreviewed_none, reviewed)))
    body = "".join(f"<tr><td>{escape(label)}</td><td>{p}</td><td>{g}</td></tr>" for label, p, g in rows)
    return (f'<table class="estimates counts"><thead><tr><th>Category</th><th>Predicted, of {classified} '
            f'classified</th><th>Reviewed, of {reviewed} reviewed</th></tr></thead><tbody>{body}</tbody></table>'
            "<p class=meta>A reply may carry several categories, so the percentages add up to more than 100.</p>")


def timeline(db: Database, thread: tuple[str, str] | None = None) -> tuple[tuple[list[dict], str], int]:
    """((rows, period), total replies): replies per day, or per hour when they span three days or fewer,
    for `time_chart`."""
    daily = replies_over_time(db, thread, "day")
    chosen = (replies_over_time(db, thread, "hour"), "hour") if len(daily) <= 3 else (daily, "day")
    return chosen, sum(row["replies"] for row in daily)


def estimates_section(db: Database, codebook: Codebook, *, sample: str | None = None,
                      thread: tuple[str, str] | None = None) -> str:
    """Each category's share with its interval, from `sample` (else the newest sample, of `thread` with it); when
    no sample is named and none can be estimated from yet, what to do instead. A named sample that cannot be
    estimated from is an error (EstimateError)."""
    try:
        result = estimate(db, codebook, sample=sample, thread=thread)
    except EstimateError as exc:
        if sample:
            raise
        return ("<h2>Shares of the replies</h2><p class=none>No estimate yet: " + escape(str(exc)) + ". Counting tags "
                "is not estimating: draw a random sample (<code>replies sample --size 40</code>), code it, and this "
                "section shows each category's share with a confidence interval.</p>")
    from replies.review.reliability import reliability

    agreement = reliability(db, codebook, sample=result.sample)
    return (f"<h2>Shares of the replies, with confidence intervals</h2>{estimate_summary(result)}"
            f"{estimate_chart(result)}{estimate_table(result)}{reliability_table(agreement)}"
            f"{methods_paragraphs(result, agreement)}")


def write_report(db: Database, out: str | Path, codebook: Codebook, *, thread: tuple[str, str] | None = None,
                 sample: str | None = None, pseudonymize: bool = False) -> None:
    """Write the report for `codebook`'s labels (one thread with `thread`) to `out`, atomically, with the shares
    estimated from `sample` (else the newest sample). With `pseudonymize`, every reply the page quotes (the
    most-liked per category, the posts they quote, the typical replies of themes the codebook leaves uncovered)
    goes through the pseudonymisation `replies export --pseudonymize` applies, under the database's stable
    pseudonyms, and no link leads back to a post."""
    people = Pseudonymizer.for_database(db) if pseudonymize else None
    name, question, codebook_hash = codebook.name, codebook.question, codebook.hash
    categories = [(c.id, c.label) for c in codebook.categories]
    bars = category_bars(db, codebook, thread)
    (over_time, period), total = timeline(db, thread)
    reviewed = reviewed_count(db, name, thread)
    shares = estimates_section(db, codebook, sample=sample, thread=thread)
    sections = []
    for cid, label in categories:
        quoted = "".join(_quote(reply, people) for reply in top_replies(db, codebook, cid, thread=thread))
        sections.append(f"<section><h3>{escape(label)} <code>{escape(cid)}</code></h3>"
                        f"{quoted or '<p class=none>No reply in this category yet.</p>'}</section>")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(name)}: replies report</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
h1 {{ font-size: 1.5rem; margin-bottom: .2rem; }} .meta {{ color: #666; }}
svg text {{ font: 12px system-ui, sans-serif; fill: #333; }}
{CHART_CSS}
blockquote {{ margin: .6rem 0; padding: .5rem .8rem; border-left: 4px solid #ccc; background: #f7f7f7;
  white-space: pre-wrap; overflow-wrap: anywhere; }}
.who {{ color: #555; font-size: .9rem; }} .none {{ color: #888; }}
blockquote.quoted {{ margin: .5rem 0 0; background: #fff; border-left-color: #aaa; }}
table.estimates {{ border-collapse: collapse; margin-top: .8rem; }}
table.estimates td, table.estimates th {{ padding: .2rem .6rem; border-bottom: 1px solid #ddd; text-align: right; }}
table.estimates td:first-child, table.estimates th:first-child {{ text-align: left; }}
</style></head><body>
<h1>{escape(question or name)}</h1>
<p class="meta">Codebook <b>{escape(name)}</b> ({escape(codebook_hash or '')}) · {total} replies ·
{reviewed} reviewed · made {escape(utc_now()[:16].replace('T', ' '))} UTC by replies</p>
{shares}
<h2>Categories</h2>
<p class="meta">Counts of tags, not estimates: the model's tags have errors of unknown size, and reviewed replies
picked by the review queue are not a random sample.</p>
{category_chart(bars)}
{category_table(db, codebook, bars, thread)}
<h2>Replies over time</h2>
{time_chart(over_time, period)}
<h2>Most-liked replies per category</h2>
<p class="meta">Reviewed labels where a human looked, else the model's.</p>
{''.join(sections)}
{_uncovered(latest_discovery(db, codebook_hash), people)}
</body></html>
"""
    with atomic_file(out) as handle:
        handle.write(page)


def _quote(reply: dict, people: Pseudonymizer | None = None) -> str:
    platform = reply.get("platform") or ""
    author, text = reply.get("author"), reply.get("text")
    quoted_author, quoted_text = reply.get("quoted_author"), reply.get("quoted_text")
    url = reply.get("url") or ""
    if people:
        author, text = people.person(author, platform), people.text(text, platform)
        quoted_author, quoted_text = people.person(quoted_author, platform), people.text(quoted_text, platform)
        url = ""  # a link leads back to the person
    link = f' · <a href="{escape(url)}">link</a>' if url.startswith(("https://", "http://")) else ""
    likes = reply.get("like_count") or 0
    quoting = (f"<blockquote class=quoted dir=auto><span class=who>quoting @<bdi>{escape(quoted_author or 'unknown')}"
               f"</bdi>:</span> {escape(quoted_text)}</blockquote>") if quoted_text else ""
    return (f"<blockquote dir=auto>{escape(text or '')}{quoting}</blockquote>"
            f"<p class=who>@<bdi>{escape(author or 'unknown')}</bdi> · "
            f"{escape(platform)} · "
            f"{escape((reply.get('created_at') or '')[:16].replace('T', ' '))} · {escape(str(likes))} like"
            f"{'' if likes == 1 else 's'}{' · reviewed' if reply.get('reviewed') else ''}{link}</p>")


def _uncovered(discovery: dict | None, people: Pseudonymizer | None = None) -> str:
    """The themes `replies discover --codebook` found among the replies no category covers, if it ran."""
    if not discovery:
        return ""
    shown = (lambda text, platform="": people.text(str(text), platform)) if people else (lambda text, platform="": text)
    params = discovery["params"]
    parts = ["<h2>Themes the codebook leaves uncovered</h2>",
             f"<p class=meta>{int(discovery['uncovered'] or 0)} replies fit no category; "
             f"{len(discovery['themes'])} themes among them (<code>replies discover</code>, "
             f"{escape(str(discovery['created_at'])[:16].replace('T', ' '))} UTC, min-size "
             f"{int(params.get('min_size', 0))}, max-themes {int(params.get('max_themes', 0))}).</p>"]
    for theme in discovery["themes"]:
        quoted = "".join(f"<blockquote dir=auto>{escape(str(shown(reply.get('text') or '', reply.get('platform'))))}"
                         "</blockquote>" for reply in theme.get("typical", [])[:3])
        parts.append(f"<section><h3>{escape(str(shown(theme.get('label'))))} ({int(theme.get('size') or 0)} replies)"
                     f"</h3><p class=who>{escape(', '.join(str(shown(w)) for w in theme.get('words', [])))}</p>"
                     f"{quoted}</section>")
    return "".join(parts)


def category_chart(bars: list[tuple[str, int, int]]) -> str:
    """Inline SVG: a pair of bars (predicted, gold) per (label, predicted, gold), every label escaped."""
    label_width, width, row = 230, 760, 34
    top = max([p for _, p, _ in bars] + [g for _, _, g in bars] + [1])
    scale = (width - label_width - 50) / top
    height = row * len(bars) + 10
    parts = [f'<svg role="img" aria-label="Replies per category" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" {FIT}>']
    for i, (label, predicted, gold) in enumerate(bars):
        y = 5 + i * row
        parts.append(f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end">{escape(clip(label, 34))}'
                     f'</text>')
        for j, (value, colour) in enumerate(((predicted, PREDICTED), (gold, GOLD))):
            w = value * scale
            parts.append(f'<rect x="{label_width}" y="{y + j * 13}" width="{w:.1f}" height="12" fill="{colour}">'
                         f'<title>{escape(label)}: {value} {"predicted" if j == 0 else "gold"}</title></rect>')
            parts.append(f'<text x="{label_width + w + 4:.1f}" y="{y + j * 13 + 10}">{value}</text>')
    parts.append("</svg>")
    parts.append(legend([(f'<rect x="1" y="1" width="22" height="12" fill="{PREDICTED}"/>', "tagged by the model"),
                         (f'<rect x="1" y="1" width="22" height="12" fill="{GOLD}"/>', "coded by reviewers")]))
    return "".join(parts)


def time_chart(rows: list[dict], period: str) -> str:
    """Inline SVG: replies per `period` ("day" or "hour") from `replies_over_time` rows."""
    if not rows:
        return "<p class=none>No dated replies.</p>"
    width, height, left, bottom = 760, 220, 40, 40
    top = max(row["replies"] for row in rows)
    step = (width - left - 10) / len(rows)
    parts = [f'<svg role="img" aria-label="Replies per {period}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" {FIT}>',
             f'<text x="{left - 6}" y="14" text-anchor="end">{top}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#999"/>']
    every = max(1, -(-100 // int(step)) if step >= 1 else len(rows))  # a label every 100px or more
    for i, row in enumerate(rows):
        h = (height - bottom - 10) * row["replies"] / top
        x = left + i * step
        parts.append(f'<rect x="{x + 1:.1f}" y="{height - bottom - h:.1f}" width="{max(step - 2, 1):.1f}" '
                     f'height="{h:.1f}" fill="{PREDICTED}"><title>{escape(row[period])}: {row["replies"]}</title>'
                     f'</rect>')
        if i % every == 0:
            stamp = row[period][5:].replace("T", " ") + (":00" if period == "hour" else "")
            parts.append(f'<text x="{x + step / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                         f'{escape(stamp)}</text>')
    parts.append("</svg>")
    return "".join(parts)
