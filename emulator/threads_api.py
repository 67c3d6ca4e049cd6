"""Meta's Threads API (graph.threads.net/v1.0): /me, /me/threads, a media object, its /conversation and
its /insights, with the Graph API's cursor paging and error shapes.

Written from the Threads API reference (developers.facebook.com/docs/threads): /conversation returns
every reply at any depth, flattened, `reverse=true` (newest first) by default, each with `replied_to` and
`root_post`; only the root post's owner may read it. Pages hold 25 items (`limit` up to 100) and carry
`paging.cursors.after` and, when more follow, `paging.next`.
"""

from __future__ import annotations

import base64

from .reply import Reply
from .world import Post

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def shortcode(media_id: str) -> str:
    """The code in a post's web URL (threads.net/@user/post/CODE), derived from its id as Instagram does."""
    value, out = int(media_id), ""
    while value:
        value, digit = divmod(value, 64)
        out = B64[digit] + out
    return out


def _one(query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _error(message: str, code: int, status: int = 400, subcode: int | None = None) -> Reply:
    error = {"message": message, "type": "OAuthException" if code in (190, 10) else "THApiException",
             "code": code, "fbtrace_id": "AXyZ0123"}
    if subcode:
        error["error_subcode"] = subcode
    return Reply(status, {"error": error})


def _ts(post: Post) -> str:
    return post.created_at.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _media(post: Post, fields: set[str]) -> dict:
    world_root = post.root
    full = {
        "id": post.id, "media_product_type": "THREADS", "media_type": "TEXT_POST", "text": post.text,
        "username": post.author.handle, "timestamp": _ts(post), "shortcode": shortcode(post.id),
        "permalink": f"https://www.threads.net/@{post.author.handle}/post/{shortcode(post.id)}",
        "is_quote_post": False, "has_replies": False, "is_reply": post.parent is not None,
        "hide_status": "HIDDEN" if "hidden" in post.labels else "NOT_HUSHED",
    }
    if post.parent:
        full["replied_to"] = {"id": post.parent}
        full["root_post"] = {"id": world_root}
    return {k: v for k, v in full.items() if k in fields or k == "id"}


def _fields(query) -> set[str]:
    return set((_one(query, "fields") or "id").split(","))


def _page(items: list[dict], query, base: str) -> Reply:
    try:
        limit = min(100, max(1, int(_one(query, "limit") or 25)))
        start = int(base64.b64decode(_one(query, "after") or "MA==").decode())
    except ValueError:
        return _error("Invalid parameter", 100)
    chunk = items[start:start + limit]
    body = {"data": chunk}
    if chunk:
        body["paging"] = {"cursors": {"before": base64.b64encode(str(start).encode()).decode(),
                                      "after": base64.b64encode(str(start + len(chunk)).encode()).decode()}}
        if start + limit < len(items):
            after = base64.b64encode(str(start + limit).encode()).decode()
            body["paging"]["next"] = f"https://graph.threads.net/v1.0{base}?after={after}&limit={limit}"
    return Reply(200, body)



def serves(path: str) -> bool:
    return path.startswith("/v1.0/")


def rate_limited(reset_in: float) -> Reply:
    """The Graph API says "slow down" with a 400 and error code 4."""
    return Reply(400, {"error": {"message": "(#4) Application request limit reached", "type": "OAuthException",
                                 "is_transient": True, "code": 4, "fbtrace_id": "AbCdEf"}})


def handle(emulator, path: str, query, headers) -> Reply:
    auth = headers.get("Authorization") or ""
    token = auth[7:] if auth.lower().startswith("bearer ") else _one(query, "access_token")
    owner_handle = emulator.threads_tokens.get(token or "")
    if owner_handle is None:
        return _error("Invalid OAuth access token - Cannot parse access token", 190, 400)
    allowed, *_ = emulator.rate_headers("threads")
    if not allowed:
        return _error("(#4) Application request limit reached", 4)
    owner = emulator.world.user("threads", owner_handle)
    world = emulator.world
    parts = path[len("/v1.0/"):].strip("/").split("/")
    if parts == ["me"]:
        return Reply(200, {"id": owner.id, "username": owner.handle})
    if len(parts) == 2 and parts[1] == "threads" and parts[0] in ("me", owner.id):
        mine = sorted((p for p in world.posts["threads"].values() if p.author.id == owner.id and p.parent is None
                       and world.visible(p) and p.state == "ok"), key=lambda p: p.created_at, reverse=True)
        return _page([_media(p, _fields(query)) for p in mine], query, f"/{owner.id}/threads")
    post = world.get("threads", parts[0])
    if post is None or post.state != "ok":
        return _error(f"Unsupported get request. Object with ID '{parts[0][:40]}' does not exist, cannot be loaded "
                      "due to missing permissions, or does not support this operation", 100, subcode=33)
    if len(parts) == 1:
        return Reply(200, _media(post, _fields(query)))
    if parts[1] == "conversation":
        root = world.posts["threads"][post.root]
        if root.author.id != owner.id:
            return _error("(#10) Application does not have permission for this action", 10, 403)
        replies = sorted((p for p in world.thread("threads", post.id) if p.state == "ok"),
                         key=lambda p: p.created_at, reverse=_one(query, "reverse") != "false")
        return _page([_media(p, _fields(query)) for p in replies], query, f"/{post.id}/conversation")
    if parts[1] == "insights":
        if post.author.id != owner.id:
            return _error("(#10) Application does not have permission for this action", 10, 403)
        replies = [p for p in world.thread("threads", post.id) if p.state == "ok"]
        return Reply(200, {"data": [{"name": "replies", "period": "lifetime", "values": [{"value": len(replies)}],
                                     "title": "Replies", "description": "The number of replies on your post.",
                                     "id": f"{post.id}/insights/replies/lifetime"}]})
    return _error("Unknown path components", 2500)
