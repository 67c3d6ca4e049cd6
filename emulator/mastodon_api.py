"""Mastodon REST API: statuses, context (with the logged-out caps), quotes (token only)."""

from __future__ import annotations

import html
import re
import time
from datetime import datetime, timezone

from . import reddit_api
from .reply import Reply
from .world import Post

ANCESTORS_LIMIT, DESCENDANTS_LIMIT, DEPTH_LIMIT, CONTEXT_LIMIT = 40, 60, 20, 4096
URL_RE = re.compile(r"https?://[^\s<]+")
MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_]+)(?:@([A-Za-z0-9.-]+))?")
TAG_RE = re.compile(r"(?<![\w&#])#([A-Za-z0-9_]+)")


def _host(emulator) -> str:
    return f"127.0.0.1:{emulator.port}"


def to_html(emulator, text: str) -> str:
    """Post text as Mastodon renders it: paragraphs, <br>, linkified URLs, mentions and hashtags."""
    base = emulator.base_url

    def inline(chunk: str) -> str:
        out, pos = [], 0
        for m in URL_RE.finditer(chunk):
            out.append(_words(chunk[pos:m.start()], base))
            url = m.group(0)
            scheme, _, rest = url.partition("://")
            shown, hidden = rest[:30], rest[30:]
            out.append(f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener noreferrer">'
                       f'<span class="invisible">{scheme}://</span>'
                       f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                       f'<span class="invisible">{html.escape(hidden)}</span></a>')
            pos = m.end()
        out.append(_words(chunk[pos:], base))
        return "".join(out)

    paragraphs = [p for p in text.split("\n\n")]
    return "".join("<p>" + "<br />".join(inline(line) for line in p.split("\n")) + "</p>" for p in paragraphs)


def _words(chunk: str, base: str) -> str:
    escaped = html.escape(chunk, quote=False)
    escaped = MENTION_RE.sub(lambda m: f'<span class="h-card" translate="no"><a href="{base}/@{m.group(1)}" '
                             f'class="u-url mention">@<span>{m.group(1)}</span></a></span>', escaped)
    return TAG_RE.sub(lambda m: f'<a href="{base}/tags/{m.group(1)}" class="mention hashtag" rel="tag">'
                      f'#<span>{m.group(1)}</span></a>', escaped)


def _ts(post: Post) -> str:
    return post.created_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{post.created_at.microsecond // 1000:03d}Z"


def status(emulator, post: Post, *, nest: bool = True) -> dict:
    world = emulator.world
    author = post.author
    parent = world.posts["mastodon"].get(post.parent) if post.parent else None
    body = {
        "id": post.id, "created_at": _ts(post), "in_reply_to_id": post.parent,
        "in_reply_to_account_id": parent.author.id if parent else None, "sensitive": bool(post.spoiler), "spoiler_text": post.spoiler,
        "visibility": "public", "language": post.lang,
        "uri": post.remote_uri or f"{emulator.base_url}/users/{author.handle}/statuses/{post.id}",
        "url": f"{emulator.base_url}/@{author.handle}/{post.id}",
        "replies_count": len([p for p in world.replies_to("mastodon", post.id) if p.state == "ok"])
        + post.remote_replies,
        "reblogs_count": post.reposts, "favourites_count": post.likes,
        "quotes_count": len(world.quotes_of("mastodon", post.id)), "edited_at": None,
        "content": to_html(emulator, post.text), "reblog": None,
        "account": {"id": author.id, "username": author.handle, "acct": author.handle,
                    "display_name": author.name, "url": f"{emulator.base_url}/@{author.handle}",
                    "bot": False, "group": False},
        "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None,
    }
    if post.quote_of and nest:
        quoted = world.get("mastodon", post.quote_of)
        body["quote"] = {"state": "accepted", "quoted_status": status(emulator, quoted, nest=False) if quoted else None}
        if quoted:  # Mastodon 4.5's fallback for clients that do not show quotes
            link = f"{emulator.base_url}/@{quoted.author.handle}/{quoted.id}"
            body["content"] = (f'<p class="quote-inline">RE: <a href="{html.escape(link)}">{html.escape(link)}</a></p>'
                               + body["content"])
    return body


def _authorised(emulator, headers) -> bool | None:
    """True with a valid token, False with none, None with a bad one."""
    auth = headers.get("Authorization", "")
    if not auth:
        return False
    return True if auth.startswith("Bearer ") and auth[7:] in emulator.mastodon_tokens else None



def serves(path: str) -> bool:
    """Mastodon's REST API, under /api/ (Reddit's token and morechildren paths, also under /api/, are not)."""
    return path.startswith("/api/") and not reddit_api.serves(path)


def rate_limited(reset_in: float) -> Reply:
    """Mastodon's answer past a rate limit: the reset as an ISO 8601 time in X-RateLimit-Reset."""
    iso = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(int(time.time() + reset_in)))
    return Reply(429, {"error": "Too many requests"},
                 {"X-RateLimit-Limit": 300, "X-RateLimit-Remaining": 0, "X-RateLimit-Reset": iso})


def handle(emulator, path: str, query, headers) -> Reply:
    authorised = _authorised(emulator, headers)
    allowed, limit, remaining, reset = emulator.rate_headers("mastodon")
    iso = datetime.fromtimestamp(reset, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rate = {"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": iso}
    if authorised is None:
        reply = Reply(401, {"error": "The access token is invalid"})
    elif not allowed:
        reply = Reply(429, {"error": "Too many requests"})
    elif m := re.fullmatch(r"/api/v1/statuses/(\d+)", path):
        post = emulator.world.get("mastodon", m.group(1))
        reply = Reply(200, status(emulator, post)) if post and post.state == "ok" else \
            Reply(404, {"error": "Record not found"})
    elif m := re.fullmatch(r"/api/v1/statuses/(\d+)/context", path):
        reply = _context(emulator, m.group(1), authorised)
    elif m := re.fullmatch(r"/api/v1/statuses/(\d+)/quotes", path):
        reply = _quotes(emulator, m.group(1), query, authorised)
    else:
        reply = Reply(404, {"error": "Record not found"})
    reply.headers.update(rate)
    return reply


def _context(emulator, status_id: str, authorised: bool) -> Reply:
    world = emulator.world
    post = world.get("mastodon", status_id)
    if post is None or post.state != "ok":
        return Reply(404, {"error": "Record not found"})
    limit = CONTEXT_LIMIT if authorised else emulator.mastodon_context_cap or DESCENDANTS_LIMIT
    depth_limit = None if authorised else DEPTH_LIMIT
    # Depth-first by id path, as Mastodon's recursive query orders it, then cut.
    ordered: list[Post] = []

    def walk(node_id: str, depth: int) -> None:
        for child in sorted(world.replies_to("mastodon", node_id), key=lambda p: int(p.id)):
            if len(ordered) >= limit:
                return
            if child.state != "ok":
                continue
            ordered.append(child)
            if depth_limit is None or depth + 1 < depth_limit:
                walk(child.id, depth + 1)

    walk(post.id, 0)
    # Mastodon brings self-replies (an author answering themselves) to the top.
    selfish = [p for p in ordered if p.parent and world.posts["mastodon"][p.parent].author.id == p.author.id]
    rest = [p for p in ordered if p not in selfish]
    ancestors, cursor = [], post
    while cursor.parent and len(ancestors) < (CONTEXT_LIMIT if authorised else ANCESTORS_LIMIT):
        cursor = world.posts["mastodon"][cursor.parent]
        ancestors.insert(0, cursor)
    descendants = [status(emulator, p) for p in selfish + rest]
    if "garbled_context" in emulator.hostile:  # a server whose answer is not shaped as documented
        descendants = [*descendants[:1], "lots", {"id": ["not", "an", "id"]},
                       {"id": "990000000000000001", "account": "not an account", "content": 5}, *descendants[1:]]
    return Reply(200, {"ancestors": [status(emulator, p) for p in ancestors], "descendants": descendants})


def _quotes(emulator, status_id: str, query, authorised: bool) -> Reply:
    if not emulator.mastodon_quotes:
        return Reply(404, {"error": "Record not found"})
    if not authorised:
        return Reply(401, {"error": "This API requires an authenticated user"})
    raw = (query.get("limit") or ["20"])[-1]
    limit = min(40, int(raw)) if raw.isdigit() and int(raw) > 0 else 20
    max_id = (query.get("max_id") or [None])[-1]
    quotes = sorted(emulator.world.quotes_of("mastodon", status_id), key=lambda p: int(p.id), reverse=True)
    if max_id:
        quotes = [q for q in quotes if int(q.id) < int(max_id)]
    chunk = quotes[:limit]
    headers = {}
    if len(quotes) > limit:
        headers["Link"] = (f'<{emulator.base_url}/api/v1/statuses/{status_id}/quotes?limit={limit}&max_id={chunk[-1].id}>; '
                           f'rel="next"')
    return Reply(200, [status(emulator, q) for q in chunk], headers)
