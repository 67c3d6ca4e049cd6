"""The normalised post record every platform module produces."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from replies.db.times import untrusted_iso
from replies.text import clean

REPLY, QUOTE, ROOT = "reply", "quote", "root"
OK, NOT_FOUND, BLOCKED, MALFORMED = "ok", "not_found", "blocked", "malformed"
DELETED, REMOVED = "deleted", "removed"  # kept in the tree by the platform: by its author, by a moderator
_ID = re.compile(r"[A-Za-z0-9_:/.@~-]{1,300}")  # tweet ids, at:// URIs, Mastodon (and Pleroma) status ids


def post_id(value: Any) -> str:
    """A post id from a server, as text; ValueError for anything else (a list, a dict, markup, nothing, an id
    with a line end: the whole value must be an id, or 101 and "101\\n" would be two posts)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not _ID.fullmatch(str(value)):
        raise ValueError(f"not a post id: {str(value)[:60]!r}")
    return str(value)


@dataclass
class Post:
    """One post as stored, whatever platform it came from.

    `id` is the platform's own id (tweet id, at:// URI, Mastodon status id);
    `parent_id` is the post replied to, or for a quote the post quoted.
    """

    platform: str
    id: str
    kind: str = REPLY
    parent_id: str | None = None
    status: str = OK
    author_id: str | None = None
    author_handle: str | None = None
    text: str | None = None
    html: str | None = None
    created_at: str | None = None
    url: str | None = None
    lang: str | None = None
    like_count: int | None = None
    repost_count: int | None = None
    reply_count: int | None = None
    quote_count: int | None = None
    spoiler_text: str | None = None  # a content warning shown before the text (Mastodon)
    edit_history: list[str] | None = None  # ids of this post's other versions, oldest first (X edits)
    quote_of: str | None = None  # the post this one quotes (a quote's parent_id; a reply may quote one too)
    origin: str | None = None  # the server this row was read from, when not the thread's own (Mastodon)
    edited_at: str | None = None  # when it was last edited, where the platform says (Reddit, Mastodon)
    raw: Any = field(default=None, repr=False)
    # fields the server sent in a shape its API does not document, dropped (not stored): "created_at 'garbage'"
    problems: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        """Values come from servers nobody here controls: a count that is not a whole number is no count
        (a hostile server's like count of `<img src=x onerror=...>` must not reach a report), a text field
        holding a number or a list is dropped rather than stored as something else, and a time that is not
        one is dropped. Each drop is noted in `problems`, so that the harvest can say so; nothing is dropped
        silently. `created_at` may be given as the server sent it: it is normalised here."""
        for name in _COUNTS:
            value = getattr(self, name)
            # a like count can be below zero: Reddit's score is upvotes less downvotes
            low = -(2**63) if name == "like_count" else 0
            if not (isinstance(value, int) and not isinstance(value, bool) and low <= value < 2**63):
                if value is not None:
                    self.problems.append(f"{name} {_shown(value)}")
                setattr(self, name, None)
        for name in _TEXTS:
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, clean(value))  # a lone surrogate costs that character, not the reply
            elif value is not None:
                self.problems.append(f"{name} {_shown(value)}")
                setattr(self, name, None)
        for name in ("created_at", "edited_at"):
            value = getattr(self, name)
            if value is not None:
                when = untrusted_iso(value)
                if when is None:
                    self.problems.append(f"{name} {_shown(value)}")
                setattr(self, name, when)
        if self.edit_history is not None:
            if not isinstance(self.edit_history, list):
                raise ValueError(f"edit history is not a list of ids: {str(self.edit_history)[:60]!r}")
            self.edit_history = [post_id(i) for i in self.edit_history if str(i) != self.id] or None

    def row(self) -> dict:
        """The fields as stored; a shallow copy (`asdict` would deep-copy the raw JSON of every post)."""
        row = {name: getattr(self, name) for name in _FIELDS}
        row["edit_history"] = json.dumps(self.edit_history) if self.edit_history else None
        return row

    def reply_row(self, thread_id: str, source_url: str | None, tool_version: str) -> dict:
        """The row for the `replies` table."""
        return {**self.row(), "thread_id": thread_id, "source_url": source_url, "tool_version": tool_version}

    def thread_row(self) -> dict:
        """The row for the `threads` table (this post is the question)."""
        row = self.row()
        for key in ("kind", "parent_id", "status", "origin"):
            row.pop(key)
        return row


_FIELDS = tuple(f.name for f in fields(Post) if f.name != "problems")


def _shown(value: Any) -> str:
    return repr(value)[:40]
_COUNTS = ("like_count", "repost_count", "reply_count", "quote_count")
_TEXTS = ("author_id", "author_handle", "text", "html", "created_at", "url", "lang", "parent_id", "spoiler_text",
          "quote_of", "origin", "edited_at")


def tolerant(build: Callable[[Any], "Post"], item: Any, *, platform: str, id_key: str,
             parent_id: str | None = None, to_id: Callable[[str], str] = lambda i: i) -> "Post | None":
    """`build(item)`, or, for an item not shaped as the API documents, a `malformed` row keeping its raw
    JSON (when it has a usable id) so that one bad post costs only itself; None when it has no id."""
    try:
        return build(item)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        try:
            raw_id = post_id(item.get(id_key))
        except (AttributeError, ValueError):
            return None
        return Post(platform=platform, id=to_id(raw_id), status=MALFORMED, parent_id=parent_id, text=None,
                    raw=item)


def tolerant_each(build: Callable[[Any], "Post"], items, **options) -> list["Post"]:
    """`tolerant` over `items` (dicts only), leaving out those with no usable id."""
    posts = (tolerant(build, item, **options) for item in items if isinstance(item, dict))
    return [post for post in posts if post is not None]
