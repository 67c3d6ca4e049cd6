"""The replies table (filtered, sorted, paged) and the same selection downloaded as CSV or JSONL."""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, g, render_template, request

from replies.db import open_db
from replies.export.formats import csv_text
from replies.export.records import (
    DESCENDING_FIRST,
    SORTS,
    SOURCES,
    Selection,
    count_selected,
    csv_rows,
    jsonl_lines,
    page_of,
)
from replies.review.labels import known_platforms

from .common import thread_of

PAGE_SIZE = 50
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
bp = Blueprint("table", __name__)


def table_selection(values) -> Selection:
    sort, source = values.get("sort") or "time", values.get("source") or "final"
    if sort not in SORTS:
        abort(400, description=f"unknown sort {sort!r} (one of {', '.join(SORTS)})")
    if source not in SOURCES:
        abort(400, description=f"unknown label source {source!r} (one of {', '.join(SOURCES)})")
    category, platform = values.get("category") or None, values.get("platform") or None
    if category and category not in g.codebook.ids:
        abort(400, description=f"unknown category {category!r} (one of {', '.join(g.codebook.ids)})")
    known = known_platforms(g.db)
    if platform and platform not in known:
        abort(400, description=f"unknown platform {platform!r} (one of {', '.join(known)})")
    for name in ("since", "until"):
        if values.get(name) and not DATE_RE.fullmatch(values[name]):
            abort(400, description=f"{name} must be a date as YYYY-MM-DD, not {values[name]!r}")
    return Selection(thread=thread_of(values.get("thread") or ""), platform=platform,
                     search=(values.get("q") or "").strip() or None, search_syntax=values.get("fts") == "1",
                     category=category, source=source,
                     since=values.get("since") or None, until=values.get("until") or None, sort=sort,
                     descending=values["dir"] == "desc" if values.get("dir") else sort in DESCENDING_FIRST,
                     hide_blind=True)

def counted(chosen: Selection) -> int:
    """How many replies the selection holds; a search SQLite cannot parse is a 400 here, before any page
    or download starts."""
    try:
        return count_selected(g.db, g.codebook, chosen)
    except sqlite3.OperationalError as exc:
        abort(400, description=f"cannot search for {chosen.search!r} with FTS5 syntax: {exc} (untick FTS5 "
                               "syntax to search the words as written)")

@bp.get("/replies")
def replies_table():
    chosen = table_selection(request.args)
    try:
        number = max(1, int(request.args.get("page") or 1))
    except ValueError:
        abort(400, description=f"page must be a number, not {request.args.get('page')!r}")
    total = counted(chosen)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(number, pages)  # past the end (a stale link, a hand-typed number): the last page
    rows = page_of(g.db, g.codebook, chosen, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    link = lambda **extra: urlencode({**query, **extra})

    def sort_link(key: str) -> str:  # the same column again flips the direction
        descending = not chosen.descending if key == chosen.sort else key in DESCENDING_FIRST
        return link(sort=key, dir="desc" if descending else "asc")

    arrow = lambda key: ("↓" if chosen.descending else "↑") if key == chosen.sort else ""
    return render_template("table.html", title="Replies", rows=rows, total=total, number=number,
                           platform_names=known_platforms(g.db),
                           pages=pages, args=query, sources=SOURCES, query=link,
                           sort_link=sort_link, arrow=arrow)

@bp.get("/replies.<fmt>")
def download(fmt: str):
    if fmt not in ("csv", "jsonl"):
        abort(404, description=f"no download as {fmt!r}: csv or jsonl")
    chosen = table_selection(request.args)
    counted(chosen)
    db = open_db(g.db_path, reopen=True)  # its own connection: the stream outlives the request's
    book = g.codebook  # read now: flask.g is gone by the time the stream is sent

    def body():
        try:
            if fmt == "jsonl":
                yield from (line + "\n" for line in jsonl_lines(db, book, selection=chosen))
            else:
                yield from csv_text(csv_rows(db, book, selection=chosen), book)
        finally:
            db.conn.close()

    name = re.sub(r"[^A-Za-z0-9._-]+", "_", g.codebook.name)[:80]  # a header: no quote, no line break
    return Response(body(), mimetype="application/x-ndjson" if fmt == "jsonl" else "text/csv",
                    headers={"Content-Disposition": f'attachment; filename="replies-{name}.{fmt}"'})
