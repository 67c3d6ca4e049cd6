"""YouTube Data API v3: videos.list, commentThreads.list, comments.list, with API keys and a daily quota.

Written from the API reference (developers.google.com/youtube/v3/docs): a comment thread carries its
top-level comment and, in `replies`, only some of its replies (at most 5 here); `totalReplyCount` says how
many there are, and comments.list?parentId= pages through all of them. Every list call costs 1 unit;
when the key's quota is spent the answer is 403 `quotaExceeded`. Statistics are strings, as YouTube sends.
"""

from __future__ import annotations

import base64
import html

from .reply import Reply
from .world import Post

INLINE_REPLIES = 5


def _one(query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _error(code: int, reason: str, message: str, domain: str = "youtube.api") -> Reply:
    return Reply(code, {"error": {"code": code, "message": message,
                                  "errors": [{"message": message, "domain": domain, "reason": reason}]}})


def _ts(post: Post) -> str:
    return post.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text[2:]) if text.startswith("o:") else None
    except ValueError:
        return None



def serves(path: str) -> bool:
    return path.startswith("/youtube/v3/")


def rate_limited(reset_in: float) -> Reply:
    """YouTube's answer to too many requests (no reset given: its quota resets at midnight Pacific)."""
    return Reply(429, {"error": {"code": 429, "message": "Too many requests.", "errors": [
        {"message": "Too many requests.", "domain": "usageLimits", "reason": "rateLimitExceeded"}]}})


def handle(emulator, path: str, query, headers) -> Reply:
    key = _one(query, "key") or headers.get("X-Goog-Api-Key")
    if not key:
        return _error(403, "forbidden", "The request is missing a valid API key.", "global")
    if key not in emulator.youtube_keys:
        return _error(400, "keyInvalid", "API key not valid. Please pass a valid API key.", "global")
    if emulator.youtube_spent >= emulator.youtube_quota:
        return _error(403, "quotaExceeded", "The request cannot be completed because you have exceeded your "
                      "<a href=\"/youtube/v3/getting-started#quota\">quota</a>.", "youtube.quota")
    emulator.youtube_spent += 1
    resource = path[len("/youtube/v3/"):]
    if resource == "videos":
        return _videos(emulator, query)
    if resource == "commentThreads":
        return _threads(emulator, query)
    if resource == "comments":
        return _comments(emulator, query)
    return _error(404, "notFound", "Not Found", "global")


def _max_results(query, default: int = 20) -> int | None:
    raw = _one(query, "maxResults")
    if raw is None:
        return default
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 100 else None


def _videos(emulator, query) -> Reply:
    video = emulator.world.get("youtube", _one(query, "id") or "")
    items = []
    if video and video.parent is None and video.state == "ok":
        title, _, description = video.text.partition("\n\n")
        comments = [p for p in emulator.world.thread("youtube", video.id) if p.state == "ok"]
        items.append({"kind": "youtube#video", "etag": "e", "id": video.id,
                      "snippet": {"publishedAt": _ts(video), "channelId": f"UC{video.author.id}",
                                  "title": title, "description": description, "channelTitle": video.author.name},
                      "statistics": {"viewCount": str(video.likes * 40), "likeCount": str(video.likes),
                                     "favoriteCount": "0", "commentCount": str(len(comments))}})
    return Reply(200, {"kind": "youtube#videoListResponse", "etag": "e", "items": items,
                       "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}})


def _comment(post: Post, video: Post, plain: bool) -> dict:
    snippet = {
        "channelId": f"UC{video.author.id}", "videoId": video.id,
        "textDisplay": post.text if plain else html.escape(post.text).replace("\n", "<br>"),
        "textOriginal": post.text, "authorDisplayName": f"@{post.author.handle}",
        "authorProfileImageUrl": "https://yt3.ggpht.com/a/default-user=s48-c-k-c0x00ffffff-no-rj",
        "authorChannelUrl": f"http://www.youtube.com/@{post.author.handle}",
        "authorChannelId": {"value": f"UC{post.author.id}"}, "canRate": True, "viewerRating": "none",
        "likeCount": post.likes, "publishedAt": _ts(post), "updatedAt": _ts(post),
    }
    if post.parent != video.id:
        snippet["parentId"] = post.parent
    return {"kind": "youtube#comment", "etag": "e", "id": post.id, "snippet": snippet}


def _visible_replies(world, post_id: str) -> list[Post]:
    return sorted((p for p in world.replies_to("youtube", post_id) if p.state == "ok"), key=lambda p: p.created_at)


def _threads(emulator, query) -> Reply:
    world = emulator.world
    video = world.get("youtube", _one(query, "videoId") or "")
    size, start = _max_results(query), _offset(_one(query, "pageToken"))
    if size is None:
        return _error(400, "invalidParameter", "maxResults must be between 1 and 100")
    if start is None:
        return _error(400, "invalidPageToken", "The request specifies an invalid page token.")
    if video is None or video.parent is not None:
        return _error(404, "videoNotFound", "The video identified by the videoId parameter could not be found.")
    if "comments_disabled" in video.labels:
        return _error(403, "commentsDisabled", "The video identified by the videoId parameter has disabled "
                      "comments.")
    plain = _one(query, "textFormat") == "plainText"
    tops = sorted((p for p in world.replies_to("youtube", video.id) if p.state == "ok"),
                  key=lambda p: p.created_at, reverse=True)  # order=time: newest first
    items = []
    for top in tops[start:start + size]:
        replies = _visible_replies(world, top.id)
        item = {"kind": "youtube#commentThread", "etag": "e", "id": top.id,
                "snippet": {"channelId": f"UC{video.author.id}", "videoId": video.id,
                            "topLevelComment": _comment(top, video, plain), "canReply": True,
                            "totalReplyCount": len(replies), "isPublic": True}}
        if replies and "replies" in (_one(query, "part") or ""):
            item["replies"] = {"comments": [_comment(r, video, plain) for r in replies[:INLINE_REPLIES]]}
        items.append(item)
    body = {"kind": "youtube#commentThreadListResponse", "etag": "e", "items": items,
            "pageInfo": {"totalResults": len(items), "resultsPerPage": size}}
    if start + size < len(tops):
        body["nextPageToken"] = _page_token(start + size)
    return Reply(200, body)


def _comments(emulator, query) -> Reply:
    world = emulator.world
    parent = world.get("youtube", _one(query, "parentId") or "")
    size, start = _max_results(query), _offset(_one(query, "pageToken"))
    if size is None or start is None:
        return _error(400, "invalidParameter", "maxResults or pageToken is not valid")
    if parent is None or parent.parent is None:
        return _error(404, "commentNotFound", "One or more of the comments identified by the parentId parameter "
                      "could not be found.")
    video = world.posts["youtube"][parent.root]
    replies = _visible_replies(world, parent.id)
    plain = _one(query, "textFormat") == "plainText"
    body = {"kind": "youtube#commentListResponse", "etag": "e",
            "items": [_comment(r, video, plain) for r in replies[start:start + size]],
            "pageInfo": {"resultsPerPage": size}}
    if start + size < len(replies):
        body["nextPageToken"] = _page_token(start + size)
    return Reply(200, body)
