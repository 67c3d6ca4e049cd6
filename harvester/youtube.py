"""YouTube through the Data API v3 with an API key (httpx): a video's comments and all their replies.

commentThreads.list (100 a page, plain text) gives the top-level comments with a few replies each; for a
thread whose `totalReplyCount` is more than it carries, comments.list?parentId= pages through them all.
Every call costs one unit of the key's daily quota (10,000 by default); when YouTube answers
`quotaExceeded` the harvest stops with exit code 3 and the next run carries on from the page it was on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from replies.errors import RepliesError
from replies.net.errors import HTTPStatusError
from replies.net.events import Events

from .errors import AuthMissing, AuthRejected, BadResponse, HarvestError, RateLimited, ThreadNotFound
from .record import REPLY, ROOT, Post, post_id, tolerant_each
from .settings import Settings, require_secure
from .source import Batch, CursorReader

if TYPE_CHECKING:  # the HTTP stack loads when a harvest starts, not when the platform's settings are read
    from replies.net.retry import RetryPolicy

PLATFORM = "youtube"
PAGE = 100




def _count(value: Any) -> int | None:
    """YouTube's statistics are numbers written as strings."""
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return value if isinstance(value, int) else None


def normalise_comment(comment: dict, video_id: str) -> Post:
    """A youtube#comment as a Post: a top-level comment replies to the video, a reply to its thread's comment."""
    snippet = comment["snippet"]
    parent = snippet.get("parentId")
    text = snippet.get("textOriginal")
    if not isinstance(text, str):
        text = snippet.get("textDisplay")
    channel = snippet.get("authorChannelId")
    cid = post_id(comment["id"])
    name = snippet.get("authorDisplayName")  # "@handle" since YouTube's handles; stored without the @
    name = name[1:] if isinstance(name, str) and name.startswith("@") else name
    return Post(
        platform=PLATFORM, id=cid, kind=REPLY, parent_id=post_id(parent) if parent else video_id,
        author_id=channel.get("value") if isinstance(channel, dict) else None,
        author_handle=name, text=text,
        created_at=snippet.get("publishedAt"),
        url=f"https://www.youtube.com/watch?v={video_id}&lc={cid}", like_count=snippet.get("likeCount"), raw=comment,
    )


def _reason(body: Any) -> str:
    try:
        return str(body["error"]["errors"][0]["reason"])
    except (KeyError, IndexError, TypeError):
        return ""


def _quota_reset(now: datetime) -> datetime:
    """YouTube's quota days end at midnight Pacific time."""
    pacific = now.astimezone(ZoneInfo("America/Los_Angeles"))
    return (pacific + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


class YouTubeSource:
    platform = PLATFORM

    def __init__(self, video_id: str, settings: Settings, retry: RetryPolicy, events: Events):
        if not settings.youtube_api_key:
            raise AuthMissing("YouTube needs YOUTUBE_API_KEY: an API key with the YouTube Data API v3 enabled "
                              "(console.cloud.google.com, APIs & Services > Credentials)")
        require_secure(settings.youtube_api_base, "YOUTUBE_API_KEY")
        self.video_id, self.settings, self.events = video_id, settings, events
        # a base that already ends in /youtube/v3 is taken as it is
        self.prefix = "" if settings.youtube_api_base.rstrip("/").endswith("/youtube/v3") else "/youtube/v3"
        from replies.net.http import JsonClient

        self.client = JsonClient(settings.youtube_api_base, retry, timeout=settings.http_timeout,
                                 params={"key": settings.youtube_api_key}, label="YouTube",
                                 is_rate_limit=lambda status, body: _reason(body) in (
                                     "rateLimitExceeded", "userRateLimitExceeded"))

    @property
    def requests(self) -> int:
        return self.client.requests

    def close(self) -> None:
        self.client.close()

    def _list(self, resource: str, params: dict) -> dict:
        try:
            body, _ = self.client.get(f"{self.prefix}/{resource}", params)
        except HTTPStatusError as exc:
            reason = _reason(exc.body)
            if reason in ("quotaExceeded", "dailyLimitExceeded"):
                reset = _quota_reset(datetime.fromtimestamp(self.settings.clock()).astimezone())
                raise RateLimited(f"YouTube's daily quota for YOUTUBE_API_KEY is spent ({self.requests} units used "
                                  f"by this run); it resets at midnight Pacific time "
                                  f"({reset.astimezone():%Y-%m-%d %H:%M} here): run again then to carry on",
                                  reset_at=reset.timestamp()) from None
            if reason in ("keyInvalid", "keyExpired", "forbidden", "accessNotConfigured", "ipRefererBlocked"):
                raise AuthRejected(f"YouTube refused YOUTUBE_API_KEY ({reason}): check the key and that the "
                                   "YouTube Data API v3 is enabled for it") from None
            if reason in ("videoNotFound", "commentNotFound") or exc.status == 404:
                raise ThreadNotFound(f"YouTube video {self.video_id} does not exist or is private") from None
            if reason == "commentsDisabled":
                raise _CommentsDisabled() from None
            raise HarvestError(f"YouTube refused {resource}: HTTP {exc.status} {reason}".rstrip()) from None
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise BadResponse(f"YouTube answered {resource} without `items`")
        return body

    def fetch_root(self) -> Post:
        body = self._list("videos", {"part": "snippet,statistics", "id": self.video_id})
        items = [i for i in body["items"] if isinstance(i, dict) and i.get("id") == self.video_id]
        if not items:
            raise ThreadNotFound(f"YouTube video {self.video_id} does not exist or is private")
        video = items[0]
        snippet = video.get("snippet") if isinstance(video.get("snippet"), dict) else {}
        stats = video.get("statistics") if isinstance(video.get("statistics"), dict) else {}
        title, description = (snippet.get(k) if isinstance(snippet.get(k), str) else "" for k in ("title", "description"))
        return Post(
            platform=PLATFORM, id=self.video_id, kind=ROOT, author_id=snippet.get("channelId"),
            author_handle=snippet.get("channelTitle"),
            text=f"{title}\n\n{description}" if description else title,
            created_at=snippet.get("publishedAt"),
            url=f"https://www.youtube.com/watch?v={self.video_id}", like_count=_count(stats.get("likeCount")),
            reply_count=_count(stats.get("commentCount")), raw=video,
        )

    def batches(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        """Pages of comment threads; after each, the remaining replies of each thread that needs them. The
        checkpoint is the page being worked on and the threads of it already complete."""
        token = cursor("threads.page")
        done = set(_load(cursor("threads.done")))
        tokens_seen: set[str] = set()
        while True:
            params = {"part": "snippet,replies", "videoId": self.video_id, "maxResults": PAGE,
                      "textFormat": "plainText"}
            if token:
                params["pageToken"] = token
            try:
                page = self._list("commentThreads", params)
            except _CommentsDisabled:
                self.events.warn(f"YouTube video {self.video_id} has comments turned off")
                yield Batch([], {"threads.page": None, "threads.done": None})
                return
            posts, wanting = self._thread_posts(page["items"])
            yield Batch(posts, {"threads.page": token or ""}, source_url="/youtube/v3/commentThreads")
            for thread_id, included in wanting:
                if thread_id in done:
                    continue
                complete = yield from self._replies(thread_id, included)
                if complete:
                    done.add(thread_id)
                yield Batch([], {"threads.done": json.dumps(sorted(done))})
            following = page.get("nextPageToken")
            if not isinstance(following, str) or not following or following in tokens_seen or len(following) > 512:
                if isinstance(following, str) and following in tokens_seen:
                    raise BadResponse("YouTube sent the same page token twice; stopped there, what was stored "
                                      "is kept")
                yield Batch([], {"threads.page": None, "threads.done": None})
                return
            tokens_seen.add(following)
            token, done = following, set()
            yield Batch([], {"threads.page": token, "threads.done": None})

    def _thread_posts(self, items: list) -> tuple[list[Post], list[tuple[str, int]]]:
        """The posts of one page of threads, and (thread id, replies included) for threads with more replies."""
        comments, wanting, totals = [], [], {}
        for item in items:
            snippet = item.get("snippet") if isinstance(item, dict) else None
            if not isinstance(snippet, dict):
                continue
            top = snippet.get("topLevelComment")
            replies = (item.get("replies") or {}).get("comments") if isinstance(item.get("replies"), dict) else []
            replies = replies if isinstance(replies, list) else []
            comments.append(top)
            comments += replies
            total = _count(snippet.get("totalReplyCount")) or 0
            if isinstance(top, dict) and isinstance(top.get("id"), str):
                totals[top["id"]] = _count(snippet.get("totalReplyCount"))
            if isinstance(top, dict) and total > len(replies):
                try:
                    wanting.append((post_id(top.get("id")), len(replies)))
                except ValueError:
                    continue
        posts = tolerant_each(lambda c: normalise_comment(c, self.video_id), comments, platform=PLATFORM,
                              id_key="id", parent_id=self.video_id)
        for post in posts:  # a top-level comment's replies, as YouTube counts them: what coverage compares with
            if post.id in totals and post.status == "ok":
                post.reply_count = totals[post.id] if isinstance(totals[post.id], int) else None
        return posts, wanting

    def _replies(self, thread_id: str, included: int):
        """Batches of a comment's replies; returns whether they were read to the end. A page that fails (a
        404: the comment deleted since its thread was read, or any refusal that is not the quota's or the
        key's) is a failure of this comment only, said in the batch: the harvest goes on, the thread is
        incomplete, and the next run asks again."""
        token = None
        seen: set[str] = set()
        while True:
            params = {"part": "snippet", "parentId": thread_id, "maxResults": PAGE, "textFormat": "plainText"}
            if token:
                params["pageToken"] = token
            try:
                page = self._list("comments", params)
            except (RateLimited, AuthRejected):
                raise
            except (ThreadNotFound, RepliesError) as exc:
                what = "not found (404)" if isinstance(exc, ThreadNotFound) else str(exc)
                yield Batch([], failures=[f"YouTube comment {thread_id}'s replies could not be read: {what}"])
                return False
            posts = tolerant_each(lambda c: normalise_comment(c, self.video_id), page["items"], platform=PLATFORM,
                                  id_key="id", parent_id=thread_id)
            yield Batch(posts, source_url="/youtube/v3/comments")
            token = page.get("nextPageToken")
            if not isinstance(token, str) or not token or token in seen or len(token) > 512:
                return True
            seen.add(token)


class _CommentsDisabled(Exception):
    pass


def _load(value: str | None) -> list[str]:
    try:
        data = json.loads(value) if value else []
    except ValueError:
        return []
    return [i for i in data if isinstance(i, str)] if isinstance(data, list) else []


Source = YouTubeSource
