"""Bluesky through the public AppView's XRPC endpoints (httpx).

getPostThread is asked for the full depth; where the AppView still cuts a
branch short (a post says it has more replies than it shows), that post's own
thread is fetched, so no reply is missed. Quotes come from getQuotes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from replies.net.errors import HTTPStatusError
from replies.net.events import Events
from replies.platforms.builtin.bluesky import AT_RE

from .errors import BadResponse, HarvestError, ThreadNotFound
from .record import BLOCKED, MALFORMED, NOT_FOUND, QUOTE, REPLY, ROOT, Post, post_id, tolerant, tolerant_each
from .settings import Settings
from .source import Batch, CursorReader

if TYPE_CHECKING:  # the HTTP stack loads when a harvest starts, not when the platform's settings are read
    from replies.net.retry import RetryPolicy

PLATFORM = "bluesky"
MAX_DEPTH = 1000





def _web_url(handle: str | None, did: str, uri: str) -> str:
    return f"https://bsky.app/profile/{handle or did}/post/{uri.rsplit('/', 1)[-1]}"


def normalise_post(view: dict, *, kind: str = REPLY, parent_id: str | None = None) -> Post:
    """An app.bsky.feed.defs#postView as a Post."""
    record = view.get("record") or {}
    author = view.get("author") or {}
    if parent_id is None:
        parent_id = ((record.get("reply") or {}).get("parent") or {}).get("uri")
    langs = record.get("langs") or []
    return Post(
        platform=PLATFORM, id=post_id(view["uri"]), kind=kind, parent_id=parent_id,
        author_id=author.get("did"), author_handle=author.get("handle"), text=record.get("text", ""),
        created_at=record.get("createdAt") or view.get("indexedAt"),
        url=_web_url(author.get("handle"), author.get("did") or "", view["uri"]),
        lang=langs[0] if langs else None, like_count=view.get("likeCount"),
        repost_count=view.get("repostCount"), reply_count=view.get("replyCount"),
        quote_count=view.get("quoteCount"), quote_of=_quoted(record.get("embed")), raw=view,
    )


def _quoted(embed: Any) -> str | None:
    """The at:// URI of the post a record embeds (a quote, with or without media), or None."""
    if not isinstance(embed, dict):
        return None
    inner = embed.get("record")
    if isinstance(inner, dict) and isinstance(inner.get("record"), dict):  # recordWithMedia wraps a record
        inner = inner["record"]
    uri = inner.get("uri") if isinstance(inner, dict) else None
    return uri if isinstance(uri, str) and AT_RE.fullmatch(uri) else None


def _type(node: Any) -> str:
    if not isinstance(node, dict):
        return "invalid"
    kind = node.get("$type", "")
    if node.get("notFound") or kind.endswith("#notFoundPost"):
        return "notFound"
    if node.get("blocked") or kind.endswith("#blockedPost"):
        return "blocked"
    if isinstance(node.get("post"), dict) and "uri" in node["post"]:
        return "post"
    return "invalid"


class BlueskySource:
    platform = PLATFORM

    def __init__(self, actor: str, rkey: str, settings: Settings, retry: RetryPolicy, events: Events):  # the AppView always has the whole thread
        self.actor, self.rkey = actor, rkey
        self.events = events
        from replies.net.http import JsonClient, epoch_reset

        self.client = JsonClient(settings.bsky_api_base, retry, timeout=settings.http_timeout,
                                 reset_parser=epoch_reset("ratelimit-reset"), label="Bluesky")
        self._first: dict | None = None

    @property
    def requests(self) -> int:
        return self.client.requests

    def close(self) -> None:
        self.client.close()

    def _xrpc(self, nsid: str, **params) -> dict:
        body, _ = self.client.get(f"/xrpc/{nsid}", params=params, what=f"Bluesky {nsid}")
        if not isinstance(body, dict):
            raise BadResponse(f"Bluesky {nsid} answered with something other than a JSON object")
        return body

    def _did(self) -> str:
        if self.actor.startswith("did:"):
            return self.actor
        try:
            body = self._xrpc("com.atproto.identity.resolveHandle", handle=self.actor)
        except HTTPStatusError:
            raise ThreadNotFound(f"Bluesky handle @{self.actor} does not resolve to an account") from None
        if not isinstance(body.get("did"), str):
            raise BadResponse("Bluesky resolveHandle answered without a did")
        return body["did"]

    def _thread(self, uri: str) -> dict:
        try:
            body = self._xrpc("app.bsky.feed.getPostThread", uri=uri, depth=MAX_DEPTH, parentHeight=0)
        except HTTPStatusError as exc:
            err = exc.body.get("error") if isinstance(exc.body, dict) else None
            if err == "NotFound":
                raise ThreadNotFound(f"Bluesky post {uri} does not exist or was deleted") from None
            raise HarvestError(f"Bluesky getPostThread refused {uri}: HTTP {exc.status} {err or ''}".strip()) from None
        if "thread" not in body:
            raise BadResponse("Bluesky getPostThread answered without a `thread`")
        return body["thread"]

    def fetch_root(self) -> Post:
        uri = f"at://{self._did()}/app.bsky.feed.post/{self.rkey}"
        thread = self._thread(uri)
        kind = _type(thread)
        if kind == "notFound":
            raise ThreadNotFound(f"Bluesky post {uri} does not exist or was deleted")
        if kind == "blocked":
            raise ThreadNotFound(f"Bluesky post {uri} is blocked from view")
        if kind != "post":
            raise BadResponse("Bluesky getPostThread answered with an unknown thread shape")
        self._first = thread
        return normalise_post(thread["post"], kind=ROOT, parent_id=None)

    def batches(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        thread = self._first if self._first is not None else self._thread(root.id)
        fetched = {root.id}
        pending: list[dict] = [thread]
        while pending:
            posts, cut_short = self._walk(pending.pop())
            yield Batch(posts, source_url="/xrpc/app.bsky.feed.getPostThread")
            for uri in cut_short:
                if uri not in fetched:
                    fetched.add(uri)
                    try:
                        sub = self._thread(uri)
                    except ThreadNotFound:  # deleted since the thread was read: that branch's outcome only
                        self.events.warn(f"Bluesky post {uri} shows replies the thread left out, but it is gone "
                                         "now (deleted since); its replies were not harvested")
                        continue
                    if _type(sub) == "post":
                        pending.append(sub)
        yield from self._quotes(root, cursor)

    def _walk(self, top: dict) -> tuple[list[Post], list[str]]:
        """Posts below `top`, and the posts whose replies the AppView left out."""
        posts: list[Post] = []
        cut_short: list[str] = []
        stack = [top]
        while stack:
            node = stack.pop()
            view = node["post"]
            replies = node.get("replies")
            shown = replies if isinstance(replies, list) else []
            count = view.get("replyCount")
            if isinstance(count, int) and count > len(shown):
                cut_short.append(view["uri"])
            for child in shown:
                kind = _type(child)
                if kind == "post":
                    post = tolerant(lambda v: normalise_post(v, parent_id=view["uri"]), child.get("post"),
                                    platform=PLATFORM, id_key="uri", parent_id=view["uri"])
                    if post is not None:
                        posts.append(post)
                        if post.status != MALFORMED:
                            stack.append(child)
                elif kind in ("notFound", "blocked"):
                    author = (child.get("author") or {}).get("did")
                    posts.append(Post(platform=PLATFORM, id=child["uri"], parent_id=view["uri"],
                                      status=NOT_FOUND if kind == "notFound" else BLOCKED,
                                      author_id=author, raw=child))
        return posts, cut_short

    def _quotes(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        token = cursor("quotes.cursor")
        while True:
            params = {"uri": root.id, "limit": 100}
            if token:
                params["cursor"] = token
            body = self._xrpc("app.bsky.feed.getQuotes", **params)
            views = body.get("posts")
            if not isinstance(views, list):
                raise BadResponse("Bluesky getQuotes answered without `posts`")
            posts = tolerant_each(lambda v: normalise_post(v, kind=QUOTE, parent_id=root.id), views,
                                  platform=PLATFORM, id_key="uri", parent_id=root.id)
            token = body.get("cursor") if views else None
            yield Batch(posts, {"quotes.cursor": token}, source_url="/xrpc/app.bsky.feed.getQuotes")
            if not token:
                return


Source = BlueskySource
