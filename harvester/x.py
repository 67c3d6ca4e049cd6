"""X / Twitter through tweepy's API v2 Client.

The root comes from `get_tweet`, replies from conversation search (recent or
full archive) and quotes from `get_quote_tweets`. tweepy hard-codes its host,
so a transport adapter mounted on the client's own requests session
(`x_transport.py`) sends the requests to REPLIES_X_API_BASE instead, counts
them, and sends them through the project's own HTTP layer (replies.net.http):
one deadline per answer, headers included, no redirect to another host, no
answer over 64 MB.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from replies import lazy
from replies.db.times import parse_iso
from replies.net.events import Events

from .errors import AuthMissing, AuthRejected, BadResponse, HarvestError, ThreadNotFound
from .record import QUOTE, REPLY, ROOT, Post, post_id, tolerant_each
from .settings import Settings
from .source import Batch, CursorReader

if TYPE_CHECKING:
    from replies.net.retry import RetryPolicy

# loaded when an X harvest starts: reading X's settings (every command does) costs nothing
tweepy = lazy.module("tweepy")
requests = lazy.module("requests")

PLATFORM = "x"
TWEEPY_HOST = "https://api.twitter.com"
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


class XSource:
    platform = PLATFORM

    def __init__(self, tweet_id: str, settings: Settings, retry: RetryPolicy, events: Events, *,
                 full_archive: bool = False):
        if not settings.x_bearer_token:
            raise AuthMissing("X needs an API bearer token: set X_BEARER_TOKEN")
        self.tweet_id = tweet_id
        self.retry = retry
        self.events = events
        self.full_archive = full_archive
        self._count = [0]
        from .x_transport import Rebase

        self.client = tweepy.Client(bearer_token=settings.x_bearer_token, return_type=requests.Response)
        self.client.session.mount(TWEEPY_HOST, Rebase(TWEEPY_HOST, settings.x_api_base, settings.http_timeout,
                                                      self._count))

    @property
    def requests(self) -> int:
        return self._count[0]

    def close(self) -> None:
        self.client.session.close()

    def _call(self, what: str, method, *args, **params) -> dict:
        from replies.net.retry import RateLimitHit, Transient

        def attempt() -> dict:
            try:
                response = method(*args, **params)
            except tweepy.TooManyRequests as exc:
                raise RateLimitHit("429 Too Many Requests", exc.reset_time) from None
            except tweepy.TwitterServerError as exc:
                raise Transient(f"HTTP {exc.response.status_code}") from None
            except tweepy.Unauthorized:
                raise AuthRejected("X rejected the bearer token (401): check X_BEARER_TOKEN") from None
            except requests.Timeout as exc:
                raise Transient(str(exc) or "timed out") from None
            except requests.ConnectionError as exc:
                raise Transient(type(exc).__name__) from None
            except requests.exceptions.ChunkedEncodingError:
                raise Transient("connection broken mid-answer") from None
            try:
                page = response.json()
            except ValueError:
                raise Transient("answer was not JSON", bad_body=True) from None
            if not isinstance(page, dict):
                raise Transient("answer was not a JSON object", bad_body=True)
            return page

        return self.retry.call(attempt, f"X {what}")

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
        try:
            page = self._call("get_tweet", self.client.get_tweet, tweet_id, expansions=["author_id"],
                              tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS)
        except tweepy.NotFound:
            raise ThreadNotFound(f"X post {tweet_id} does not exist or was deleted") from None
        except tweepy.Forbidden:
            raise ThreadNotFound(f"X post {tweet_id} is not visible to this token (protected or withheld)") from None
        except tweepy.HTTPException as exc:
            raise HarvestError(f"X refused get_tweet for {tweet_id}: {'; '.join(exc.api_messages) or exc}") from None
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
        search = self.client.search_all_tweets if self.full_archive else self.client.search_recent_tweets
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
                page = self._call("search", search, f"conversation_id:{root.id}", **params)
            except tweepy.BadRequest as exc:
                if since and "since_id" in " ".join(exc.api_messages) + str(exc):
                    # The last harvest is older than search can reach: everything found is newer.
                    since = None
                    continue
                raise HarvestError(f"X search refused: {'; '.join(exc.api_messages) or exc}") from None
            except tweepy.Forbidden as exc:
                raise HarvestError(f"X search is not available to this token: {'; '.join(exc.api_messages)}") from None
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
            yield Batch(posts, cursors, source_url="/2/tweets/search/" + ("all" if self.full_archive else "recent"))
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
        token = cursor("quotes.next_token")
        retweets = 0
        while True:
            params = dict(max_results=100, expansions=["author_id"], tweet_fields=TWEET_FIELDS,
                          user_fields=USER_FIELDS, exclude=["retweets"])
            if token:
                params["pagination_token"] = token
            try:
                page = self._call("quote_tweets", self.client.get_quote_tweets, root.id, **params)
            except tweepy.Forbidden as exc:
                detail = "; ".join(exc.api_messages) or "403 Forbidden"
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
