"""Threads as a user refers to them and as their platform counts them: the short reference a user may type
for a stored thread (`mastodon:<id>`, `reddit:gk5b18`, a URL in any of its forms), and each thread's coverage
by its platform's own counting rule. The platform facts come from the registry; the rows from storage."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from sqlite_utils import Database

from replies.db.errors import UnknownThread
from replies.db.queries import describe_coverage, thread_coverage, thread_rows, thread_rows_all

from . import get, registered


def coverage(db: Database, platform: str, thread_id: str) -> tuple[int, int | None]:
    """(found, expected) for a thread, by its platform's counting rule (`Platform.counts_every_reply`)."""
    declared = get(platform)
    return thread_coverage(db, platform, thread_id,
                           counts_every_reply=bool(declared and declared.counts_every_reply))


def list_threads(db: Database) -> list[dict]:
    """Every tracked thread with its reply and quote counts (posts with content: what `sample` and `estimate`
    count), the posts stored without content (blocked, not found, deleted), its coverage ("412 of 418": stored
    against the platform's own counts) after the last harvest that measured it, else as the thread stands, and
    its last harvest. `ref` is the short reference `replies thread REF` takes."""
    rows = thread_rows(db)
    for row in rows:
        found, expected = row.pop("found"), row.pop("expected")
        if expected is None:  # never harvested to the end (imported, or every run cut short): as it stands now
            found, expected = coverage(db, row["platform"], row["id"])
        kinds = json.loads(row["unavailable"] or "{}")
        row["unavailable"] = sum(kinds.values())
        row["coverage"] = describe_coverage(found, expected, kinds)
        row["last_harvest_at"] = row.pop("last_harvest_at")
        row["ref"] = short_ref(row)
    return rows


def short_ref(row: dict) -> str:
    """The shortest PLATFORM:ID `find_thread` takes for a thread: the id a user sees on the platform."""
    return f"{row['platform']}:{min(_short_ids(row), key=len)}"


def find_thread(db: Database, ref: str) -> dict:
    """A tracked thread from the reference a user has in hand: its URL (as stored, or another form of it:
    http or https, with or without www., twitter.com for x.com, a trailing slash or a query), its id as stored
    or PLATFORM:ID, or the short id a user sees (a Mastodon status id without its server, a Reddit post id
    without `t3_`, a Bluesky post's last part, a Threads post's code). UnknownThread where none or several
    match, naming the stored forms that come closest."""
    ref = ref.strip()
    rows = thread_rows_all(db)
    exact = [row for row in rows if ref in (row["id"], f"{row['platform']}:{row['id']}", row["url"])]
    key = None if exact else url_key(ref)  # the reference's URL form, worked out once for every row
    found = exact or [row for row in rows if _wanted(ref, key, row)]
    if len(found) == 1:
        return found[0]
    if found:
        raise UnknownThread(f"{ref!r} matches {len(found)} tracked threads: write one of "
                            + ", ".join(_stored(row) for row in found[:5]) + (" ..." if len(found) > 5 else ""))
    near = [row for row in rows if _near(ref, row)]
    if near:
        raise UnknownThread(f"no tracked thread matches {ref!r}; did you mean "
                            + " or ".join(_stored(row) for row in near[:3]) + "? (`replies threads` lists them)")
    raise UnknownThread(f"no tracked thread matches {ref!r}: give its URL, id or PLATFORM:ID "
                        "(`replies threads` lists them)")


def _stored(row: dict) -> str:
    return f"{row['platform']}:{row['id']}"


def _short_ids(row: dict) -> set[str]:
    """The ids a user may write for a thread: as stored, and the forms the platform shows."""
    platform, stored, url = row["platform"], row["id"], row["url"] or ""
    ids = {stored}
    if "/" in stored:  # mastodon HOST/ID, bluesky at://DID/app.bsky.feed.post/RKEY
        ids.add(stored.rsplit("/", 1)[1])
    declared = get(platform)
    if declared and declared.short_ids:
        ids |= declared.short_ids(stored, url)
    return {i for i in ids if i}


def _any_case(platform: str) -> bool:
    declared = get(platform)
    return bool(declared and declared.case_insensitive_ids)


def _wanted(ref: str, key: str | None, row: dict) -> bool:
    """Whether `ref` (whose `url_key` is `key`) is one of the other forms of `row`'s id or URL."""
    platform, _, rest = ref.partition(":")
    ids = _short_ids(row)
    if rest and platform == row["platform"] and (rest in ids or rest.lower() in ids):
        return True
    if ref in ids or (_any_case(row["platform"]) and ref.lower() in ids):
        return True
    return key is not None and row["url"] is not None and key == url_key(row["url"])


def _near(ref: str, row: dict) -> bool:
    """Whether `ref` looks like a part of `row`'s id or URL, to suggest it when nothing matches."""
    platform, _, rest = ref.partition(":")
    wanted = rest if rest and platform == row["platform"] else ref
    wanted = wanted.strip().lower()
    if len(wanted) < 4:
        return False
    return any(wanted in text.lower() for text in (row["id"], row["url"] or ""))


def url_key(text: str) -> str | None:
    """A post URL reduced to what tells posts apart (host without www., path without a trailing slash, and
    what a platform declares: YouTube's `v`, a Reddit post with or without its slug), so that the forms a
    browser or an app gives compare equal; None for text that is no URL."""
    text = text.strip()
    if "://" not in text:
        if not re.match(r"^[\w.-]+\.[a-z]{2,}(?::\d+)?/", text, re.I):
            return None
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return None
    host = host.removeprefix("www.")
    for platform in registered().values():
        host = platform.site_aliases.get(host, host)
    for platform in registered().values():
        if platform.url_key and (host in platform.sites or not platform.sites):
            key = platform.url_key(host, parts.path, parts.query)
            if key:
                return key
    return f"{host}{port}{parts.path.rstrip('/')}"

