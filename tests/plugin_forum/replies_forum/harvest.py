"""Harvesting a forum topic through the shared JSON client: the topic, then its posts a page at a time."""

from __future__ import annotations

from collections.abc import Iterator

from replies.harvester.errors import AuthMissing, BadResponse
from replies.harvester.record import REPLY, ROOT, Post, tolerant_each
from replies.harvester.source import Batch, CursorReader
from replies.net.http import JsonClient

MAX_PAGES = 1000


def normalise(item: dict, *, kind: str = REPLY, parent_id: str | None = None) -> Post:
    reply_to = item.get("reply_to")
    return Post(platform="forum", id=str(item["id"]), kind=kind, parent_id=str(reply_to) if reply_to else parent_id,
                author_handle=item.get("author"), author_id=item.get("author"), text=item.get("text") or "",
                created_at=item.get("created_at"), reply_count=item.get("reply_count"),
                url=f"https://forum.example/t/{item['id']}" if kind == ROOT else None, raw=item)


class Source:
    platform = "forum"

    def __init__(self, topic: str, settings, retry, events, *, with_hidden: bool = False):
        if not settings.forum_api_key:
            raise AuthMissing("set FORUM_API_KEY to harvest the forum")
        self.topic, self.with_hidden = topic, with_hidden
        self.client = JsonClient(settings.forum_api_base, retry, timeout=settings.http_timeout,
                                 params={"key": settings.forum_api_key}, label="Example Forum")

    @property
    def requests(self) -> int:
        return self.client.requests

    def close(self) -> None:
        self.client.close()

    def fetch_root(self) -> Post:
        body, _ = self.client.get(f"/forum-api/topics/{self.topic}.json")
        if not isinstance(body, dict) or "id" not in body:
            raise BadResponse("the forum answered the topic with no id")
        return normalise(body, kind=ROOT)

    def batches(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        page = int(cursor("posts.page") or 1)
        for _ in range(MAX_PAGES):
            params = {"page": page, **({"hidden": 1} if self.with_hidden else {})}
            body, _ = self.client.get(f"/forum-api/topics/{self.topic}/posts.json", params)
            posts = body.get("posts") if isinstance(body, dict) else None
            if not isinstance(posts, list):
                raise BadResponse("the forum answered a page of posts with no `posts` list")
            following = body.get("next_page")
            following = following if isinstance(following, int) and following > page else None
            yield Batch(tolerant_each(normalise, posts, platform="forum", id_key="id", parent_id=None),
                        {"posts.page": str(following) if following else None})
            if following is None:
                return
            page = following
