"""Reddit's OAuth API: the app-only token, /comments/ARTICLE (with `limit` and `depth` caps that leave
"more" and "continue this thread" stubs), /api/morechildren (100 ids a call), X-Ratelimit-* headers.

Written from Reddit's API documentation (reddit.com/dev/api) and the answers Reddit gave PRAW (its test
cassettes): a comment listing is `[link Listing, comment Listing]`; a `more` stub lists in `children` the
ids of the comments hidden at its level and in `count` those and all below them; /api/morechildren
answers each asked comment followed by its replies, flat; a stub with `count` 0 and no children is
"continue this thread", read with /comments/ARTICLE/_/COMMENT.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time

from .reply import Reply
from .world import Post

COMMENTS_RE = re.compile(r"(?:/r/[A-Za-z0-9_]+)?/comments/([a-z0-9]{1,13})(?:/[^/]*(?:/([a-z0-9]{1,13}))?)?/?")
MAX_LIMIT = 500
MAX_MORE_IDS = 100


def serves(path: str) -> bool:
    return path in ("/api/v1/access_token", "/api/morechildren") or bool(COMMENTS_RE.fullmatch(path))


def _one(query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _int(query, name: str, default: int, high: int) -> int:
    raw = _one(query, name)
    return min(int(raw), high) if raw and raw.isdigit() and int(raw) > 0 else default


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"message": message, "error": status})



def rate_limited(reset_in: float) -> Reply:
    """Reddit's answer past a rate limit: seconds until the window ends in X-Ratelimit-Reset, not an epoch."""
    return Reply(429, {"message": "Too Many Requests", "error": 429},
                 {"X-Ratelimit-Used": 1000, "X-Ratelimit-Remaining": 0, "X-Ratelimit-Reset": max(1, round(reset_in))})


def handle(emulator, path: str, query, headers) -> Reply:
    if path == "/api/v1/access_token":
        return _token(emulator, query, headers)
    auth = headers.get("Authorization") or ""
    if auth.split(" ", 1)[-1] not in emulator.reddit_issued or not auth.lower().startswith("bearer "):
        return _error(401, "Unauthorized")
    if not (headers.get("User-Agent") or "").strip():
        return _error(429, "Too Many Requests")  # Reddit throttles clients without a user agent at once
    allowed, limit, remaining, reset = emulator.rate_headers("reddit")
    rate = {"X-Ratelimit-Used": limit - remaining, "X-Ratelimit-Remaining": f"{float(remaining):.1f}",
            "X-Ratelimit-Reset": max(0, int(reset - time.time()))}
    if not allowed:
        reply = _error(429, "Too Many Requests")
    elif path == "/api/morechildren":
        reply = _morechildren(emulator, query)
    else:
        match = COMMENTS_RE.fullmatch(path)
        reply = _comments(emulator, match.group(1), match.group(2), query)
    reply.headers.update(rate)
    return reply


def _token(emulator, query, headers) -> Reply:
    if _one(query, "_method") != "POST":
        return _error(405, "Method Not Allowed")
    auth = headers.get("Authorization") or ""
    try:
        client_id, _, secret = base64.b64decode(auth.split(" ", 1)[-1]).decode().partition(":")
    except ValueError:
        return _error(401, "Unauthorized")
    if not auth.startswith("Basic ") or emulator.reddit_clients.get(client_id) != secret:
        return _error(401, "Unauthorized")
    if _one(query, "grant_type") != "client_credentials":
        return Reply(200, {"error": "unsupported_grant_type"})
    token = "-" + hashlib.sha256(f"{client_id}{len(emulator.reddit_issued)}".encode()).hexdigest()[:30]
    emulator.reddit_issued.add(token)
    return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"})


def _utc(post: Post) -> float:
    return float(int(post.created_at.timestamp()))


def _link(emulator, post: Post, sub: str) -> dict:
    title, _, body = post.text.partition("\n\n")
    everyone = emulator.world.thread("reddit", post.id)
    return {"kind": "t3", "data": {
        "id": post.id, "name": f"t3_{post.id}", "title": title, "selftext": body,
        "selftext_html": f"&lt;div class=\"md\"&gt;&lt;p&gt;{body}&lt;/p&gt;&lt;/div&gt;" if body else None,
        "author": post.author.handle, "author_fullname": f"t2_{post.author.id}", "subreddit": sub,
        "subreddit_name_prefixed": f"r/{sub}", "created_utc": _utc(post), "num_comments": len(everyone),
        "score": post.likes, "ups": post.likes, "upvote_ratio": 0.97, "over_18": False, "locked": False,
        "archived": False, "permalink": f"/r/{sub}/comments/{post.id}/a_question/",
        "url": f"https://www.reddit.com/r/{sub}/comments/{post.id}/a_question/",
    }}


def _comment(post: Post, link: Post, sub: str, depth: int) -> dict:
    body, author = post.text, post.author.handle
    if post.state == "deleted":
        body, author = "[deleted]", "[deleted]"
    elif post.state == "removed":
        body, author = "[removed]", "[deleted]"
    data = {
        "id": post.id, "name": f"t1_{post.id}", "link_id": f"t3_{link.id}",
        "parent_id": f"t3_{link.id}" if post.parent == link.id else f"t1_{post.parent}",
        "author": author, "body": body, "body_html": f"&lt;div class=\"md\"&gt;&lt;p&gt;{body}&lt;/p&gt;&lt;/div&gt;",
        "created_utc": _utc(post), "score": post.likes, "ups": post.likes, "downs": 0, "depth": depth,
        "edited": False, "stickied": False, "distinguished": None, "collapsed": post.state != "ok",
        "subreddit": sub, "permalink": f"/r/{sub}/comments/{link.id}/a_question/{post.id}/", "replies": "",
    }
    if post.state == "ok":
        data["author_fullname"] = f"t2_{post.author.id}"
    return {"kind": "t1", "data": data}


def _descendants(world, post_id: str, levels: int) -> list[str]:
    """Ids below `post_id` down to `levels` levels, depth first."""
    out = []
    if levels <= 0:
        return out
    for child in world.replies_to("reddit", post_id):
        out.append(child.id)
        out += _descendants(world, child.id, levels - 1)
    return out


def _stub(emulator, ids: list[str], parent: str, depth: int, count: int = 0) -> dict:
    emulator.reddit_stubbed.update(ids)
    if not ids:  # continue this thread
        emulator.reddit_continues += 1
        return {"kind": "more", "data": {"count": 0, "name": "t1__", "id": "_", "parent_id": parent,
                                         "depth": depth, "children": []}}
    return {"kind": "more", "data": {"count": count, "name": f"t1_{ids[0]}", "id": ids[0], "parent_id": parent,
                                     "depth": depth, "children": ids}}


class _Page:
    """One /comments answer's tree: at most `limit` comments, `depth` levels; the rest left in stubs."""

    def __init__(self, emulator, link: Post, sub: str, limit: int, depth: int):
        self.emulator, self.world, self.link, self.sub = emulator, emulator.world, link, sub
        self.budget, self.depth = limit, depth

    def children(self, parent: Post, level: int) -> list[dict]:
        """The listing items under `parent`, whose children sit at `level` (0: top-level)."""
        kids = sorted(self.world.replies_to("reddit", parent.id), key=lambda p: p.created_at)
        parent_name = f"t3_{parent.id}" if parent.id == self.link.id else f"t1_{parent.id}"
        if not kids:
            return []
        if level >= self.depth:
            return [_stub(self.emulator, [], parent_name, level)]
        items = []
        for i, kid in enumerate(kids):
            if self.budget <= 0:  # the rest of this level: their ids in `children`, all below them in `count`
                rest = kids[i:]
                below = sum(len(_descendants(self.world, r.id, self.depth)) for r in rest)
                items.append(_stub(self.emulator, [r.id for r in rest], parent_name, level, len(rest) + below))
                break
            self.budget -= 1
            node = _comment(kid, self.link, self.sub, level)
            below = self.children(kid, level + 1)
            if below:
                node["data"]["replies"] = _listing(below)
            items.append(node)
        return items


def _listing(children: list[dict]) -> dict:
    return {"kind": "Listing", "data": {"after": None, "dist": None, "modhash": None, "geo_filter": "",
                                        "children": children, "before": None}}


def _comments(emulator, article: str, focus: str | None, query) -> Reply:
    world = emulator.world
    link = world.get("reddit", article)
    if link is None or link.parent is not None:
        return _error(404, "Not Found")
    sub = emulator.reddit_subreddit
    page = _Page(emulator, link, sub, _int(query, "limit", 200, MAX_LIMIT),
                 _int(query, "depth", emulator.reddit_max_depth, emulator.reddit_max_depth))
    if focus:
        comment = world.get("reddit", focus)
        if comment is None or comment.root != link.id or comment.id == link.id:
            return _error(404, "Not Found")
        level = _level(world, comment, link)
        node = _comment(comment, link, sub, level)
        page.budget -= 1
        page.depth += level
        below = page.children(comment, level + 1)
        if below:
            node["data"]["replies"] = _listing(below)
        tree = [node]
    else:
        tree = page.children(link, 0)
    return Reply(200, [_listing([_link(emulator, link, sub)]), _listing(tree)])


def _level(world, comment: Post, link: Post) -> int:
    level, node = 0, comment
    while node.parent and node.parent != link.id:
        node = world.posts["reddit"][node.parent]
        level += 1
    return level


def _morechildren(emulator, query) -> Reply:
    world = emulator.world
    link_id = (_one(query, "link_id") or "").removeprefix("t3_")
    link = world.get("reddit", link_id)
    ids = [i for i in (_one(query, "children") or "").split(",") if i]
    if (link is None and emulator.reddit_recorded is None) or not ids:
        return Reply(200, {"json": {"errors": [["BAD_REQUEST", "link_id and children are required", "children"]]}})
    if len(ids) > MAX_MORE_IDS:
        return Reply(200, {"json": {"errors": [["TOO_MANY", f"at most {MAX_MORE_IDS} ids", "children"]]}})
    if emulator.reddit_recorded is not None:  # Reddit's own answers, recorded: served for whichever ids are asked
        pool = emulator.reddit_recorded
        below: dict[str, list[dict]] = {}
        for key, thing in pool.items():
            for item in ([thing] if key else thing):
                below.setdefault(item["data"].get("parent_id"), []).append(item)
        things, stack = [], [pool[i] for i in reversed(ids) if i in pool]
        while stack:  # each asked comment, then what Reddit sent below it
            thing = stack.pop()
            things.append(thing)
            if thing["kind"] == "t1":
                stack += reversed(below.get(thing["data"]["name"], []))
        return Reply(200, {"json": {"errors": [], "data": {"things": things}}})
    things = []
    sent: set[str] = set()
    for cid in ids:  # each asked comment, then its replies below it, flat, as deep as a page goes
        comment = world.get("reddit", cid)
        if comment is None or comment.root != link.id or comment.id == link.id or cid in sent:
            continue
        base = _level(world, comment, link)
        stack = [(comment, base)]
        while stack:
            node, level = stack.pop()
            sent.add(node.id)
            things.append(_comment(node, link, emulator.reddit_subreddit, level))
            kids = world.replies_to("reddit", node.id)
            if kids and level - base + 1 >= emulator.reddit_max_depth:
                things.append(_stub(emulator, [], f"t1_{node.id}", level + 1))
                continue
            stack += [(kid, level + 1) for kid in reversed(kids)]
    return Reply(200, {"json": {"errors": [], "data": {"things": things}}})
