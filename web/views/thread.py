"""The thread page: who replied to whom, as branches that open and close."""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request

from replies.db.queries import thread_choices
from replies.db.tree import thread_tree

from .common import thread_of

bp = Blueprint("thread", __name__)


def nest(posts: list[dict]) -> list[dict]:
    """Depth-first posts (`thread_tree`'s order) as nested {post, children} nodes."""
    roots: list[dict] = []
    stack: list[dict] = []
    for post in posts:
        node = {"post": post, "children": []}
        while stack and stack[-1]["post"]["depth"] >= post["depth"]:
            stack.pop()
        (stack[-1]["children"] if stack else roots).append(node)
        stack.append(node)
    return roots


@bp.get("/thread")
def thread_page():
    choices = thread_choices(g.db)
    ref = request.args.get("ref") or (f"{choices[0]['platform']}:{choices[0]['id']}" if choices else "")
    if not ref:
        return render_template("thread.html", title="Thread", root=None, nodes=[], total=0, ref="")
    key = thread_of(ref)
    if key is None:
        abort(400, description="name a thread: ?ref=PLATFORM:ID")
    posts = thread_tree(g.db, *key, codebook=g.codebook.name, codebook_hash=g.codebook.hash)
    root = next((t for t in choices if (t["platform"], t["id"]) == key), {"platform": key[0], "id": key[1]})
    return render_template("thread.html", title="Thread", root=root, nodes=nest(posts), total=len(posts),
                           deepest=max((p["depth"] for p in posts), default=0), ref=f"{key[0]}:{key[1]}")
