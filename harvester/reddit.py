"""Reddit through its OAuth API (httpx): the app-only token, the comment tree, every stub expanded.

`/comments/ARTICLE?sort=old&limit=500` gives the tree as far as Reddit will show it; what it hides sits in
`more` stubs. A stub's `children` are the hidden comments' ids, fetched 100 a call with
/api/morechildren; a stub with no children is "continue this thread", read from the parent comment's
own page. The ids still to fetch are the checkpoint, stored with every page, so a run that is killed
carries on where it stopped. PRAW expands stubs the same way, but holds them in memory and keeps its
own HTTP stack and rate-limit sleeps: httpx here shares the other platforms' retries, size limits and
checkpoints.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from replies.db.times import untrusted_epoch
from replies.net.errors import HTTPStatusError
from replies.net.events import Events

from .errors import AuthMissing, AuthRejected, BadResponse, HarvestError, RateLimited, ThreadNotFound
from .record import DELETED, REMOVED, REPLY, ROOT, Post, tolerant
from .settings import Settings, require_secure
from .source import Batch, CursorReader

if TYPE_CHECKING:  # the HTTP stack loads when a harvest starts, not when the platform's settings are read
    import httpx

    from replies.net.http import JsonClient
    from replies.net.retry import RetryPolicy

PLATFORM = "reddit"
FULLNAME_RE = re.compile(r"t[13]_[a-z0-9]{1,13}")
MORE_IDS = 100     # ids /api/morechildren takes in one call
PAGE_LIMIT = 500   # the most comments /comments returns in one answer




def _fullname(value: Any) -> str:
    if not isinstance(value, str) or not FULLNAME_RE.fullmatch(value):
        raise ValueError(f"not a Reddit comment or post name: {str(value)[:40]!r}")
    return value


def _permalink(value: Any) -> str | None:
    return f"https://www.reddit.com{value}" if isinstance(value, str) and value.startswith("/") else None


def normalise_comment(data: dict) -> Post:
    """A Reddit comment (`t1` data) as a Post: a deleted or removed comment keeps its place in the tree with
    its status and no text (Reddit keeps it there when it has replies)."""
    body, author = data.get("body"), data.get("author")
    status = "ok"
    if body == "[removed]" or data.get("removed_by_category"):
        status = REMOVED
    elif body == "[deleted]":
        status = DELETED
    gone = status != "ok"
    return Post(
        platform=PLATFORM, id=_fullname(data["name"]), kind=REPLY, parent_id=_fullname(data["parent_id"]),
        status=status, author_id=None if gone else data.get("author_fullname"),
        author_handle=None if gone or author == "[deleted]" else author, text=None if gone else body,
        html=None if gone else data.get("body_html"), created_at=_when(data.get("created_utc")),
        url=_permalink(data.get("permalink")), like_count=data.get("score"), edited_at=_edited(data.get("edited")),
        raw={k: v for k, v in data.items() if k != "replies"},  # the replies are rows of their own
    )


def _edited(value):
    """Reddit's `edited`: false for a comment never edited, else the epoch second of the last edit."""
    return None if value is False or value is None else _when(value)


def _when(value):
    """Epoch seconds as a stored time; anything else as it came, for the Post to report as malformed."""
    return untrusted_epoch(value) or value


def normalise_link(data: dict) -> Post:
    """A Reddit post (`t3` data) as the thread's question: its title, then its text."""
    title, body = (data.get(k) if isinstance(data.get(k), str) else "" for k in ("title", "selftext"))
    return Post(
        platform=PLATFORM, id=_fullname(data["name"]), kind=ROOT, author_id=data.get("author_fullname"),
        author_handle=data.get("author") if data.get("author") != "[deleted]" else None,
        text=f"{title}\n\n{body}" if body else title, html=data.get("selftext_html"),
        created_at=_when(data.get("created_utc")), url=_permalink(data.get("permalink")),
        like_count=data.get("score"), reply_count=data.get("num_comments"), edited_at=_edited(data.get("edited")),
        raw=data,
    )


class _Tree:
    """What one answer holds: comments, the ids hidden in `more` stubs, "continue this thread" parents."""

    def __init__(self):
        self.posts: list[Post] = []
        self.hidden: list[str] = []
        self.cont: list[str] = []

    def walk(self, items: Any, depth: int = 0) -> None:
        if not isinstance(items, list) or depth > 1000:
            return
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
                continue
            data = item["data"]
            if item.get("kind") == "t1":
                post = tolerant(normalise_comment, data, platform=PLATFORM, id_key="name")
                if post is not None and FULLNAME_RE.fullmatch(post.id):
                    self.posts.append(post)
                replies = data.get("replies")
                if isinstance(replies, dict):
                    self.walk((replies.get("data") or {}).get("children"), depth + 1)
            elif item.get("kind") == "more":
                children = data.get("children")
                if isinstance(children, list) and children:
                    self.hidden += [c for c in children if isinstance(c, str) and re.fullmatch(r"[a-z0-9]{1,13}", c)]
                elif isinstance(data.get("parent_id"), str) and data["parent_id"].startswith("t1_"):
                    self.cont.append(_fullname(data["parent_id"]))


class RedditSource:
    platform = PLATFORM

    def __init__(self, article: str, comment: str | None, settings: Settings, retry: RetryPolicy, events: Events):
        if not (settings.reddit_client_id and settings.reddit_client_secret):
            raise AuthMissing("Reddit needs REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET: create a \"script\" app at "
                              "https://www.reddit.com/prefs/apps and set both (or [reddit] in the config file)")
        require_secure(settings.reddit_auth_base, "REDDIT_CLIENT_SECRET")
        require_secure(settings.reddit_api_base, "the Reddit access token")
        self.article, self.comment = article, comment
        self.settings, self.retry, self.events = settings, retry, events
        from replies import __version__

        agent = settings.reddit_user_agent or f"python:replies:{__version__} (reply harvester for research)"
        self.agent = agent
        from replies.net.http import JsonClient

        self.auth = JsonClient(settings.reddit_auth_base, retry, timeout=settings.http_timeout, user_agent=agent,
                               reset_parser=self._reset, label="Reddit token")
        self.client: JsonClient | None = None
        self.wait_until: float | None = None  # the window is spent: no request before this time
        self.first: _Tree | None = None

    @property
    def requests(self) -> int:
        return self.auth.requests + (self.client.requests if self.client else 0)

    def close(self) -> None:
        self.auth.close()
        if self.client:
            self.client.close()

    def _reset(self, headers: httpx.Headers) -> float | None:
        """X-Ratelimit-Reset is the seconds left in the window."""
        try:
            return self.settings.clock() + float(headers.get("x-ratelimit-reset", ""))
        except ValueError:
            return None

    def _login(self) -> None:
        try:
            body, _ = self.auth.request("POST", "/api/v1/access_token", data={"grant_type": "client_credentials"},
                                        auth=(self.settings.reddit_client_id, self.settings.reddit_client_secret))
        except HTTPStatusError as exc:
            if exc.status in (400, 401, 403):
                raise AuthRejected(f"Reddit rejected REDDIT_CLIENT_ID/REDDIT_CLIENT_SECRET (HTTP {exc.status})") \
                    from None
            raise HarvestError(f"Reddit's token endpoint answered HTTP {exc.status}") from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or len(token) > 4096:
            reason = body.get("error") if isinstance(body, dict) else None
            raise AuthRejected(f"Reddit gave no access token ({str(reason)[:60] or 'no reason given'}): check "
                               "REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET")
        if self.client:
            self.client.close()
        from replies.net.http import JsonClient

        self.client = JsonClient(self.settings.reddit_api_base, self.retry, timeout=self.settings.http_timeout,
                                 token=token, user_agent=self.agent, reset_parser=self._reset, label="Reddit")

    def _get(self, path: str, params: dict) -> Any:
        """GET with the token (fetched once, renewed once on a 401), waiting first where the last answer said
        the rate-limit window is spent."""
        if self.client is None:
            self._login()
        self._pace()
        try:
            body, response = self.client.get(path, params)
        except HTTPStatusError as exc:
            if exc.status != 401:
                raise
            self._login()
            body, response = self.client.get(path, params)
        self._note_limits(response.headers)
        return body

    def _note_limits(self, headers: httpx.Headers) -> None:
        try:
            remaining = float(headers.get("x-ratelimit-remaining", ""))
            reset = float(headers.get("x-ratelimit-reset", ""))
        except ValueError:
            return
        if remaining < 1 and 0 <= reset < 86400:
            self.wait_until = self.settings.clock() + reset + 1

    def _pace(self) -> None:
        if self.wait_until is None:
            return
        wait, self.wait_until = self.wait_until - self.settings.clock(), None
        if wait <= 0:
            return
        if not self.retry.wait_on_rate_limit or wait > self.retry.max_wait:
            raise RateLimited(f"Reddit's rate limit is spent for the next {wait:.0f}s; run again then to carry on",
                              reset_at=self.settings.clock() + wait)
        self.events.waiting(wait, "Reddit rate limit spent (X-Ratelimit-Remaining 0); waiting for the window")
        self.settings.sleep(wait)

    def _page(self, comment: str | None) -> tuple[Any, list]:
        """(the post's `t3` data, the comment listing's children) for the post, or one comment's subtree."""
        path = f"/comments/{self.article}" + (f"/_/{comment}" if comment else "")
        try:
            body = self._get(path, {"sort": "old", "limit": PAGE_LIMIT, "raw_json": 1})
        except HTTPStatusError as exc:
            if exc.status in (403, 404):
                raise ThreadNotFound(f"Reddit post {self.article}" + (f" comment {comment}" if comment else "")
                                     + f" is not there or not public (HTTP {exc.status})") from None
            raise HarvestError(f"Reddit refused {path}: HTTP {exc.status}") from None
        try:
            link = body[0]["data"]["children"][0]["data"]
            comments = body[1]["data"]["children"]
        except (KeyError, IndexError, TypeError):
            raise BadResponse(f"Reddit answered {path} without a post and its comment listing") from None
        if not isinstance(link, dict) or not isinstance(comments, list):
            raise BadResponse(f"Reddit answered {path} without a post and its comment listing")
        return link, comments

    def fetch_root(self) -> Post:
        link, comments = self._page(self.comment)
        try:
            root = normalise_link(link)
        except (KeyError, ValueError):
            raise BadResponse(f"Reddit answered /comments/{self.article} with a post that has no usable name") \
                from None
        if root.id != f"t3_{self.article}":
            raise BadResponse(f"Reddit answered /comments/{self.article} with another post ({root.id})")
        self.first = _Tree()
        if self.comment:  # a comment's permalink: that comment is the question, its replies the thread
            focus = [c for c in comments if isinstance(c, dict) and isinstance(c.get("data"), dict)
                     and c["data"].get("name") == f"t1_{self.comment}"]
            if not focus:
                raise ThreadNotFound(f"Reddit comment {self.comment} is not in post {self.article}")
            top = tolerant(normalise_comment, focus[0]["data"], platform=PLATFORM, id_key="name")
            if top is None:
                raise BadResponse(f"Reddit answered comment {self.comment} in a shape it does not document")
            top.kind, top.parent_id, top.reply_count = ROOT, None, None
            replies = focus[0]["data"].get("replies")
            self.first.walk((replies.get("data") or {}).get("children") if isinstance(replies, dict) else [])
            return top
        self.first.walk(comments)
        return root

    def batches(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        """The first page's comments, then every stub's: hidden ids 100 a call, then each "continue this
        thread" parent's page. Each parent is asked once, each id once (twice if an answer left it out)."""
        link = f"t3_{self.article}"
        saved = _load(cursor("more"))
        first = self.first or _Tree()
        seen = {p.id for p in first.posts} | {root.id}
        if saved is None:
            hidden = [i for i in dict.fromkeys(first.hidden) if f"t1_{i}" not in seen]
            cont = list(dict.fromkeys(first.cont))
        else:  # a run that stopped: the first page is stored, the stubs it left are the checkpoint
            hidden, cont = saved
        asked: Counter[str] = Counter()  # an id a server leaves out of its answer is asked once more, no more
        done: set[str] = set()
        yield Batch(first.posts, {"more": _dump(hidden, cont)}, source_url=f"/comments/{self.article}")
        while hidden or cont:
            tree = _Tree()
            if hidden:
                chunk, hidden = hidden[:MORE_IDS], hidden[MORE_IDS:]
                asked.update(chunk)
                body = self._get("/api/morechildren", {"api_type": "json", "link_id": link, "sort": "old",
                                                       "children": ",".join(chunk), "raw_json": 1})
                things = _things(body)
                tree.walk(things)
                source = "/api/morechildren"
            else:
                parent = cont.pop(0)
                done.add(parent)
                try:
                    _, comments = self._page(parent[3:])
                except ThreadNotFound:  # deleted since its stub was read
                    self.events.warn(f"Reddit comment {parent} could not be read for its replies; they are left "
                                     "out")
                    continue
                for item in comments:  # the parent itself is stored already; its replies are what is new
                    replies = item.get("data", {}).get("replies") if isinstance(item, dict) else None
                    if isinstance(replies, dict):
                        tree.walk((replies.get("data") or {}).get("children"))
                source = f"/comments/{self.article}/_/{parent[3:]}"
            posts = [p for p in tree.posts if p.id not in seen]
            seen.update(p.id for p in posts)
            hidden += [i for i in dict.fromkeys(tree.hidden) if asked[i] < 2 and f"t1_{i}" not in seen
                       and i not in hidden]
            cont += [c for c in dict.fromkeys(tree.cont) if c not in done and c not in cont]
            yield Batch(posts, {"more": _dump(hidden, cont)}, source_url=source)
        yield Batch([], {"more": None})


def _things(body: Any) -> list:
    block = body.get("json") if isinstance(body, dict) else None
    if not isinstance(block, dict):
        raise BadResponse("Reddit answered /api/morechildren without its `json` block")
    errors = block.get("errors")
    if errors:
        raise BadResponse(f"Reddit refused /api/morechildren: {str(errors)[:120]}")
    things = (block.get("data") or {}).get("things")
    if not isinstance(things, list):
        raise BadResponse("Reddit answered /api/morechildren without `things`")
    return things


def _dump(hidden: list[str], cont: list[str]) -> str:
    return json.dumps({"hidden": hidden, "continue": cont})


def _load(value: str | None) -> tuple[list[str], list[str]] | None:
    """The checkpoint: ids still hidden and parents still to continue; None for a fresh start or one
    that finished (an empty checkpoint is a run that stopped after its first page with nothing hidden)."""
    if not value:
        return None
    try:
        data = json.loads(value)
        hidden = [i for i in data.get("hidden", []) if isinstance(i, str) and re.fullmatch(r"[a-z0-9]{1,13}", i)]
        cont = [c for c in data.get("continue", []) if isinstance(c, str) and FULLNAME_RE.fullmatch(c)]
    except (ValueError, AttributeError, TypeError):
        return None
    return (hidden, cont) if hidden or cont else None


Source = RedditSource
