"""Stable salted pseudonyms for sharing a dataset without the people in it.

The same handle always maps to the same pseudonym under one salt, so
conversations stay readable; without the salt the mapping cannot be reversed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlite_utils import Database

SALT_KEY = "pseudonym_salt"
AT = "@\uff20"  # @ and the full-width ＠, which renders the same
# @user, @user@instance.social (Mastodon), @handle.bsky.social (Bluesky); a handle never ends in . or -
MENTION = re.compile(rf"(?<![\w{AT}])[{AT}]([A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)"
                     rf"(?:[{AT}]([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d+)?))?")
# Reddit names people as u/name or /u/name
REDDIT_USER = re.compile(r"(?<![\w/])/?u/([A-Za-z0-9_-]{3,20})\b")
# Bluesky account ids and the at:// URIs built on them name a person as surely as a handle
DID = re.compile(r"\bdid:(?:plc|web):[A-Za-z0-9._%-]+(?::[A-Za-z0-9._%-]+)*")
AT_URI = re.compile(r"\bat://[^\s\"'<>()\[\]{}]+")
# links, with a scheme or as a bare domain with a path (x.com/alice/status/1); they stop at quotes and brackets
_URL_CHARS = r"[^\s\"'<>()\[\]{}]"
LINK = re.compile(rf"(?:\b(?:https?://|www\.){_URL_CHARS}+|\b(?:[A-Za-z0-9-]+\.)+[A-Za-z]{{2,}}/{_URL_CHARS}*)",
                  re.IGNORECASE)
_TRAILING = ".,;:!?"


def database_salt(db: Database) -> str:
    """The per-database secret, made on first use and kept in the `settings` table (never exported)."""
    row = db.execute("select value from settings where key = ?", [SALT_KEY]).fetchone()
    if row:
        return row[0]
    with db.atomic():
        db.execute("insert or ignore into settings (key, value) values (?, ?)", [SALT_KEY, secrets.token_hex(16)])
    return db.execute("select value from settings where key = ?", [SALT_KEY]).fetchone()[0]


class Pseudonymizer:
    """Replaces authors, @mentions and ids with salted pseudonyms; optionally drops links."""

    def __init__(self, salt: str, *, strip_links: bool = False):
        self.salt = salt.encode("utf-8")
        self.strip_links = strip_links

    def token(self, kind: str, value: str, length: int = 10) -> str:
        digest = hmac.new(self.salt, f"{kind}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:length]

    def person(self, handle: str | None, platform: str = "", home: str | None = None) -> str | None:
        """The pseudonym of an account: identity is (platform, account), so X's bob and Mastodon's bob
        differ, while @alice, @Alice and ＠alice. are one person. `home` is the Mastodon server a bare
        @user belongs to (the author's own), so an author and their own @mention match."""
        if not handle:
            return handle
        return "user_" + self.token("user", f"{platform}:{_canonical(handle, platform, home)}")

    def text(self, text: str | None, platform: str = "", home: str | None = None) -> str | None:
        """`text` with every mention, Bluesky DID and at:// URI replaced (and links, with strip_links)."""
        if not text:
            return text
        text = AT_URI.sub(lambda m: "at://" + self.token("post", f"{platform}:{m.group()}", 16), text)
        text = DID.sub(lambda m: self.person(m.group(), "bluesky"), text)
        if self.strip_links:
            text = LINK.sub(_link_placeholder, text)

        def mention(m: re.Match) -> str:
            user, host = m.group(1), m.group(2)
            return "@" + self.person(f"{user}@{host}" if host else user, platform, home)

        text = REDDIT_USER.sub(lambda m: "u/" + self.person(m.group(1), "reddit"), text)
        return MENTION.sub(mention, text)

    def record(self, record: dict) -> dict:
        """A copy of an export record with authors, mentions and re-identifying ids replaced.

        Reply and thread ids become salted tokens (the reply structure survives; the post cannot be
        looked up) and the URL is dropped."""
        out = dict(record)
        platform = record.get("platform") or ""
        author = record.get("author") or ""
        home = author.split("@", 1)[1] if platform == "mastodon" and "@" in author else None
        for field in ("id", "parent_id", "thread"):
            if out.get(field):
                out[field] = self.token("post", f"{platform}:{out[field]}", 16)
        out["author"] = self.person(record.get("author"), platform, home)
        out["text"] = self.text(record.get("text"), platform, home)
        out["url"] = None
        return out


def _link_placeholder(m: re.Match) -> str:
    link = m.group()
    kept = link.rstrip(_TRAILING)  # a sentence's full stop is not part of the link
    return "[link]" + link[len(kept):]


def _canonical(handle: str, platform: str = "", home: str | None = None) -> str:
    """One spelling per account: case-folded, without the @ (either width) or a trailing dot; on Mastodon
    a bare user is qualified by the server it belongs to."""
    name = handle.replace("\uff20", "@").lstrip("@").rstrip(".-").lower()
    if platform == "mastodon" and "@" not in name and home:
        name = f"{name}@{home.lower()}"
    return name
