"""Mastodon and compatible servers through the client REST API (httpx).

The instance is the one in the post URL. Logged-out `/context` answers are
capped by Mastodon (60 descendants, depth 20), and servers may return fewer:
wherever a post's own `replies_count` shows more replies than were returned,
that post's context is asked too. A token lifts the cap and unlocks quotes.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from replies.db.times import parse_iso
from replies.errors import RepliesError
from replies.net.errors import HTTPStatusError
from replies.net.events import Events

from .errors import AuthRejected, BadResponse, HarvestError, ThreadNotFound
from .record import QUOTE, REPLY, ROOT, Post, post_id, tolerant, tolerant_each
from .settings import Settings, host_of, in_clear, is_local_url
from .source import Batch, CursorReader

if TYPE_CHECKING:  # the HTTP stack loads when a harvest starts, not when the platform's settings are read
    import httpx

    from replies.net.http import JsonClient
    from replies.net.retry import RetryPolicy

PLATFORM = "mastodon"
LOGGED_OUT_LIMIT = 60  # descendants in one logged-out /context answer
LINK_NEXT_RE = re.compile(r'<([^>]+)>;\s*rel="next"')
# A Mastodon status's ActivityPub id: the server it was posted on, and its status id there.
ORIGIN_RE = re.compile(r"(https?://[A-Za-z0-9.-]+(?::\d+)?)/(?:ap/)?users/[A-Za-z0-9_.-]+/statuses/(\d{1,30})")





def _reset(headers: httpx.Headers) -> float | None:
    value = headers.get("x-ratelimit-reset")
    if not value:
        return None
    try:
        return parse_iso(value).timestamp()  # Mastodon sends ISO 8601, not epoch seconds
    except ValueError:
        return None


def stored_id(instance: str, status_id) -> str:
    """A status id as stored: status ids are only unique on one server, so the id carries the server's
    host, `mastodon.social/113…` (two servers' status 1234 are two posts)."""
    return f"{host_of(instance)}/{status_id}"


def api_id(stored: str) -> str:
    """The status id the server knows, from a stored id."""
    return stored.rsplit("/", 1)[-1]


def origin_of(uri: Any, home: str) -> tuple[str, str] | None:
    """(base URL of the server a status was posted on, its id there) from its `uri`, for --origin; None for
    a uri that is not a Mastodon status address or that --origin must not follow: one on the thread's own
    server, one not on HTTPS, and, unless the thread's server is itself on this machine (an emulator), one
    on this machine or a private network (a reply's uri must not aim requests at local services)."""
    match = ORIGIN_RE.fullmatch(uri) if isinstance(uri, str) else None
    if not match or host_of(match.group(1)) == host_of(home):
        return None
    base = match.group(1)
    if is_local_url(home):
        return (base, match.group(2)) if is_local_url(base) else None
    hostname = urlsplit(base).hostname or ""
    try:
        local = not ipaddress.ip_address(hostname).is_global
    except ValueError:
        local = hostname == "localhost" or hostname.endswith((".localhost", ".local", ".internal"))
    return (base, match.group(2)) if base.startswith("https://") and not local else None


def _unseen(sid: str, replies_count: dict[str, int], children: dict[str, set[str]]) -> int:
    """How many replies post `sid` counts beyond those seen so far."""
    return max(0, replies_count[sid] - len(children.get(sid, ())))


def _uri(status: dict) -> str | None:
    uri = status.get("uri")
    return uri if isinstance(uri, str) else None


def normalise_status(status: dict, instance: str, *, kind: str = REPLY, parent_id: str | None = None) -> Post:
    """A Mastodon Status entity as a Post, with its HTML and a plain-text version; ids are `stored_id`s
    (`parent_id`, when given, already is one)."""
    account = status.get("account") or {}
    acct = account.get("acct") or account.get("username")
    if acct and "@" not in acct:
        acct = f"{acct}@{instance.split('://', 1)[-1]}"
    content = status.get("content")
    quoted = _quoted(status.get("quote"), instance)
    return Post(
        platform=PLATFORM, id=stored_id(instance, post_id(status["id"])), kind=kind,
        parent_id=parent_id if parent_id is not None else (
            stored_id(instance, post_id(status["in_reply_to_id"])) if status.get("in_reply_to_id") else None),
        author_id=str(account["id"]) if account.get("id") is not None else None, author_handle=acct,
        text=_text(content, quoted) if content is not None
        else status.get("text", ""), html=content, spoiler_text=status.get("spoiler_text") or None,
        created_at=status.get("created_at"), url=status.get("url") or status.get("uri"),
        lang=status.get("language"), like_count=status.get("favourites_count"),
        repost_count=status.get("reblogs_count"), reply_count=status.get("replies_count"),
        quote_count=status.get("quotes_count"), quote_of=quoted, edited_at=status.get("edited_at"), raw=status,
    )


def _text(content: str, quoted: str | None) -> str:
    """The plain text of a status. Of a status that quotes another, without Mastodon's "RE: link" line for
    clients unaware of quotes (the quote is kept in `quote_of`), unless that line is all the status says."""
    from .html_text import html_to_text  # BeautifulSoup, loaded with the first status rather than with the settings

    if quoted is None:
        return html_to_text(content)
    return html_to_text(content, drop_quote_fallback=True) or html_to_text(content)


def _quoted(quote: Any, instance: str) -> str | None:
    """The stored id of the post a status quotes, where the quote was accepted (Mastodon 4.5 `quote`:
    the full quoted status, or in a shallow quote only its id); None otherwise."""
    if not isinstance(quote, dict) or quote.get("state") != "accepted":
        return None
    quoted = quote.get("quoted_status")
    raw = quoted.get("id") if isinstance(quoted, dict) else quote.get("quoted_status_id")
    return stored_id(instance, post_id(raw)) if raw is not None else None


def _depths(descendants: list[dict], anchor: str) -> dict[str, int]:
    """Each descendant's depth below `anchor` (self-replies may come first, so walk parents)."""
    parent = {str(s["id"]): str(s.get("in_reply_to_id")) for s in descendants}
    depth: dict[str, int] = {anchor: 0}

    def find(sid: str) -> int:
        chain = []
        while sid not in depth and sid in parent and len(chain) <= len(parent):
            chain.append(sid)
            sid = parent[sid]
        base = depth.get(sid, 0)
        for i, node in enumerate(reversed(chain), start=1):
            depth[node] = base + i
        return depth.get(chain[0], base) if chain else base

    for sid in parent:
        find(sid)
    depth.pop(anchor)
    return depth


class MastodonSource:
    platform = PLATFORM

    def __init__(self, instance: str, status_id: str, settings: Settings, retry: RetryPolicy, events: Events, *,
                 origin: bool = False):  # a server's context has no time limit
        self.instance, self.status_id = instance, status_id
        self.origin = origin  # also ask each reply's own server for what lies below it (--origin)
        self.events = events
        self.settings, self.retry = settings, retry
        self.origins: dict[str, JsonClient] = {}  # other servers asked with --origin, by host
        self.token, withheld = token_for(settings, instance)
        if withheld:
            events.warn(withheld)
        from replies.net.http import JsonClient

        self.client = JsonClient(instance, retry, timeout=settings.http_timeout, token=self.token,
                                 reset_parser=_reset, label=f"Mastodon {instance}")

    @property
    def requests(self) -> int:
        return self.client.requests + sum(c.requests for c in self.origins.values())

    def close(self) -> None:
        self.client.close()
        for client in self.origins.values():
            client.close()

    def _get(self, path: str, params: dict | None = None):
        try:
            return self.client.get(path, params=params)
        except HTTPStatusError as exc:
            if exc.status == 401 and self.token:
                raise AuthRejected(f"{self.instance} rejected MASTODON_ACCESS_TOKEN (401)") from None
            raise

    def fetch_root(self) -> Post:
        try:
            status, _ = self._get(f"/api/v1/statuses/{self.status_id}")
        except HTTPStatusError as exc:
            if exc.status in (404, 410):
                raise ThreadNotFound(f"Mastodon status {self.status_id} on {self.instance} does not exist, "
                                     "was deleted or is not public") from None
            if exc.status in (401, 403):
                raise ThreadNotFound(f"{self.instance} will not show status {self.status_id} to this client "
                                     f"(HTTP {exc.status}); a MASTODON_ACCESS_TOKEN may be needed") from None
            raise HarvestError(f"{self.instance} refused status {self.status_id}: HTTP {exc.status}") from None
        if not isinstance(status, dict) or "id" not in status:
            raise BadResponse(f"{self.instance} answered /api/v1/statuses/{self.status_id} without a status")
        return normalise_status(status, self.instance, kind=ROOT, parent_id=None)

    def _context(self, status_id: str) -> list[dict]:
        try:
            body, _ = self._get(f"/api/v1/statuses/{status_id}/context")
        except HTTPStatusError as exc:
            if exc.status == 404 and status_id != self.status_id:
                return []  # a reply deleted since we saw it
            raise HarvestError(f"{self.instance} refused the context of {status_id}: HTTP {exc.status}") from None
        if not isinstance(body, dict) or not isinstance(body.get("descendants"), list):
            raise BadResponse(f"{self.instance} answered /context without `descendants`")
        return [s for s in body["descendants"] if isinstance(s, dict) and "id" in s]

    def batches(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        """The root's context, then the context of every post whose own `replies_count` shows more replies
        than the answers so far held (a logged-out context stops at 60 descendants and depth 20, and a
        server may cut it shorter), shallowest first, each asked once."""
        known: dict[str, Post] = {}
        children: dict[str, set[str]] = {}
        depth: dict[str, int] = {root.id: 0}
        replies_count = {root.id: root.reply_count or 0}
        asked: set[str] = set()
        queue = [root.id]
        while queue:
            anchor = queue.pop(0)
            asked.add(anchor)
            descendants = self._context(api_id(anchor))
            posts = []
            for status in descendants:
                post = tolerant(lambda st: normalise_status(st, self.instance), status, platform=PLATFORM,
                                id_key="id", to_id=lambda raw: stored_id(self.instance, raw))
                if post is None:
                    continue
                if post.id not in known:
                    known[post.id] = post
                    posts.append(post)
                children.setdefault(post.parent_id or "", set()).add(post.id)
                replies_count[post.id] = post.reply_count or 0
            relative = {stored_id(self.instance, sid): d for sid, d in _depths(descendants, api_id(anchor)).items()}
            for sid, d in relative.items():
                depth[sid] = depth[anchor] + d
            yield Batch(posts, source_url=f"/api/v1/statuses/{api_id(anchor)}/context")
            gaps = {sid for sid in replies_count if _unseen(sid, replies_count, children) and sid not in asked}
            queue = sorted(set(queue) | gaps, key=lambda s: (depth.get(s, 0), s))
        if self.origin:
            yield from self._from_origins(root, known, children, replies_count)
        missing = sum(_unseen(sid, replies_count, children) for sid in replies_count)
        if missing:
            causes = "deleted, private, or on servers this one has not fetched them from"
            if not self.token:
                causes += (f", or past the logged-out cap of {LOGGED_OUT_LIMIT} per request, which "
                           "MASTODON_ACCESS_TOKEN lifts")
            self.events.warn(f"{self.instance}: {missing} replies that the posts' own counts report could not be "
                             f"reached ({causes})")
        if self.token:
            yield from self._quotes(root, cursor)

    def _from_origins(self, root: Post, known: dict[str, Post], children: dict[str, set[str]],
                      replies_count: dict[str, int]) -> Iterator[Batch]:
        """--origin: a server's context holds only the remote replies it has fetched. For each post whose
        count shows replies missing and that was posted on another server, ask that server (its `uri`) for
        the post's context, logged out, and add the replies this server lacks: matched by `uri`, stored as
        `origin-host/id` with `origin` set. Each origin post is asked once; an origin's failure is a warning."""
        posts_by_id = {root.id: root, **known}
        by_uri = {p.raw["uri"]: p.id for p in posts_by_id.values()
                  if isinstance(p.raw, dict) and isinstance(p.raw.get("uri"), str)}
        asked: set[tuple[str, str]] = set()
        failed: list[str] = []
        queue = [sid for sid in replies_count if _unseen(sid, replies_count, children)]
        while queue:
            sid = queue.pop(0)
            post = posts_by_id.get(sid)
            ref = origin_of(post.raw.get("uri"), self.instance) if post and isinstance(post.raw, dict) else None
            if ref is None or ref in asked:
                continue
            asked.add(ref)
            descendants = self._origin_context(*ref, failed)
            local = {ref[1]: sid}  # the origin's status id -> the stored id of the same post
            for status in descendants:
                if _uri(status) in by_uri:
                    local[str(status["id"])] = by_uri[_uri(status)]
            fresh = []
            for status in descendants:
                if _uri(status) in by_uri:
                    continue
                parent = local.get(str(status.get("in_reply_to_id")))
                found = tolerant(lambda st: normalise_status(st, ref[0], parent_id=parent), status,
                                 platform=PLATFORM, id_key="id", to_id=lambda raw: stored_id(ref[0], raw))
                if found is None or found.id in posts_by_id:
                    continue
                found.origin = host_of(ref[0])
                local[str(status["id"])] = found.id
                if _uri(status):
                    by_uri[_uri(status)] = found.id
                posts_by_id[found.id] = found
                children.setdefault(found.parent_id or "", set()).add(found.id)
                replies_count[found.id] = found.reply_count or 0
                fresh.append(found)
            yield Batch(fresh, source_url=f"{ref[0]}/api/v1/statuses/{ref[1]}/context")
            queue += [p.id for p in fresh if _unseen(p.id, replies_count, children)]
        if failed:
            self.events.warn(f"--origin: {len(failed)} servers did not answer for their posts' replies "
                             f"({', '.join(sorted(set(failed))[:5])})")

    def _origin_context(self, base: str, status_id: str, failed: list[str]) -> list[dict]:
        host = host_of(base)
        if host not in self.origins:
            token, _ = token_for(self.settings, base)  # a token configured for that very server, if any
            from replies.net.http import JsonClient

            self.origins[host] = JsonClient(base, self.retry, timeout=self.settings.http_timeout, token=token,
                                            reset_parser=_reset, label=f"Mastodon {host}")
        try:
            body, _ = self.origins[host].get(f"/api/v1/statuses/{status_id}/context")
        except (HTTPStatusError, RepliesError):
            failed.append(host)
            return []
        if not isinstance(body, dict) or not isinstance(body.get("descendants"), list):
            failed.append(host)
            return []
        return [s for s in body["descendants"] if isinstance(s, dict) and "id" in s]

    def _quotes(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        path: str | None = cursor("quotes.next") or f"/api/v1/statuses/{api_id(root.id)}/quotes"
        while path:
            try:
                body, response = self._get(path, {"limit": 40} if "?" not in path else None)
            except HTTPStatusError as exc:
                if exc.status in (404, 403, 410):
                    self.events.warn(f"{self.instance} does not offer the quotes endpoint; quote posts skipped")
                    return
                raise HarvestError(f"{self.instance} refused the quotes of {api_id(root.id)}: HTTP {exc.status}") \
                    from None
            if not isinstance(body, list):
                raise BadResponse(f"{self.instance} answered /quotes with something other than a list")
            posts = tolerant_each(lambda st: normalise_status(st, self.instance, kind=QUOTE, parent_id=root.id),
                                  [s for s in body if isinstance(s, dict) and "id" in s], platform=PLATFORM,
                                  id_key="id", parent_id=root.id, to_id=lambda raw: stored_id(self.instance, raw))
            match = LINK_NEXT_RE.search(response.headers.get("link", ""))
            path = None
            if match and body:
                import httpx  # loaded by the client already

                url = httpx.URL(match.group(1))
                path = url.raw_path.decode()
            yield Batch(posts, {"quotes.next": path}, source_url=f"/api/v1/statuses/{api_id(root.id)}/quotes")


Source = MastodonSource


def token_for(settings: Settings, base_url: str) -> tuple[str | None, str | None]:
    """(the token to send to the Mastodon server at `base_url`, or None; why none, if one is set).

    A token belongs to one instance: it is sent only to the host it was given for (a
    `[mastodon."host"]` section of the config file, or MASTODON_INSTANCE), and only over HTTPS unless
    that host is this machine (a local server)."""
    host = host_of(base_url)
    token = settings.mastodon_tokens.get(host)
    if token is None and settings.mastodon_access_token:
        if settings.mastodon_instance is None:
            return None, (f"MASTODON_ACCESS_TOKEN is not sent to {host}: name the server it belongs to with "
                          "MASTODON_INSTANCE (or [mastodon.\"HOST\"] access_token in the config file)")
        if settings.mastodon_instance == host:
            token = settings.mastodon_access_token
    if token is None:
        return None, None
    if in_clear(base_url):
        return None, f"the access token for {host} is not sent over plain http://; use https://"
    return token, None

