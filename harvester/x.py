"""X / Twitter through the X API v2, on the shared JSON client (replies.net.http.JsonClient) as every other
platform: one deadline per answer, no redirect to another host, no answer over 64 MB, the environment's proxy,
and the retry policy's waits on X's rate-limit headers (`x-rate-limit-reset`, an epoch).

The root comes from GET /2/tweets/:id, replies from conversation search (/2/tweets/search/recent, or /all
with the full archive) and quotes from /2/tweets/:id/quote_tweets, each page followed by its `next_token`.
X's errors are problem documents (`title`, `detail`, `type`), or `errors` beside partial data.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from replies.db.times import parse_iso
from replies.net.events import Events

from .errors import AuthMissing, AuthRejected, BadResponse, HarvestError, ThreadNotFound
from .record import QUOTE, REPLY, ROOT, Post, post_id, tolerant_each
from .settings import Settings
from .source import Batch, CursorReader

if TYPE_CHECKING:
    from replies.net.retry import RetryPolicy

PLATFORM = "x"
TWEET_FIELDS = [
    "author_id", "conversation_id", "created_at", "in_reply_to_user_id", "referenced_tweets",
    "public_metrics", "lang", "entities", "note_tweet",
]
USER_FIELDS = ["username", "name", "created_at", "verified"]
EXPANSIONS = ["author_id", "referenced_tweets.id", "in_reply_to_user_id"]
RECENT_DAYS = 7

TCO_RE = re.compile(r"https?://t\.co/[A-Za-z0-9]{1,40}")
LINK_RE = re.compile(r"https?://[^\s<>\"]{1,2000}")




def normalise_tweet(tweet: dict, users: dict[str, dict], *, kind: str = REPLY, parent_id: str | None = None) -> Post:
    """A v2 tweet object (with its author from `includes.users`) as a Post."""
    refs = {r.get("type"): r.get("id") for r in tweet.get("referenced_tweets") or []}
    if parent_id is None:
        if "replied_to" in refs:
            parent_id = refs["replied_to"]
        elif "quoted" in refs:
            kind, parent_id = QUOTE, refs["quoted"]
    quoted = refs.get("quoted") or (parent_id if kind == QUOTE else None)
    author = users.get(str(tweet.get("author_id"))) or {}
    metrics = tweet.get("public_metrics") or {}
    note = tweet.get("note_tweet") or {}
    long_text = note.get("text")
    # The API escapes &, < and > in post text; store what the author wrote, with the addresses it links to
    # rather than t.co's (the raw JSON keeps the t.co form).
    text = html.unescape(long_text or tweet.get("text") or "")
    text = expand_links(text, (note if long_text else tweet).get("entities"))
    handle = author.get("username")
    return Post(
        platform=PLATFORM, id=post_id(tweet["id"]), kind=kind, parent_id=parent_id,
        author_id=str(tweet["author_id"]) if tweet.get("author_id") else None,
        author_handle=handle, text=text, created_at=tweet.get("created_at"),
        url=f"https://x.com/{handle or 'i/web'}/status/{tweet['id']}", lang=tweet.get("lang"),
        like_count=metrics.get("like_count"), repost_count=metrics.get("retweet_count"),
        reply_count=metrics.get("reply_count"), quote_count=metrics.get("quote_count"),
        edit_history=tweet.get("edit_history_tweet_ids"), quote_of=post_id(quoted) if quoted else None, raw=tweet,
    )


def expand_links(text: str, entities) -> str:
    """`text` with each t.co link replaced by the address `entities.urls` says it stands for."""
    urls = entities.get("urls") if isinstance(entities, dict) else None
    for entry in urls if isinstance(urls, list) else ():
        short = entry.get("url") if isinstance(entry, dict) else None
        full = entry.get("expanded_url") if isinstance(entry, dict) else None
        if isinstance(short, str) and TCO_RE.fullmatch(short) and isinstance(full, str) \
                and LINK_RE.fullmatch(full):
            text = re.sub(re.escape(short) + r"(?![A-Za-z0-9])", lambda _: full, text)
    return text


def is_retweet(tweet: dict) -> bool:
    """A repost, which X's quote endpoint lists among quotes unless told `exclude=retweets`: by its
    `referenced_tweets`, or, in an answer without them, by the "RT @" that starts a retweet's text."""
    refs = tweet.get("referenced_tweets")
    if isinstance(refs, list) and refs:
        return any(isinstance(r, dict) and r.get("type") == "retweeted" for r in refs)
    return str(tweet.get("text", "")).startswith("RT @")


def _users(page: dict) -> dict[str, dict]:
    return {str(u["id"]): u for u in (page.get("includes") or {}).get("users") or [] if "id" in u}


def _problem(page: dict) -> str:
    errors = page.get("errors") or []
    return errors[0].get("detail") or errors[0].get("title") or "unknown error" if errors else "no data"


def _messages(body) -> str:
    """What an X error answer says: its problem document's detail or title, or its `errors`' messages."""
    if not isinstance(body, dict):
        return str(body)[:200]
    said = [str(e.get("message") or e.get("detail") or "") for e in body.get("errors") or [] if isinstance(e, dict)]
    said += [str(body[key]) for key in ("detail", "title") if body.get(key)][:1]
    return "; ".join(m for m in said if m)[:300]


def _params(**params) -> dict:
    """X's query parameters as the API names them: tweet_fields -> tweet.fields, lists joined by commas."""
    return {key.replace("_fields", ".fields"): ",".join(value) if isinstance(value, list) else value
            for key, value in params.items()}


class XSource:
    platform = PLATFORM

    def __init__(self, tweet_id: str, settings: Settings, retry: RetryPolicy, events: Events, *,
                 full_archive: bool = False):
        if not settings.x_bearer_token:
            raise AuthMissing("X needs an API bearer token: set X_BEARER_TOKEN")
        self.tweet_id = tweet_id
        self.events = events
        self.full_archive = full_archive
        from replies.net.http import JsonClient, epoch_reset

        self.client = JsonClient(settings.x_api_base, retry, timeout=settings.http_timeout,
                                 token=settings.x_bearer_token, label="X",
                                 reset_parser=epoch_reset("x-rate-limit-reset"))

    @property
    def requests(self) -> int:
        return self.client.requests

    def close(self) -> None:
        self.client.close()

    def _call(self, what: str, path: str, **params) -> dict:
        """GET `path` and return its JSON object; HTTPStatusError for an answer of 400 and above but 401 (the
        token refused: AuthRejected) and 429 (waited for, by the retry policy)."""
        from replies.net.errors import HTTPStatusError

        try:
            page, _ = self.client.get(path, _params(**params), what=f"X {what}")
        except HTTPStatusError as exc:
            if exc.status == 401:
                raise AuthRejected("X rejected the bearer token (401): check X_BEARER_TOKEN") from None
            raise
        if not isinstance(page, dict):
            raise BadResponse(f"X answered {what} with something other than a JSON object")
        return page

    def fetch_root(self) -> Post:
        post = self._get_root(self.tweet_id)
        versions = post.raw.get("edit_history_tweet_ids")
        if isinstance(versions, list) and versions and str(versions[-1]) != post.id:
            latest = post_id(versions[-1])
            self.events.warn(f"X post {post.id} was edited; harvesting its latest version, {latest}, whose "
                             "conversation holds the replies")
            post = self._get_root(latest)
        conversation = post.raw.get("conversation_id")
        if conversation and str(conversation) != post.id:
            self.events.warn(f"X post {post.id} is a reply; harvesting its whole conversation, "
                             f"which starts at {conversation}")
            post = self._get_root(str(conversation))
        if not self.full_archive and post.created_at:
            age = datetime.now(timezone.utc) - parse_iso(post.created_at)
            if age > timedelta(days=RECENT_DAYS):
                self.events.warn(
                    f"X recent search reaches back only {RECENT_DAYS} days: replies posted before "
                    f"{(datetime.now(timezone.utc) - timedelta(days=RECENT_DAYS)):%Y-%m-%d %H:%M} UTC are out of "
                    "its reach; use --full-archive if your access level allows it")
        return post

    def _get_root(self, tweet_id: str) -> Post:
        from replies.net.errors import HTTPStatusError

        try:
            page = self._call("get_tweet", f"/2/tweets/{tweet_id}", expansions=["author_id"],
                              tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS)
        except HTTPStatusError as exc:
            if exc.status == 404:
                raise ThreadNotFound(f"X post {tweet_id} does not exist or was deleted") from None
            if exc.status == 403:
                raise ThreadNotFound(f"X post {tweet_id} is not visible to this token (protected or withheld)") \
                    from None
            raise HarvestError(f"X refused get_tweet for {tweet_id}: HTTP {exc.status} {_messages(exc.body)}") \
                from None
        data = page.get("data")
        if not isinstance(data, dict) or "id" not in data:
            problem = (page.get("errors") or [{}])[0].get("type", "")
            if problem.endswith("/resource-not-found"):
                raise ThreadNotFound(f"X post {tweet_id} does not exist or was deleted")
            if problem.endswith("/not-authorized-for-resource"):
                raise ThreadNotFound(f"X post {tweet_id} is protected: this token is not authorized to see it")
            raise ThreadNotFound(f"X post {tweet_id} cannot be read: {_problem(page)}")
        return normalise_tweet(data, _users(page), kind=ROOT)

    def batches(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        yield from self._replies(root, cursor)
        yield from self._quotes(root, cursor)

    def _replies(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        from replies.net.errors import HTTPStatusError

        search = "/2/tweets/search/" + ("all" if self.full_archive else "recent")
        token = cursor("search.next_token")
        if token:  # carry on an interrupted pass with the since_id it started with
            since, newest = cursor("search.pass_since"), cursor("search.pass_newest")
        else:
            since, newest = cursor("search.since_id"), None
            if since is None and self._searchable(root):
                since = root.id  # every reply is newer than its root: this keeps the root off the pages
        while True:
            params = dict(max_results=100, expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS,
                          user_fields=USER_FIELDS)
            if since:
                params["since_id"] = since
            if token:
                params["next_token"] = token
            try:
                page = self._call("search", search, query=f"conversation_id:{root.id}", **params)
            except HTTPStatusError as exc:
                said = _messages(exc.body)
                if exc.status == 400 and since and "since_id" in said:
                    # The last harvest is older than search can reach: everything found is newer.
                    since = None
                    continue
                if exc.status == 403:
                    raise HarvestError(f"X search is not available to this token: {said}") from None
                raise HarvestError(f"X search refused: HTTP {exc.status} {said}") from None
            meta = page.get("meta")
            if not isinstance(meta, dict):
                raise BadResponse("X search answered without its `meta` object")
            if newest is None:
                newest = meta.get("newest_id") or since
            posts = self._conversation_posts(page, root.id)
            token = meta.get("next_token")
            if token:
                cursors = {"search.next_token": token, "search.pass_since": since, "search.pass_newest": newest}
            else:
                cursors = {"search.next_token": None, "search.pass_since": None, "search.pass_newest": None,
                           "search.since_id": newest}
            yield Batch(posts, cursors, source_url=search)
            if not token:
                return

    def _searchable(self, root: Post) -> bool:
        """Whether search accepts the root's id as since_id (recent search: only within 7 days)."""
        if self.full_archive:
            return True
        if not root.created_at:
            return False
        return datetime.now(timezone.utc) - parse_iso(root.created_at) < timedelta(days=RECENT_DAYS, hours=-1)

    def _conversation_posts(self, page: dict, root_id: str) -> list[Post]:
        users = _users(page)
        found = [t for t in page.get("data") or [] if isinstance(t, dict) and str(t.get("id")) != root_id]
        # Referenced tweets in the same conversation fill gaps the search index left.
        found += [t for t in (page.get("includes") or {}).get("tweets") or [] if isinstance(t, dict)
                  and str(t.get("conversation_id")) == root_id and str(t.get("id")) != root_id]
        return tolerant_each(lambda t: normalise_tweet(t, users), found, platform=PLATFORM, id_key="id")

    def _quotes(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        from replies.net.errors import HTTPStatusError

        token = cursor("quotes.next_token")
        retweets = 0
        while True:
            params = dict(max_results=100, expansions=["author_id"], tweet_fields=TWEET_FIELDS,
                          user_fields=USER_FIELDS, exclude=["retweets"])
            if token:
                params["pagination_token"] = token
            try:
                page = self._call("quote_tweets", f"/2/tweets/{root.id}/quote_tweets", **params)
            except HTTPStatusError as exc:
                if exc.status != 403:
                    raise HarvestError(f"X refused quote_tweets for {root.id}: HTTP {exc.status} "
                                       f"{_messages(exc.body)}") from None
                detail = _messages(exc.body) or "403 Forbidden"
                self.events.warn(f"X refused the quote-posts endpoint ({detail[:120]}); replies were "
                                 "harvested, quote posts were not")
                return
            users = _users(page)
            listed = page.get("data") or []
            items = [t for t in listed if not (isinstance(t, dict) and is_retweet(t))]
            retweets += len(listed) - len(items)
            posts = tolerant_each(lambda t: _quote(t, users, root.id), items, platform=PLATFORM, id_key="id",
                                  parent_id=root.id)
            token = (page.get("meta") or {}).get("next_token")
            yield Batch(posts, {"quotes.next_token": token}, source_url=f"/2/tweets/{root.id}/quote_tweets")
            if not token:
                if retweets:
                    self.events.warn(f"X listed {retweets} retweets among the quote posts of {root.id} although "
                                     "asked to exclude them; they repeat the question and were not stored")
                return


def _quote(tweet: dict, users: dict[str, dict], root_id: str) -> Post:
    """An item of the quote endpoint: a quote of the root, or, when its `referenced_tweets` say it replies
    to a post of the thread as well, that reply (its quote of the root stays in the raw JSON)."""
    refs = {r.get("type"): r.get("id") for r in tweet.get("referenced_tweets") or [] if isinstance(r, dict)}
    if "replied_to" in refs and str(tweet.get("conversation_id")) == root_id:
        return normalise_tweet(tweet, users, kind=REPLY, parent_id=post_id(refs["replied_to"]))
    return normalise_tweet(tweet, users, kind=QUOTE, parent_id=root_id)


Source = XSource
