"""The review queue (blind for a sample), saving a reviewer's decision, adjudication, and the reviewer's name."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request
from sqlite_utils import Database

from replies.codebook import Codebook
from replies.db import labels as label_store
from replies.db import samples
from replies.db.queries import has_replies
from replies.db.schema import ADJUDICATED
from replies.review.labels import reviewer_problem
from replies.review.queue import MODEL_ORDERS, ORDERS, reply_context, review_queue

from .common import reply_key, thread_of

bp = Blueprint("review", __name__)


@dataclass(frozen=True)
class ReviewFilter:
    """What the review queue holds: its order, one thread, one category, and its scope: replies this reviewer
    has not reviewed (unreviewed), nobody has (nobody), one reviewer has (by:NAME), or all. With `sample`, that
    sample's members in the draw's random order, coded blind to the model; `blind` ("1") hides the model from
    any queue."""
    order: str = "uncertain"
    thread: str = ""
    category: str = ""
    scope: str = "unreviewed"
    sample: str = ""
    blind: str = ""

    def query(self, **extra) -> str:
        values = {"order": self.order, "thread": self.thread, "category": self.category, "scope": self.scope,
                  "sample": self.sample, "blind": self.blind, **extra}
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
                                    else None, sample=chosen.sample or None, blind=chosen.blind == "1")
                found = (keys, {k: i for i, k in enumerate(keys)})
                self.queues[key] = found
            self.queues.move_to_end(key)
            while len(self.queues) > self.keep:
                self.queues.popitem(last=False)
            return found


@bp.post("/reviewer")
def set_reviewer():
    name = (request.form.get("name") or "").strip()
    problem = reviewer_problem(name)
    if problem:
        abort(400, description=problem)
    response = redirect(local_path(request.form.get("back") or ""), code=303)
    response.set_cookie("reviewer", name, samesite="Strict", httponly=True, max_age=365 * 86400)
    return response

def local_path(back: str, default: str = "/review") -> str:
    """`back` if it is a path on this page's own server, else `default`. Browsers drop tabs and line ends from
    an address and read a backslash as a slash, so "/\t/evil.example" and "/\\evil.example" lead to another
    host: a path with any control character, space or backslash, or one that names a host, is refused."""
    if (not back.startswith("/") or back.startswith("//") or "\\" in back
            or any(ord(ch) <= 32 or ord(ch) == 127 for ch in back) or urlsplit(back).netloc):
        return default
    return back


def review_filter(values) -> ReviewFilter:
    chosen = ReviewFilter(order=values.get("order") or "uncertain", thread=values.get("thread") or "",
                          category=values.get("category") or "", scope=values.get("scope") or "unreviewed",
                          sample=values.get("sample") or "", blind="1" if values.get("blind") == "1" else "")
    if chosen.sample:
        if samples.get_sample(g.db, chosen.sample) is None:
            abort(400, description=f"no sample called {chosen.sample!r}")
        # a sample is coded in its own random order, every member: no other order, thread or category
        chosen = ReviewFilter(scope=chosen.scope, sample=chosen.sample)
    if chosen.order not in ORDERS:
        abort(400, description=f"unknown order {chosen.order!r} (one of {', '.join(ORDERS)})")
    if chosen.blind == "1":  # nothing of the model's may choose or order a blind coder's replies
        if chosen.category:
            abort(400, description=f"a blind queue cannot be limited to category {chosen.category!r}: the replies "
                                   "the model tagged would tell you its answer; clear the category or the Blind box")
        if chosen.order in MODEL_ORDERS:
            chosen = ReviewFilter(order="newest", thread=chosen.thread, scope=chosen.scope, blind="1")
    if chosen.category and chosen.category not in g.codebook.ids:
        abort(400, description=f"unknown category {chosen.category!r} (one of {', '.join(g.codebook.ids)})")
    if chosen.scope not in ("unreviewed", "nobody", "all") and not chosen.scope.startswith("by:"):
        abort(400, description=f"unknown scope {chosen.scope!r} (unreviewed, nobody, all or by:REVIEWER)")
    return chosen

def show_review(chosen: ReviewFilter, at: str | None, fresh: bool = False, message: str = "", status=200):
    keys, index = g.queues.get(g.db, g.codebook, g.reviewer, chosen, thread_of(chosen.thread), fresh)
    if at:
        key = reply_key(at)
    else:
        done = label_store.reviewed_by(g.db, g.codebook.name, g.reviewer) if chosen.scope == "unreviewed" else set()
        key = next((k for k in keys if k not in done), None)
        if key is None:
            # a sample coded in an earlier visit is "coded", not "nothing matches": its queue starts empty
            coded = (samples.coded_count(g.db, chosen.sample, g.codebook.name, g.reviewer)
                     if chosen.sample and chosen.scope == "unreviewed" else 0)
            return render_template("review_done.html", filter=chosen, total=len(keys) or coded, title="Review",
                                   empty=not has_replies(g.db)), status
    position = index.get(key)
    near = lambda step: (f"{keys[position + step][0]}:{keys[position + step][1]}"
                         if position is not None and 0 <= position + step < len(keys) else "")
    context = reply_context(g.db, *key, codebook=g.codebook.name, codebook_hash=g.codebook.hash,
                            reviewer=g.reviewer)
    drawn = samples.get_sample(g.db, chosen.sample) if chosen.sample else None
    # the coder of a blind sample, who asked, or who opened a blind sample's member sees neither the model's
    # scores nor its suggestion
    blind = (drawn["blind"] if drawn else chosen.blind == "1") or context["blind_member"]
    if blind:
        context["predictions"] = {}
    predicted = {c for c, row in context["predictions"].items() if row["predicted"]}
    chosen_labels = set(context["own_labels"]) if context["own_labels"] is not None else predicted
    version = label_store.gold_version(g.db, *key, g.codebook.name, g.reviewer)
    progress = None
    if drawn:
        progress = {"name": chosen.sample, "size": drawn["size"], "blind": drawn["blind"],
                    "coded": samples.coded_count(g.db, chosen.sample, g.codebook.name)}
    return render_template(
        "review.html", title="Review", filter=chosen, reviewers=label_store.reviewers(g.db, g.codebook.name),
        context=context, key=key, position=position, total=len(keys), previous=near(-1), following=near(1),
        chosen=chosen_labels, blind=blind, sample=progress, samples=samples.list_samples(g.db),
        version=version, message=message, saved=version != ""), status

@bp.get("/review")
def review():
    recorded = "Saved: no category applies to the previous reply." if request.args.get("recorded") == "none" else ""
    return show_review(review_filter(request.args), request.args.get("at"), bool(request.args.get("fresh")),
                       message=recorded)

@bp.post("/review")
def save_review():
    chosen = review_filter(request.form)
    key = reply_key(request.form.get("reply", ""))
    labels = request.form.getlist("label")
    unknown = [c for c in labels if c not in g.codebook.ids]
    if unknown:
        abort(400, description=f"unknown category {unknown[0]!r} (one of {', '.join(g.codebook.ids)})")
    note = (request.form.get("note") or "").strip() or None
    row = {"platform": key[0], "id": key[1], "codebook": g.codebook.name, "codebook_hash": g.codebook.hash,
           "reviewer": g.reviewer, "labels": labels, "note": note}
    found = label_store.set_gold_if_unchanged(g.db, row, request.form.get("version", ""))
    if found is not None:
        return show_review(chosen, f"{key[0]}:{key[1]}", message=(
            f"Not saved: {g.reviewer}'s decision on this reply changed after this page was loaded (another "
            "tab or window). The page now shows what is saved; decide again."), status=409)
    following = request.form.get("next", "")
    # said on the next page: accepting with nothing marked is a decision too, and easy to make unawares
    return redirect("/review?" + chosen.query(at=following, recorded="none" if not labels else ""), code=303)

@bp.get("/adjudicate")
def adjudicate():
    return show_adjudication(request.args.get("at"))

def show_adjudication(at: str | None, message: str = "", status: int = 200):
    pending = label_store.disagreements(g.db, g.codebook.name, ADJUDICATED)
    keys = [(p, i) for p, i, _ in pending]
    open_count = sum(1 for *_, decided in pending if not decided)
    if at:
        key = reply_key(at)
    elif pending and not pending[0][2]:
        key = keys[0]
    else:
        reviewer_count = len([r for r in label_store.reviewers(g.db, g.codebook.name) if r != ADJUDICATED])
        return render_template("adjudicate.html", title="Adjudicate", context=None, pending=pending,
                               open_count=open_count, reviewer_count=reviewer_count), status
    position = keys.index(key) if key in keys else None
    everyone = label_store.decisions(g.db, *key, g.codebook.name)
    decisions = [d for d in everyone if d["reviewer"] != ADJUDICATED]
    final = next((d for d in everyone if d["reviewer"] == ADJUDICATED), None)
    agreed = set.intersection(*(set(d["labels"]) for d in decisions)) if decisions else set()
    context = reply_context(g.db, *key, codebook=g.codebook.name, codebook_hash=g.codebook.hash, reviewer=ADJUDICATED)
    following = next((f"{p}:{i}" for p, i, decided in pending if not decided and (p, i) != key), "")
    return render_template(
        "adjudicate.html", title="Adjudicate", context=context, key=key, decisions=decisions, final=final,
        chosen=set(final["labels"]) if final else agreed, pending=pending, open_count=open_count,
        position=position, following=following,
        version=label_store.gold_version(g.db, *key, g.codebook.name, ADJUDICATED), message=message), status

@bp.post("/adjudicate")
def save_adjudication():
    key = reply_key(request.form.get("reply", ""))
    labels = request.form.getlist("label")
    if any(c not in g.codebook.ids for c in labels):
        abort(400, description=f"unknown category among {labels!r}")
    note = (request.form.get("note") or "").strip()
    row = {"platform": key[0], "id": key[1], "codebook": g.codebook.name, "codebook_hash": g.codebook.hash,
           "reviewer": ADJUDICATED,
           "labels": labels, "note": f"decided by {g.reviewer}" + (f": {note}" if note else "")}
    if label_store.set_gold_if_unchanged(g.db, row, request.form.get("version", "")) is not None:
        return show_adjudication(f"{key[0]}:{key[1]}", status=409, message=(
            "Not saved: someone recorded a final decision on this reply after this page was loaded. The page "
            "now shows it; decide again."))
    following = request.form.get("next", "")
    return redirect("/adjudicate" + (f"?{urlencode({'at': following})}" if following else ""), code=303)
