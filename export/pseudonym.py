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
# @user, @user@instance.social (Mastodon) and @handle.bsky.social (Bluesky)
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.-]*(?:@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?)")
LINK = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)


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

    def person(self, handle: str | None) -> str | None:
        if not handle:
            return handle
        return "user_" + self.token("user", _canonical(handle))

    def text(self, text: str | None) -> str | None:
        if not text:
            return text
        text = MENTION.sub(lambda m: "@" + self.person(m.group(1)), text)
        if self.strip_links:
            text = LINK.sub("[link]", text)
        return text

    def record(self, record: dict) -> dict:
        """A copy of an export record with authors, mentions and re-identifying ids replaced.

        Reply and thread ids become salted tokens (the reply structure survives; the post cannot be
        looked up) and the URL is dropped."""
        out = dict(record)
        platform = record.get("platform") or ""
        for field in ("id", "parent_id", "thread"):
            if out.get(field):
                out[field] = self.token("post", f"{platform}:{out[field]}", 16)
        out["author"] = self.person(record.get("author"))
        out["text"] = self.text(record.get("text"))
        out["url"] = None
        return out


def _canonical(handle: str) -> str:
    # x.com/@Alice and @alice are one person; Bluesky and Mastodon handles are case-insensitive too
    return handle.lstrip("@").lower()
