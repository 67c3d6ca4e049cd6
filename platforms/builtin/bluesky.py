"""Bluesky: a post's thread and quotes through the public AppView (harvested by replies.harvester.bluesky)."""

from __future__ import annotations

import re

from replies.platforms import Mention, Platform
from replies.setting import Setting, url

WEB_RE = re.compile(r"https?://(?:www\.)?bsky\.app/profile/([^/?#]+)/post/([A-Za-z0-9._~:-]+)/?(?:[?#].*)?")

AT_RE = re.compile(r"at://([^/]+)/app\.bsky\.feed\.post/([A-Za-z0-9._~:-]+)")

URL_FORMS = ("https://bsky.app/profile/HANDLE/post/ID", "at://DID/app.bsky.feed.post/ID")

URL_NOTE = "no token"  # what `replies harvest --help` says beside the forms

# what this platform reads from the environment and the config file's [bluesky] section
SETTINGS = (
    Setting("bsky_api_base", "REPLIES_BSKY_API_BASE", "api_base", "Bluesky AppView host",
            default="https://public.api.bsky.app", parse=url, emulator="{base}"),
)

def parse_url(url: str) -> tuple[str, str] | None:
    """(actor, rkey) from a bsky.app post URL or an at:// post URI, or None."""
    text = url.strip()
    match = WEB_RE.fullmatch(text) or AT_RE.fullmatch(text)
    return (match.group(1), match.group(2)) if match else None

# Bluesky account ids and the at:// URIs built on them name a person (a post) as surely as a handle
AT_URI = re.compile(r"\bat://[^\s\"'<>()\[\]{}]+")
DID = re.compile(r"\bdid:(?:plc|web):[A-Za-z0-9._%-]+(?::[A-Za-z0-9._%-]+)*")

PLATFORM = Platform(
    name="bluesky", title="Bluesky", url_forms=URL_FORMS, url_note=URL_NOTE, parse_url=parse_url,
    settings=SETTINGS, source="replies.harvester.bluesky:Source", sites=("bsky.app", "bsky.social"),
    mentions=(Mention(AT_URI, "post", "at://"), Mention(DID)),
    emulator="replies.emulator.bluesky_api")
