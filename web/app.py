"""The web application behind `replies serve`: review queue, adjudication, replies table, overview, codebook.

It composes the library: the terminal review's queue and context (`replies.review.queue`), the export's
selection and writers (`replies.export`), the report's counts and charts (`replies.report`), and the
evaluation's agreement figures. Pages are rendered on the server; a little JavaScript adds the keys."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, abort, g, redirect, render_template, request
from sqlite_utils import Database

from replies.classifier.evaluate import evaluate
from replies.codebook import Codebook
from replies.db import labels as store
from replies.db import open_db, samples
from replies.db.errors import UnknownThread
from replies.db.queries import find_thread, has_replies, thread_choices
from replies.db.schema import ADJUDICATED
from replies.estimate.errors import EstimateError
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
from replies.report.html import category_bars, category_chart, estimates_section, time_chart, timeline
from replies.report.stats import reviewed_count
from replies.review.labels import known_platforms
from replies.review.queue import ORDERS, reply_context, review_queue

from .security import LOCAL_NAMES, protect

PAGE_SIZE = 50
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NAME_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
HERE = Path(__file__).parent


@dataclass(frozen=True)
class ReviewFilter:
    """What the review queue holds: its order, one thread, one category, and its scope: replies this reviewer
    has not reviewed (unreviewed), nobody has (nobody), one reviewer has (by:NAME), or all. With `sample`, that
    sample's members in the draw's random order, coded blind to the model."""
    order: str = "uncertain"
    thread: str = ""
    category: str = ""
    scope: str = "unreviewed"
    sample: str = ""

    def query(self, **extra) -> str:
        values = {"order": self.order, "thread": self.thread, "category": self.category, "scope": self.scope,
                  "sample": self.sample, **extra}
        return urlencode({k: v for k, v in values.items() if v})


class Queues:
    """Each reviewer's queue, computed once per filter and kept while the server runs, as the terminal
    review keeps it for a session: the order stays put while the reviewer works through it."""

    def __init__(self, keep: int = 32):
        self.keep, self.lock, self.queues = keep, threading.Lock(), OrderedDict()

    def get(self, db: Database, book: Codebook, reviewer: str, chosen: ReviewFilter, thread, fresh: bool):
        key = (reviewer, book.hash, chosen)
        with self.lock:
            found = None if fresh else self.queues.get(key)
            if found is None:
                keys = review_queue(db, codebook=book.name, codebook_hash=book.hash, reviewer=reviewer,
                                    order=chosen.order, thread=thread, category=chosen.category or None,
                                    unreviewed=chosen.scope == "unreviewed",
                                    unreviewed_by_anyone=chosen.scope == "nobody",
                                    reviewed_by=chosen.scope.removeprefix("by:") if chosen.scope.startswith("by:")
                                    else None, sample=chosen.sample or None)
                found = (keys, {k: i for i, k in enumerate(keys)})
                self.queues[key] = found
            self.queues.move_to_end(key)
            while len(self.queues) > self.keep:
                self.queues.popitem(last=False)
            return found


def create_app(db_path: str | Path, codebook: Codebook, *, reviewer: str,
               allowed_hosts: frozenset[str] = LOCAL_NAMES, any_address: bool = False) -> Flask:
    """The application over the database at `db_path` (migrated once here), coding with `codebook`;
    `reviewer` is the name decisions carry until the page's reviewer box changes it."""
    app = Flask("replies.web", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    app.json.ensure_ascii = False
    first = open_db(db_path)
    codebook.remember(first)
    first.conn.close()
    queues = Queues()
    token = protect(app, allowed_hosts=allowed_hosts, any_address=any_address)

    @app.before_request
    def load():
        g.db = open_db(db_path, reopen=True)  # a connection per request: each request runs in its own thread
        name = request.cookies.get("reviewer") or reviewer
        g.reviewer = name if NAME_RE.match(name) and name != ADJUDICATED else reviewer

    @app.teardown_request
    def close(_exc):
        if "db" in g:
            g.db.conn.close()

    @app.context_processor
    def shared():
        return {"book": codebook, "reviewer": g.get("reviewer", reviewer), "csrf_token": token,
                "threads": thread_choices(g.db) if "db" in g else [], "safe_url": safe_url, "page": request.endpoint}

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(405)
    def error(exc):
        return render_template("error.html", code=exc.code, message=exc.description, title=exc.name), exc.code

    @app.get("/favicon.ico")
    def favicon():
        return Response(status=204)

    @app.get("/")
    def home():
        return redirect("/review", code=302)

    @app.post("/reviewer")
    def set_reviewer():
        name = (request.form.get("name") or "").strip()
        if not NAME_RE.match(name) or name == ADJUDICATED:
            abort(400, description=f"{name!r} cannot be a reviewer name: use 1 to 64 characters"
                                   f" (and not {ADJUDICATED!r}, which marks final decisions)")
        back = request.form.get("back") or "/review"
        response = redirect(back if back.startswith("/") and not back.startswith("//") else "/review", code=303)
        response.set_cookie("reviewer", name, samesite="Strict", httponly=True, max_age=365 * 86400)
        return response

    # -- review -----------------------------------------------------------------------------------------

    def review_filter(values) -> ReviewFilter:
        chosen = ReviewFilter(order=values.get("order") or "uncertain", thread=values.get("thread") or "",
                              category=values.get("category") or "", scope=values.get("scope") or "unreviewed",
                              sample=values.get("sample") or "")
        if chosen.sample:
            if samples.get_sample(g.db, chosen.sample) is None:
                abort(400, description=f"no sample called {chosen.sample!r}")
            # a sample is coded in its own random order, every member: no other order, thread or category
            chosen = ReviewFilter(scope=chosen.scope, sample=chosen.sample)
        if chosen.order not in ORDERS:
            abort(400, description=f"unknown order {chosen.order!r} (one of {', '.join(ORDERS)})")
        if chosen.category and chosen.category not in codebook.ids:
            abort(400, description=f"unknown category {chosen.category!r} (one of {', '.join(codebook.ids)})")
        if chosen.scope not in ("unreviewed", "nobody", "all") and not chosen.scope.startswith("by:"):
            abort(400, description=f"unknown scope {chosen.scope!r} (unreviewed, nobody, all or by:REVIEWER)")
        return chosen

    def thread_of(ref: str):
        if not ref:
            return None
        try:
            row = find_thread(g.db, ref)
        except UnknownThread as exc:
            abort(400, description=str(exc))
        return row["platform"], row["id"]

    def reply_key(ref: str) -> tuple[str, str]:
        platform, sep, reply_id = ref.partition(":")
        if not sep or not store.reply_exists(g.db, platform, reply_id):
            abort(404, description=f"no reply {ref!r} in this database")
        return platform, reply_id

    def show_review(chosen: ReviewFilter, at: str | None, fresh: bool = False, message: str = "", status=200):
        keys, index = queues.get(g.db, codebook, g.reviewer, chosen, thread_of(chosen.thread), fresh)
        if at:
            key = reply_key(at)
        else:
            done = store.reviewed_by(g.db, codebook.name, g.reviewer) if chosen.scope == "unreviewed" else set()
            key = next((k for k in keys if k not in done), None)
            if key is None:
                return render_template("review_done.html", filter=chosen, total=len(keys), title="Review",
                                       empty=not has_replies(g.db)), status
        position = index.get(key)
        near = lambda step: (f"{keys[position + step][0]}:{keys[position + step][1]}"
                             if position is not None and 0 <= position + step < len(keys) else "")
        context = reply_context(g.db, *key, codebook=codebook.name, codebook_hash=codebook.hash,
                                reviewer=g.reviewer)
        blind = bool(chosen.sample)
        if blind:  # the coder of a sample sees neither the model's scores nor its suggestion
            context["predictions"] = {}
        predicted = {c for c, row in context["predictions"].items() if row["predicted"]}
        chosen_labels = set(context["own_labels"]) if context["own_labels"] is not None else predicted
        version = store.gold_version(g.db, *key, codebook.name, g.reviewer)
        progress = None
        if chosen.sample:
            found = samples.get_sample(g.db, chosen.sample)
            progress = {"name": chosen.sample, "size": found["size"],
                        "coded": samples.coded_count(g.db, chosen.sample, codebook.name)}
        return render_template(
            "review.html", title="Review", filter=chosen, reviewers=store.reviewers(g.db, codebook.name),
            context=context, key=key, position=position, total=len(keys), previous=near(-1), following=near(1),
            chosen=chosen_labels, blind=blind, sample=progress, samples=samples.list_samples(g.db),
            version=version, message=message, saved=version != ""), status

    @app.get("/review")
    def review():
        return show_review(review_filter(request.args), request.args.get("at"), bool(request.args.get("fresh")))

    @app.post("/review")
    def save_review():
        chosen = review_filter(request.form)
        key = reply_key(request.form.get("reply", ""))
        labels = request.form.getlist("label")
        unknown = [c for c in labels if c not in codebook.ids]
        if unknown:
            abort(400, description=f"unknown category {unknown[0]!r} (one of {', '.join(codebook.ids)})")
        note = (request.form.get("note") or "").strip() or None
        row = {"platform": key[0], "id": key[1], "codebook": codebook.name, "reviewer": g.reviewer,
               "labels": labels, "note": note}
        found = store.set_gold_if_unchanged(g.db, row, request.form.get("version", ""))
        if found is not None:
            return show_review(chosen, f"{key[0]}:{key[1]}", message=(
                f"Not saved: {g.reviewer}'s decision on this reply changed after this page was loaded (another "
                "tab or window). The page now shows what is saved; decide again."), status=409)
        following = request.form.get("next", "")
        return redirect("/review?" + chosen.query(at=following), code=303)

    # -- adjudication -----------------------------------------------------------------------------------

    @app.get("/adjudicate")
    def adjudicate():
        return show_adjudication(request.args.get("at"))

    def show_adjudication(at: str | None, message: str = "", status: int = 200):
        pending = store.disagreements(g.db, codebook.name, ADJUDICATED)
        keys = [(p, i) for p, i, _ in pending]
        open_count = sum(1 for *_, decided in pending if not decided)
        if at:
            key = reply_key(at)
        elif pending and not pending[0][2]:
            key = keys[0]
        else:
            return render_template("adjudicate.html", title="Adjudicate", context=None, pending=pending,
                                   open_count=open_count), status
        position = keys.index(key) if key in keys else None
        everyone = store.decisions(g.db, *key, codebook.name)
        decisions = [d for d in everyone if d["reviewer"] != ADJUDICATED]
        final = next((d for d in everyone if d["reviewer"] == ADJUDICATED), None)
        agreed = set.intersection(*(set(d["labels"]) for d in decisions)) if decisions else set()
        context = reply_context(g.db, *key, codebook=codebook.name, codebook_hash=codebook.hash, reviewer=ADJUDICATED)
        following = next((f"{p}:{i}" for p, i, decided in pending if not decided and (p, i) != key), "")
        return render_template(
            "adjudicate.html", title="Adjudicate", context=context, key=key, decisions=decisions, final=final,
            chosen=set(final["labels"]) if final else agreed, pending=pending, open_count=open_count,
            position=position, following=following,
            version=store.gold_version(g.db, *key, codebook.name, ADJUDICATED), message=message), status

    @app.post("/adjudicate")
    def save_adjudication():
        key = reply_key(request.form.get("reply", ""))
        labels = request.form.getlist("label")
        if any(c not in codebook.ids for c in labels):
            abort(400, description=f"unknown category among {labels!r}")
        note = (request.form.get("note") or "").strip()
        row = {"platform": key[0], "id": key[1], "codebook": codebook.name, "reviewer": ADJUDICATED,
               "labels": labels, "note": f"decided by {g.reviewer}" + (f": {note}" if note else "")}
        if store.set_gold_if_unchanged(g.db, row, request.form.get("version", "")) is not None:
            return show_adjudication(f"{key[0]}:{key[1]}", status=409, message=(
                "Not saved: someone recorded a final decision on this reply after this page was loaded. The page "
                "now shows it; decide again."))
        following = request.form.get("next", "")
        return redirect("/adjudicate" + (f"?{urlencode({'at': following})}" if following else ""), code=303)

    # -- replies table ----------------------------------------------------------------------------------

    def table_selection(values) -> Selection:
        sort, source = values.get("sort") or "time", values.get("source") or "final"
        if sort not in SORTS:
            abort(400, description=f"unknown sort {sort!r} (one of {', '.join(SORTS)})")
        if source not in SOURCES:
            abort(400, description=f"unknown label source {source!r} (one of {', '.join(SOURCES)})")
        category, platform = values.get("category") or None, values.get("platform") or None
        if category and category not in codebook.ids:
            abort(400, description=f"unknown category {category!r} (one of {', '.join(codebook.ids)})")
        known = known_platforms(g.db)
        if platform and platform not in known:
            abort(400, description=f"unknown platform {platform!r} (one of {', '.join(known)})")
        for name in ("since", "until"):
            if values.get(name) and not DATE_RE.match(values[name]):
                abort(400, description=f"{name} must be a date as YYYY-MM-DD, not {values[name]!r}")
        return Selection(thread=thread_of(values.get("thread") or ""), platform=platform,
                         search=(values.get("q") or "").strip() or None, category=category, source=source,
                         since=values.get("since") or None, until=values.get("until") or None, sort=sort,
                         descending=values["dir"] == "desc" if values.get("dir") else sort in DESCENDING_FIRST)

    def counted(chosen: Selection) -> int:
        """How many replies the selection holds; a search SQLite cannot parse is a 400 here, before any page
        or download starts."""
        try:
            return count_selected(g.db, codebook, chosen)
        except sqlite3.OperationalError as exc:
            abort(400, description=f"cannot search for {chosen.search!r}: {exc} (quote phrases, e.g. "
                                   "\"junior doctors\")")

    @app.get("/replies")
    def replies_table():
        chosen = table_selection(request.args)
        try:
            number = max(1, int(request.args.get("page") or 1))
        except ValueError:
            abort(400, description=f"page must be a number, not {request.args.get('page')!r}")
        total = counted(chosen)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(number, pages)  # past the end (a stale link, a hand-typed number): the last page
        rows = page_of(g.db, codebook, chosen, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
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

    @app.get("/replies.<fmt>")
    def download(fmt: str):
        if fmt not in ("csv", "jsonl"):
            abort(404, description=f"no download as {fmt!r}: csv or jsonl")
        chosen = table_selection(request.args)
        counted(chosen)
        db = open_db(db_path, reopen=True)  # its own connection: the stream outlives the request's

        def body():
            try:
                if fmt == "jsonl":
                    yield from (line + "\n" for line in jsonl_lines(db, codebook, selection=chosen))
                else:
                    yield from csv_text(csv_rows(db, codebook, selection=chosen), codebook)
            finally:
                db.conn.close()

        name = re.sub(r"[^A-Za-z0-9._-]+", "_", codebook.name)[:80]  # a header: no quote, no line break
        return Response(body(), mimetype="application/x-ndjson" if fmt == "jsonl" else "text/csv",
                        headers={"Content-Disposition": f'attachment; filename="replies-{name}.{fmt}"'})

    # -- overview and codebook --------------------------------------------------------------------------

    def reviewed_line(n: int) -> str:
        return f"{n} repl{'y' if n == 1 else 'ies'} reviewed"

    @app.get("/overview")
    def overview():
        (over_time, period), total = timeline(g.db)
        reviewed = reviewed_count(g.db, codebook.name)
        chosen_sample = request.args.get("sample") or None
        try:
            shares = estimates_section(g.db, codebook, sample=chosen_sample)
        except EstimateError as exc:
            abort(400, description=str(exc))
        return render_template("overview.html", title="Overview", chart=category_chart(category_bars(g.db, codebook)),
                               shares=shares, samples=samples.list_samples(g.db), chosen_sample=chosen_sample,
                               timeline=time_chart(over_time, period), result=evaluate(g.db, codebook),
                               labels={c.id: c.label for c in codebook.categories},
                               reviewed=reviewed, reviewed_line=reviewed_line(reviewed), total=total)

    @app.get("/overview/chart")
    def overview_chart():
        line = reviewed_line(reviewed_count(g.db, codebook.name))
        return Response(f"{category_chart(category_bars(g.db, codebook))}<p class=muted>{line}</p>",
                        mimetype="text/html")

    @app.get("/codebook")
    def codebook_page():
        typical = {c.id: store.top_scored(g.db, codebook.hash, c.id) for c in codebook.categories}
        return render_template("codebook.html", title="Codebook", typical=typical)

    return app


def safe_url(url: str | None) -> str | None:
    """A link target only for http(s) URLs: a reply's `javascript:` URL never becomes a link."""
    return url if isinstance(url, str) and url.lower().startswith(("https://", "http://")) else None
