"""Bluesky AppView XRPC: resolveHandle, getPostThread (with depth and branch caps), getQuotes."""

from __future__ import annotations

import hashlib
import re
import time

from .reply import Reply
from .world import Post

FEED = "app.bsky.feed.defs#"


def _error(status: int, error: str, message: str) -> Reply:
    return Reply(status, {"error": error, "message": message})


def _one(query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _ts(post: Post) -> str:
    return post.created_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{post.created_at.microsecond // 1000:03d}Z"


def _cid(post: Post) -> str:
    return "bafyrei" + hashlib.sha256(post.id.encode()).hexdigest()[:52]


def post_view(emulator, post: Post) -> dict:
    world = emulator.world
    record = {"$type": "app.bsky.feed.post", "text": post.text, "createdAt": _ts(post), "langs": [post.lang]}
    if post.parent:
        root = world.posts["bluesky"][post.root]
        parent = world.posts["bluesky"][post.parent]
        record["reply"] = {"root": {"uri": root.id, "cid": _cid(root)}, "parent": {"uri": parent.id, "cid": _cid(parent)}}
    if post.quote_of:
        quoted = world.posts["bluesky"][post.quote_of]
        record["embed"] = {"$type": "app.bsky.embed.record", "record": {"uri": quoted.id, "cid": _cid(quoted)}}
    replies = [p for p in world.replies_to("bluesky", post.id) if p.state != "deleted"]
    return {
        "uri": post.id, "cid": _cid(post),
        "author": {"did": post.author.id, "handle": post.author.handle, "displayName": post.author.name,
                   "labels": [], "createdAt": "2023-05-01T10:00:00.000Z"},
        "record": record, "replyCount": len(replies), "repostCount": post.reposts, "likeCount": post.likes,
        "quoteCount": len(world.quotes_of("bluesky", post.id)), "bookmarkCount": 0,
        "indexedAt": _ts(post), "labels": [],
    }


def _node(emulator, post: Post, depth: int) -> dict:
    if post.state == "deleted":
        return {"$type": FEED + "notFoundPost", "uri": post.id, "notFound": True}
    if post.state == "blocked":
        return {"$type": FEED + "blockedPost", "uri": post.id, "blocked": True,
                "author": {"did": post.author.id, "viewer": {"blockedBy": False, "blocking": "at://viewer/block/1"}}}
    node = {"$type": FEED + "threadViewPost", "post": post_view(emulator, post)}
    if depth > 0:
        children = sorted(emulator.world.replies_to("bluesky", post.id), key=lambda p: -p.likes)
        node["replies"] = [_node(emulator, c, depth - 1) for c in children]
    return node


def _resolve(emulator, actor: str) -> str | None:
    if actor.startswith("did:"):
        return actor
    user = emulator.world.users.get(("bluesky", actor))
    return user.id if user else None



def serves(path: str) -> bool:
    return path.startswith("/xrpc/")


def rate_limited(reset_in: float) -> Reply:
    """The AppView's answer past a rate limit: RateLimit-* headers, the reset as an epoch."""
    return Reply(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                 {"RateLimit-Limit": 3000, "RateLimit-Remaining": 0, "RateLimit-Reset": int(time.time() + reset_in),
                  "RateLimit-Policy": "3000;w=300"})


def handle(emulator, path: str, query, headers) -> Reply:
    nsid = path[len("/xrpc/"):]
    allowed, limit, remaining, reset = emulator.rate_headers("bluesky")
    rate = {"RateLimit-Limit": limit, "RateLimit-Remaining": remaining, "RateLimit-Reset": int(reset),
            "RateLimit-Policy": f"{limit};w={int(emulator.window)}"}
    if not allowed:
        reply = _error(429, "RateLimitExceeded", "Rate Limit Exceeded")
    elif nsid == "com.atproto.identity.resolveHandle":
        did = _resolve(emulator, _one(query, "handle") or "")
        reply = Reply(200, {"did": did}) if did else _error(400, "InvalidRequest", "Unable to resolve handle")
    elif nsid == "app.bsky.feed.getPostThread":
        reply = _thread(emulator, query)
    elif nsid == "app.bsky.feed.getQuotes":
        reply = _quotes(emulator, query)
    else:
        reply = _error(501, "MethodNotImplemented", "Method Not Implemented")
    reply.headers.update(rate)
    return reply


def _canonical(emulator, uri: str) -> str | None:
    m = re.fullmatch(r"at://([^/]+)/app\.bsky\.feed\.post/([^/]+)", uri or "")
    if not m:
        return None
    did = _resolve(emulator, m.group(1))
    return f"at://{did}/app.bsky.feed.post/{m.group(2)}" if did else None


def _int(query, name: str, default: int, low: int, high: int) -> int | None:
    raw = _one(query, name)
    if raw is None:
        return default
    return int(raw) if raw.isdigit() and low <= int(raw) <= high else None


def _thread(emulator, query) -> Reply:
    uri = _canonical(emulator, _one(query, "uri") or "")
    depth = _int(query, "depth", 6, 0, 1000)
    height = _int(query, "parentHeight", 80, 0, 1000)
    if depth is None or height is None:
        return _error(400, "InvalidRequest", "depth and parentHeight must be integers from 0 to 1000")
    post = emulator.world.get("bluesky", uri) if uri else None
    if post is None or post.state == "deleted":
        return _error(400, "NotFound", f"Post not found: {_one(query, 'uri')}")
    depth = min(depth, emulator.bsky_max_depth)
    if emulator.bsky_big_thread and len(emulator.world.thread("bluesky", post.id)) > emulator.bsky_big_thread[0]:
        depth = min(depth, emulator.bsky_big_thread[1])  # the AppView serves big threads shallower
    thread = _node(emulator, post, depth)
    cursor, level = thread, 0
    while post.parent and level < height and "post" in cursor:
        post = emulator.world.posts["bluesky"][post.parent]
        parent = _node(emulator, post, 0)
        parent.pop("replies", None)
        cursor["parent"] = parent
        cursor, level = parent, level + 1
    return Reply(200, {"thread": thread})


def _quotes(emulator, query) -> Reply:
    uri = _canonical(emulator, _one(query, "uri") or "")
    limit = _int(query, "limit", 50, 1, 100)
    if limit is None:
        return _error(400, "InvalidRequest", "limit must be an integer from 1 to 100")
    if not uri:
        return _error(400, "InvalidRequest", "uri must be an at-uri")
    cursor = _one(query, "cursor")
    start = int(cursor) if cursor and cursor.isdigit() else 0
    quotes = sorted(emulator.world.quotes_of("bluesky", uri), key=lambda p: p.created_at, reverse=True)
    chunk = quotes[start:start + limit]
    if "endless_cursor" in emulator.hostile:  # a server that never stops: the first page again, a new cursor
        chunk = quotes[:limit]
    body = {"uri": uri, "posts": [post_view(emulator, q) for q in chunk]}
    if start + limit < len(quotes) or "endless_cursor" in emulator.hostile:
        body["cursor"] = str(start + limit)
    if "repeat_cursor" in emulator.hostile:  # a server that hands out the same cursor again and again
        body["cursor"] = str(limit)
    if "deep_json" in emulator.hostile:  # 100,000 nested arrays: json.loads runs out of stack
        return Reply(200, "[" * 100_000 + "]" * 100_000)
    return Reply(200, body)
