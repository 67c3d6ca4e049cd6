"""Stable salted pseudonyms for sharing a dataset without the people in it: the one pass every pseudonymised
output goes through (export in every format, the report, the reply network, discover's drafts).

The same handle always maps to the same pseudonym under one salt, so conversations stay readable; without the
salt the mapping cannot be reversed. A record is treated field by field: ids (its own, its parent's, its
thread's, the post it quotes) become salted tokens, the author a pseudonym, the URL is dropped, and every other
text goes through `text`: @mentions, u/names, Bluesky DIDs and at:// URIs, links to a person's or a post's page
on a platform (or on any server the database holds posts from), and the bare handles of the database's own
authors. Only fields known to carry no person (platform, kind, times, labels, scores) pass unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlite_utils import Database

from replies import platforms

SALT_KEY = "pseudonym_salt"
AT = "@\uff20"  # @ and the full-width ＠, which renders the same
# @user, @user@instance.social (Mastodon), @handle.bsky.social (Bluesky); a handle never ends in . or -
MENTION = re.compile(rf"(?<![\w{AT}])[{AT}]([A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)"
                     rf"(?:[{AT}]([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d+)?))?")
# links, with a scheme or as a bare domain with a path (x.com/alice/status/1); they stop at quotes and brackets
_URL_CHARS = r"[^\s\"'<>()\[\]{}]"
LINK = re.compile(rf"(?:\b(?:https?://|www\.){_URL_CHARS}+|\b(?:[A-Za-z0-9-]+\.)+[A-Za-z]{{2,}}/{_URL_CHARS}*)",
                  re.IGNORECASE)
_TRAILING = ".,;:!?"
# sites whose links name a person or a post besides the platforms' own (each Platform's `sites`)
OTHER_SOCIAL_HOSTS = ("instagram.com", "facebook.com", "linkedin.com")
# a bare handle: letters, digits and _ . - inside, not part of a longer word, an address or a mention
BARE = re.compile(rf"(?<![\w{AT}./:-])([A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)(?![\w{AT}]|\.\w|-\w)")
# record fields that carry no person and pass unchanged
PLAIN = frozenset({"platform", "kind", "status", "created_at", "edited_at", "depth", "below", "labels", "scores",
                   "gold", "split", "like_count", "repost_count", "reply_count", "quote_count", "lang", "reviewed",
                   "loop", "blind", "samples"})
IDS = ("id", "parent_id", "thread", "thread_id", "quote_of")


def database_salt(db: Database) -> str:
    """The per-database secret, made on first use and kept in the `settings` table (never exported)."""
    row = db.execute("select value from settings where key = ?", [SALT_KEY]).fetchone()
    if row:
        return row[0]
    with db.atomic():
        db.execute("insert or ignore into settings (key, value) values (?, ?)", [SALT_KEY, secrets.token_hex(16)])
    return db.execute("select value from settings where key = ?", [SALT_KEY]).fetchone()[0]


class Pseudonymizer:
    """Replaces authors, @mentions, ids and links to people with salted pseudonyms; optionally drops every link.

    `handles` are (platform, handle) of the accounts whose bare handles are replaced in text too (those not
    plain words: with a digit, _, . or -, or 8 characters and more); `hosts` are servers a link to which names a
    person or a post, besides the platforms' own sites. `for_database` takes both from a database."""

    def __init__(self, salt: str, *, strip_links: bool = False, handles=(), hosts=()):
        self.salt = salt.encode("utf-8")
        self.strip_links = strip_links
        self.hosts = {host.lower() for host in hosts if host}
        # what the registered platforms say, read once: each text and link is checked against it
        registered = platforms.registered()
        self.federated = frozenset(name for name, platform in registered.items() if platform.federated)
        self.mentions = [(name, mention) for name, platform in registered.items() for mention in platform.mentions]
        self.sites = tuple(site for platform in registered.values() for site in platform.sites) + OTHER_SOCIAL_HOSTS
        self.handles: dict[str, tuple[str, str]] = {}
        for platform, handle in handles:
            if handle and _bare_worthy(handle):
                self.handles.setdefault(handle.lower(), (platform, handle))
                local = handle.split("@", 1)[0]  # a Mastodon user is written bare as often as in full
                if local != handle and _bare_worthy(local):
                    self.handles.setdefault(local.lower(), (platform, handle))

    @classmethod
    def for_database(cls, db: Database, salt: str | None = None, *, strip_links: bool = False) -> "Pseudonymizer":
        """A pseudonymizer under `salt` (default: the database's own secret) that knows the database's authors
        and the servers its posts came from."""
        handles = {(p, h) for p, h in db.execute("select distinct platform, author_handle from replies union "
                                                  "select distinct platform, author_handle from threads")}
        hosts = set()
        for (url,) in db.execute("select url from replies where url is not null union "
                                 "select url from threads where url is not null"):
            hosts.add(_host(url))
        federated = [name for name, platform in platforms.registered().items() if platform.federated]
        for (stored,) in db.execute(f"select id from replies where platform in ({', '.join('?' * len(federated))})"
                                    " and id like '%/%'", federated):
            hosts.add(stored.split("/", 1)[0].lower())  # a federated platform's ids are SERVER/ID
        return cls(salt or database_salt(db), strip_links=strip_links, handles=handles, hosts=hosts - {""})

    def post(self, platform: str, value) -> str | None:
        """The salted token of a post id (the same for a reply's id and another's reference to it)."""
        return None if value is None or value == "" else self.token("post", f"{platform}:{value}", 16)

    def token(self, kind: str, value: str, length: int = 10) -> str:
        digest = hmac.new(self.salt, f"{kind}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:length]

    def person(self, handle: str | None, platform: str = "", home: str | None = None) -> str | None:
        """The pseudonym of an account: identity is (platform, account), so X's bob and Mastodon's bob
        differ, while @alice, @Alice and ＠alice. are one person. `home` is the Mastodon server a bare
        @user belongs to (the author's own), so an author and their own @mention match."""
        if not handle:
            return handle
        home = home if platform in self.federated else None  # only a federated platform's users have a server
        return "user_" + self.token("user", f"{platform}:{_canonical(handle, home)}")

    def text(self, text: str | None, platform: str = "", home: str | None = None) -> str | None:
        """`text` with every mention, u/name, Bluesky DID and at:// URI, link to a person or a post, and bare
        handle of a known author replaced (and every link, with strip_links)."""
        if not text:
            return text
        for owner, mention in self.mentions:  # each platform's own ways of naming its accounts and posts
            text = mention.pattern.sub(lambda m: mention.prefix + self._named(m, mention, owner), text)
        text = LINK.sub(lambda m: _link_placeholder(m) if self.strip_links or self._names_someone(m.group())
                        else m.group(), text)

        def mention(m: re.Match) -> str:
            user, host = m.group(1), m.group(2)
            return "@" + self.person(f"{user}@{host}" if host else user, platform, home)

        text = MENTION.sub(mention, text)
        if self.handles:
            text = BARE.sub(lambda m: self._bare(m.group(1)) or m.group(), text)
        return text

    def record(self, record: dict) -> dict:
        """A copy of a record (an export's, a tree's post, a quoted reply) with every field treated: ids become
        salted tokens (the reply structure survives; the post cannot be looked up), the author a pseudonym, the
        URL is dropped, and every other text goes through `text`. A field that is neither known to be plain
        nor text is refused (TypeError), so a new field cannot slip through untreated."""
        platform = record.get("platform") or ""
        author = record.get("author") or ""
        home = author.split("@", 1)[1] if platform in self.federated and "@" in author else None
        out = {}
        for field, value in record.items():
            if field in IDS:
                out[field] = self.post(platform, value)
            elif field in ("author", "quoted_author"):
                out[field] = self.person(value, platform, home)
            elif field == "url":
                out[field] = None
            elif field in PLAIN or value is None:
                out[field] = value
            elif isinstance(value, str):
                out[field] = self.text(value, platform, home)
            else:
                raise TypeError(f"pseudonymize: field {field!r} ({type(value).__name__}) is neither plain nor text")
        return out

    def _names_someone(self, link: str) -> bool:
        """Whether `link` leads to a platform's page or a server the database holds posts from."""
        host = _host(link if "://" in link else "https://" + link)
        return host in self.hosts or any(host == site or host.endswith("." + site) for site in self.sites)

    def _named(self, match: re.Match, mention: platforms.Mention, owner: str) -> str:
        """A platform's own mention of an account (a person's pseudonym) or of a post (a salted token)."""
        named = match.group("name") if "name" in mention.pattern.groupindex else match.group()
        if mention.kind == "post":
            return self.token("post", f"{owner}:{named}", 16)
        return self.person(named, owner)

    def _bare(self, word: str) -> str | None:
        found = self.handles.get(word.lower())
        return self.person(found[1], found[0]) if found else None


def _bare_worthy(handle: str) -> bool:
    """Whether a handle is replaced where it stands bare in a text: not a plain word that could be meant as one."""
    return len(handle) >= 8 or any(ch.isdigit() or ch in "_.-" for ch in handle)


def _host(url: str) -> str:
    """The host[:port] of a URL, lower case, without www. or mobile. ('' when it has none)."""
    from urllib.parse import urlsplit

    try:
        netloc = urlsplit(url).netloc.lower()
    except ValueError:
        return ""
    netloc = netloc.rsplit("@", 1)[-1]
    for prefix in ("www.", "mobile.", "m.", "old.", "new."):
        if netloc.startswith(prefix):
            return netloc[len(prefix):]
    return netloc


def _link_placeholder(m: re.Match) -> str:
    link = m.group()
    kept = link.rstrip(_TRAILING)  # a sentence's full stop is not part of the link
    return "[link]" + link[len(kept):]


def _canonical(handle: str, home: str | None = None) -> str:
    """One spelling per account: case-folded, without the @ (either width) or a trailing dot; on a federated
    platform (given the user's `home` server) a bare user is qualified by the server it belongs to."""
    name = handle.replace("\uff20", "@").lstrip("@").rstrip(".-").lower()
    if "@" not in name and home:
        name = f"{name}@{home.lower()}"
    return name

