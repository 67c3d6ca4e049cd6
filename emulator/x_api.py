"""X API v2: GET /2/tweets/:id, /2/tweets/search/recent|all, /2/tweets/:id/quote_tweets."""

from __future__ import annotations

import base64
import html
import re
import time
from datetime import timedelta

from .reply import Reply
from .world import X_EPOCH_MS, Post

DEFAULT_FIELDS = ("id", "text", "edit_history_tweet_ids")
PROBLEMS = "https://api.twitter.com/2/problems/"
TEXT_LIMIT = 280


def _error(status: int, title: str, detail: str, kind: str = "about:blank", **extra):
    return Reply(status, {"title": title, "detail": detail, "type": kind, "status": status, **extra})


def _invalid(message: str, **params):
    return Reply(400, {"errors": [{"parameters": {k: [str(v)] for k, v in params.items()}, "message": message}],
                       "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                       "type": PROBLEMS + "invalid-request"})


def _ts(post: Post) -> str:
    return post.created_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{post.created_at.microsecond // 1000:03d}Z"


def _id_time_ms(tweet_id: str) -> int:
    return (int(tweet_id) >> 22) + X_EPOCH_MS


def render(emulator, post: Post, fields: set[str]) -> dict:
    world = emulator.world
    text = post.text
    tweet = {"id": post.id, "edit_history_tweet_ids": [post.id]}
    if len(text) > TEXT_LIMIT:
        tweet["text"] = html.escape(text[: TEXT_LIMIT - 1], quote=False) + "…"
        if "note_tweet" in fields:
            tweet["note_tweet"] = {"text": html.escape(text, quote=False)}
    else:
        tweet["text"] = html.escape(text, quote=False)
    optional = {
        "author_id": post.author.id,
        "conversation_id": post.root,
        "created_at": _ts(post),
        "lang": post.lang,
        "public_metrics": {
            "retweet_count": post.reposts, "reply_count": len([p for p in world.replies_to("x", post.id)
                                                                if p.state == "ok"]),
            "like_count": post.likes, "quote_count": len(world.quotes_of("x", post.id)),
            "bookmark_count": 0, "impression_count": post.likes * 40,
        },
    }
    refs = []
    if post.parent:
        refs.append({"type": "replied_to", "id": post.parent})
        optional["in_reply_to_user_id"] = world.posts["x"][post.parent].author.id
    if post.quote_of:
        refs.append({"type": "quoted", "id": post.quote_of})
    if refs:
        optional["referenced_tweets"] = refs
    for name, value in optional.items():
        if name in fields:
            tweet[name] = value
    return tweet


def _user(user, fields: set[str]) -> dict:
    out = {"id": user.id, "name": user.name, "username": user.handle}
    if "created_at" in fields:
        out["created_at"] = "2015-03-01T09:00:00.000Z"
    if "verified" in fields:
        out["verified"] = False
    return out


def _page(emulator, tweets: list[Post], query) -> dict:
    fields = set(_list(query, "tweet.fields"))
    expansions = set(_list(query, "expansions"))
    user_fields = set(_list(query, "user.fields"))
    page: dict = {"data": [render(emulator, t, fields) for t in tweets]}
    includes: dict = {}
    users = {}
    if "author_id" in expansions:
        for t in tweets:
            users[t.author.id] = t.author
    if "in_reply_to_user_id" in expansions:
        for t in tweets:
            if t.parent:
                parent = emulator.world.posts["x"][t.parent]
                users[parent.author.id] = parent.author
    if users:
        includes["users"] = [_user(u, user_fields) for u in users.values()]
    errors = []
    if "referenced_tweets.id" in expansions:
        refs, seen = [], set()
        for t in tweets:
            for ref_id in filter(None, (t.parent, t.quote_of)):
                if ref_id in seen:
                    continue
                seen.add(ref_id)
                ref = emulator.world.get("x", ref_id)
                if ref is None or ref.state == "deleted":
                    errors.append({"value": ref_id, "detail": f"Could not find tweet with referenced_tweets.id: [{ref_id}].",
                                   "title": "Not Found Error", "resource_type": "tweet",
                                   "parameter": "referenced_tweets.id", "resource_id": ref_id,
                                   "type": PROBLEMS + "resource-not-found"})
                elif ref.state == "protected":
                    errors.append({"value": ref_id, "detail": "Sorry, you are not authorized to see the Tweet with "
                                   f"referenced_tweets.id: [{ref_id}].", "title": "Authorization Error",
                                   "resource_type": "tweet", "parameter": "referenced_tweets.id",
                                   "resource_id": ref_id, "section": "includes",
                                   "type": PROBLEMS + "not-authorized-for-resource"})
                else:
                    refs.append(render(emulator, ref, fields))
        if refs:
            includes["tweets"] = refs
    if includes:
        page["includes"] = includes
    if errors:
        page["errors"] = errors
    return page


def _list(query, name: str) -> list[str]:
    values = query.get(name) or []
    return [item for value in values for item in value.split(",") if item]


def _one(query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _token(position: str) -> str:
    return base64.b32encode(position.encode()).decode().rstrip("=").lower()


def _untoken(token: str) -> str | None:
    try:
        return base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
    except Exception:
        return None



def serves(path: str) -> bool:
    return path.startswith("/2/")


def rate_limited(reset_in: float) -> Reply:
    """X's answer past a rate limit: the window's reset as an epoch in x-rate-limit-reset."""
    reset = int(time.time() + reset_in)
    return Reply(429, {"title": "Too Many Requests", "type": "about:blank", "status": 429,
                       "detail": "Too Many Requests"},
                 {"x-rate-limit-limit": 450, "x-rate-limit-remaining": 0, "x-rate-limit-reset": reset})


def handle(emulator, path: str, query, headers):
    auth = headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or auth[7:] not in emulator.x_tokens:
        return _error(401, "Unauthorized", "Unauthorized")
    if m := re.fullmatch(r"/2/tweets/search/(recent|all)", path):
        endpoint = f"x:search_{m.group(1)}"
        handler = lambda: _search(emulator, m.group(1), query)
    elif m := re.fullmatch(r"/2/tweets/(\d{1,19})/quote_tweets", path):
        endpoint = "x:quote_tweets"
        handler = lambda: _quotes(emulator, m.group(1), query)
    elif m := re.fullmatch(r"/2/tweets/(\d{1,19})", path):
        endpoint = "x:tweet"
        handler = lambda: _tweet(emulator, m.group(1), query)
    else:
        return _error(404, "Not Found Error", f"Unknown route {path}")
    allowed, limit, remaining, reset = emulator.rate_headers(endpoint)
    rate = {"x-rate-limit-limit": limit, "x-rate-limit-remaining": remaining, "x-rate-limit-reset": int(reset)}
    if not allowed:
        reply = _error(429, "Too Many Requests", "Too Many Requests")
    else:
        reply = handler()
    reply.headers.update(rate)
    return reply


def _tweet(emulator, tweet_id: str, query):
    post = emulator.world.get("x", tweet_id)
    if post is None or post.state == "deleted":
        if emulator.x_deleted_as_404:
            return _error(404, "Not Found Error", f"Could not find tweet with id: [{tweet_id}].",
                          PROBLEMS + "resource-not-found")
        return Reply(200, {"errors": [{"value": tweet_id, "detail": f"Could not find tweet with id: [{tweet_id}].",
                                       "title": "Not Found Error", "resource_type": "tweet", "parameter": "id",
                                       "resource_id": tweet_id, "type": PROBLEMS + "resource-not-found"}]})
    if post.state == "protected":
        return Reply(200, {"errors": [{"value": tweet_id, "detail": "Sorry, you are not authorized to see the "
                                       f"Tweet with id: [{tweet_id}].", "title": "Authorization Error",
                                       "resource_type": "tweet", "parameter": "id", "resource_id": tweet_id,
                                       "type": PROBLEMS + "not-authorized-for-resource"}]})
    page = _page(emulator, [post], query)
    page["data"] = page["data"][0]
    return Reply(200, page)


def _page_size(query, low: int, high: int):
    raw = _one(query, "max_results") or "10"
    if not raw.isdigit() or not low <= int(raw) <= high:
        return None, _invalid(f"The `max_results` query parameter value [{raw}] is not between {low} and {high}",
                              max_results=raw)
    return int(raw), None


def _search(emulator, scope: str, query):
    world = emulator.world
    q = _one(query, "query") or ""
    m = re.search(r"conversation_id:(\d{1,19})", q)
    if not m:
        return _invalid("this emulator answers only conversation_id: queries", query=q)
    size, problem = _page_size(query, 10, 100 if scope == "recent" else 500)
    if problem:
        return problem
    for a, b in (("since_id", "start_time"), ("until_id", "end_time"), ("next_token", "pagination_token")):
        if _one(query, a) and _one(query, b):
            return _invalid(f"The query parameters [{a}, {b}] are mutually exclusive", **{a: _one(query, a)})
    now = world.now()
    floor_ms = int((now - timedelta(days=7)).timestamp() * 1000) if scope == "recent" else 0
    since = _one(query, "since_id")
    if since:
        if not since.isdigit():
            return _invalid(f"The `since_id` query parameter value [{since}] is not valid", since_id=since)
        if scope == "recent" and _id_time_ms(since) < floor_ms:
            return _invalid(f"Invalid 'since_id':'{since}'. 'since_id' must be a tweet id created after "
                            f"{(now - timedelta(days=7)):%Y-%m-%dT%H:%MZ}.", since_id=since)
    until = _one(query, "until_id")
    token = _one(query, "next_token") or _one(query, "pagination_token")
    below = None
    if token:
        below = _untoken(token)
        if not below or not below.isdigit():
            return _invalid(f"The `next_token` query parameter value [{token}] is not valid", next_token=token)
    conv = m.group(1)
    matches = [p for p in world.posts["x"].values()
               if p.root == conv and world.visible(p) and p.state == "ok"
               and int(p.created_at.timestamp() * 1000) >= floor_ms
               and (not since or int(p.id) > int(since)) and (not until or int(p.id) < int(until))
               and (below is None or int(p.id) < int(below))]
    matches.sort(key=lambda p: int(p.id), reverse=True)
    chunk, more = matches[:size], len(matches) > size
    if not chunk:
        return Reply(200, {"meta": {"result_count": 0}})
    page = _page(emulator, chunk, query)
    meta = {"newest_id": chunk[0].id, "oldest_id": chunk[-1].id, "result_count": len(chunk)}
    if more:
        meta["next_token"] = _token(chunk[-1].id)
    page["meta"] = meta
    return Reply(200, page)


def _quotes(emulator, tweet_id: str, query):
    if emulator.x_quotes_forbidden:
        return Reply(403, {"client_id": "123", "detail": "When authenticating requests to the Twitter API v2 "
                           "endpoints, you must use keys and tokens from a Twitter developer App that is attached to "
                           "a Project. You can create a project via the developer portal.",
                           "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
                           "title": "Client Forbidden", "required_enrollment": "Appropriate Level of API Access",
                           "reason": "client-not-enrolled", "type": PROBLEMS + "client-forbidden"})
    size, problem = _page_size(query, 10, 100)
    if problem:
        return problem
    token = _one(query, "pagination_token")
    below = _untoken(token) if token else None
    quotes = sorted(emulator.world.quotes_of("x", tweet_id), key=lambda p: int(p.id), reverse=True)
    if below:
        quotes = [q for q in quotes if int(q.id) < int(below)]
    chunk = quotes[:size]
    if not chunk:
        return Reply(200, {"meta": {"result_count": 0}})
    page = _page(emulator, chunk, query)
    page["meta"] = {"result_count": len(chunk)}
    if len(quotes) > size:
        page["meta"]["next_token"] = _token(chunk[-1].id)
    return Reply(200, page)
