"""The thread page: who replied to whom, as branches that open and close, a page of posts at a time.

The tree is rendered from a flat, depth-first list (no recursion in Python or in the template), so a chain
thousands deep renders as well as a short one; a thread of many posts is split into pages of PAGE_SIZE posts,
each page saying which branch it continues."""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request

from replies.db.queries import thread_choices
from replies.db.tree import thread_tree

from .common import thread_of

PAGE_SIZE = 500
OPEN_DEPTH = 2  # branches this shallow start open
bp = Blueprint("thread", __name__)


def layout(posts: list[dict]) -> tuple[list[dict], int]:
    """The page's posts, each with what to write before it: `close` open branches to end (each `</ul></details>
    </li>`) and `open` empty levels to begin (a page may start deep in a branch), and whether it has children on
    this page (it opens a branch); and how many branches are still open after the last post."""
    out, open_depths = [], []  # the depths of the posts whose branch (list of replies) is open
    for i, post in enumerate(posts):
        depth = post["depth"]
        close = 0
        while open_depths and open_depths[-1] >= depth:
            open_depths.pop()
            close += 1
        deepest = open_depths[-1] if open_depths else 0
        gaps = list(range(deepest + 1, depth))
        open_depths += gaps
        children = i + 1 < len(posts) and posts[i + 1]["depth"] > depth
        if children:
            open_depths.append(depth)
        out.append({"post": post, "close": close, "open": len(gaps), "children": children})
    return out, len(open_depths)


@bp.get("/thread")
def thread_page():
    choices = thread_choices(g.db)
    ref = request.args.get("ref") or (f"{choices[0]['platform']}:{choices[0]['id']}" if choices else "")
    if not ref:
        return render_template("thread.html", title="Thread", root=None, items=[], still_open=0, total=0, ref="")
    key = thread_of(ref)
    if key is None:
        abort(400, description="name a thread: ?ref=PLATFORM:ID")
    try:
        page = int(request.args.get("page") or 1)
    except ValueError:
        abort(400, description=f"page must be a number, not {request.args.get('page')!r}")
    posts = thread_tree(g.db, *key, codebook=g.codebook.name, codebook_hash=g.codebook.hash, hide_blind=True)
    pages = max(1, -(-len(posts) // PAGE_SIZE))
    if not 1 <= page <= pages:
        abort(400, description=f"page {page} does not exist: this thread has {pages}")
    shown = posts[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    continues = _ancestors(posts, (page - 1) * PAGE_SIZE) if shown and shown[0]["depth"] > 1 else []
    root = next((t for t in choices if (t["platform"], t["id"]) == key), {"platform": key[0], "id": key[1]})
    items, still_open = layout(shown)
    return render_template("thread.html", title="Thread", root=root, items=items, still_open=still_open,
                           total=len(posts),
                           deepest=max((p["depth"] for p in posts), default=0), ref=f"{key[0]}:{key[1]}",
                           page=page, pages=pages, continues=continues, open_depth=OPEN_DEPTH,
                           loops=sum(1 for p in posts if p["loop"]), blind=any(p["blind"] for p in posts))


def _ancestors(posts: list[dict], index: int) -> list[dict]:
    """The posts above posts[index] in its branch, outermost first (a page that starts deep in a branch)."""
    chain, depth = [], posts[index]["depth"]
    for post in reversed(posts[:index]):
        if post["depth"] < depth:
            chain.append(post)
            depth = post["depth"]
            if depth == 1:
                break
    return chain[::-1]
