"""Threads through Meta's Threads API (httpx), with the question post's owner's access token.

Threads gives a post's whole conversation (every reply at any depth, flattened, with `replied_to`) only
to the post's owner, so THREADS_ACCESS_TOKEN must be theirs. The web URL's code is matched against the
owner's own posts (/me/threads) to find the media id; /conversation is then read oldest first, a page at
a time, its `after` cursor the checkpoint. The `paging.next` URL a server sends is never followed: the
token goes only to the API base configured.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from replies.net.errors import HTTPStatusError
from replies.net.events import Events

from .errors import AuthMissing, AuthRejected, BadResponse, ConfigurationError, HarvestError, ThreadNotFound
from .record import REPLY, ROOT, Post, post_id, tolerant_each
from .settings import Settings, require_secure
from .source import Batch, CursorReader

if TYPE_CHECKING:  # the HTTP stack loads when a harvest starts, not when the platform's settings are read
    from replies.net.retry import RetryPolicy

PLATFORM = "threads"
VERSION = "/v1.0"
FIELDS = "id,text,username,permalink,timestamp,media_type,shortcode,replied_to,root_post,is_reply,hide_status"
RATE_CODES = (4, 17, 32, 613)  # the Graph API's "too many calls" errors, sent as 400 or 403
MAX_OWN_PAGES = 200            # 100 posts a page: the owner's latest 20,000 posts are searched for the URL's




def _graph_code(body: Any) -> int | None:
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


def normalise_media(media: dict, *, kind: str = REPLY, parent_id: str | None = None) -> Post:
    """A Threads media object as a Post; a reply's parent is its `replied_to`."""
    if parent_id is None and kind == REPLY:
        parent_id = post_id(media["replied_to"]["id"])
    return Post(
        platform=PLATFORM, id=post_id(media["id"]), kind=kind, parent_id=parent_id,
        author_handle=media.get("username"), text=media.get("text") or "",
        created_at=media.get("timestamp"),
        url=media.get("permalink") if str(media.get("permalink", "")).startswith("https://") else None, raw=media,
    )


class ThreadsSource:
    platform = PLATFORM

    def __init__(self, user: str, code: str, settings: Settings, retry: RetryPolicy, events: Events):
        if not settings.threads_access_token:
            raise AuthMissing(f"Threads shows a post's replies only to its owner: set THREADS_ACCESS_TOKEN to an "
                              f"access token of @{user} (with threads_basic and threads_read_replies)")
        require_secure(settings.threads_api_base, "THREADS_ACCESS_TOKEN")
        self.user, self.code, self.events = user, code, events
        # The token travels as the documented `access_token` parameter, to the configured API host only;
        # a base that already ends in the version (…/v1.0) is taken as it is.
        self.version = "" if re.search(r"/v\d+\.\d+/?$", settings.threads_api_base) else VERSION
        from replies.net.http import JsonClient

        self.client = JsonClient(settings.threads_api_base, retry, timeout=settings.http_timeout,
                                 params={"access_token": settings.threads_access_token}, label="Threads",
                                 is_rate_limit=lambda status, body: _graph_code(body) in RATE_CODES,
                                 reset_parser=lambda headers: settings.clock() + 60)

    @property
    def requests(self) -> int:
        return self.client.requests

    def close(self) -> None:
        self.client.close()

    def _get(self, path: str, params: dict, what: str) -> dict:
        try:
            body, _ = self.client.get(self.version + path, params)
        except HTTPStatusError as exc:
            code = _graph_code(exc.body)
            if code == 190:
                raise AuthRejected("Threads rejected THREADS_ACCESS_TOKEN (expired or not valid): make a new "
                                   "one for the post's owner") from None
            if code in (10, 200) or exc.status == 403:
                raise ConfigurationError(f"Threads will not show {what} to this token (error {code}): it must be "
                                         f"@{self.user}'s, with the threads_read_replies permission") from None
            if code == 100:
                raise ThreadNotFound(f"Threads has no {what} for this token (deleted, or not @{self.user}'s)") \
                    from None
            raise HarvestError(f"Threads refused {what}: HTTP {exc.status}, error {code}") from None
        if not isinstance(body, dict):
            raise BadResponse(f"Threads answered {what} with something other than an object")
        return body

    def fetch_root(self) -> Post:
        me = self._get("/me", {"fields": "id,username"}, "the token's own account")
        if str(me.get("username", "")).lower() != self.user:
            raise ConfigurationError(f"THREADS_ACCESS_TOKEN belongs to @{str(me.get('username'))[:30]}, not "
                                     f"@{self.user}: Threads shows a post's whole conversation only to its owner")
        after = None
        for _ in range(MAX_OWN_PAGES):
            params = {"fields": FIELDS + ",has_replies", "limit": 100}
            if after:
                params["after"] = after
            page = self._get("/me/threads", params, f"@{self.user}'s posts")
            for media in page.get("data") or []:
                if isinstance(media, dict) and media.get("shortcode") == self.code:
                    root = normalise_media(media, kind=ROOT)
                    root.reply_count = self._reply_count(root.id)
                    return root
            after = _after(page)
            if after is None:
                break
        raise ThreadNotFound(f"@{self.user} has no post {self.code} among their posts (deleted, or a reply "
                             "rather than a post)")

    def _reply_count(self, media_id: str) -> int | None:
        """The post's reply count from its insights (needs threads_manage_insights), for coverage; None when
        the token may not read it."""
        try:
            body, _ = self.client.get(f"{self.version}/{media_id}/insights", {"metric": "replies"})
            value = body["data"][0]["values"][0]["value"]
        except (HTTPStatusError, KeyError, IndexError, TypeError):
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    def batches(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        after = cursor("conversation.next")
        while True:
            params = {"fields": FIELDS, "reverse": "false", "limit": 100}
            if after:
                params["after"] = after
            page = self._get(f"/{root.id}/conversation", params, "this post's conversation")
            data = page.get("data")
            if not isinstance(data, list):
                raise BadResponse("Threads answered /conversation without `data`")
            posts = tolerant_each(normalise_media, data, platform=PLATFORM, id_key="id", parent_id=root.id)
            after = _after(page)
            yield Batch(posts, {"conversation.next": after}, source_url=f"/{root.id}/conversation")
            if after is None:
                return


def _after(page: dict) -> str | None:
    """The next page's cursor, when the page says more follow."""
    paging = page.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    after = (paging.get("cursors") or {}).get("after") if isinstance(paging.get("cursors"), dict) else None
    return after if isinstance(after, str) and 0 < len(after) <= 1024 else None


Source = ThreadsSource
