"""YouTube: a video's comments and their replies through the YouTube Data API v3 (harvested by
replies.harvester.youtube)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from replies.platforms import Platform
from replies.setting import Setting, url

REQUEST_NOUN = "quota units"  # every call this module makes costs one unit

VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")

_HOSTS = ("youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com",
          "www.youtube-nocookie.com")

_PATH_FORMS = re.compile(r"/(?:shorts|live|embed|v)/([A-Za-z0-9_-]{11})/?")

URL_FORMS = ("https://www.youtube.com/watch?v=ID", "https://youtu.be/ID", "https://www.youtube.com/shorts/ID")

URL_NOTE = "YOUTUBE_API_KEY; 1 quota unit a request"  # what `replies harvest --help` says beside the forms

# what this platform reads from the environment and the config file's [youtube] section
SETTINGS = (
    Setting("youtube_api_key", "YOUTUBE_API_KEY", "api_key", "a YouTube Data API v3 key", secret=True,
            shown_default="none (YouTube harvests fail without it)", emulator="youtube-key"),
    Setting("youtube_api_base", "REPLIES_YOUTUBE_API_BASE", "api_base", "YouTube API host",
            default="https://www.googleapis.com", parse=url, emulator="{base}"),
)

def parse_url(url: str) -> tuple[str] | None:
    """(video id,) from a YouTube video URL in any of its forms, or None."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower()
    if host == "youtu.be":
        vid = parts.path.strip("/")
    elif host in _HOSTS:
        match = _PATH_FORMS.fullmatch(parts.path)
        if match:
            vid = match.group(1)
        elif parts.path.rstrip("/") == "/watch":
            vid = (parse_qs(parts.query).get("v") or [""])[0]
        else:
            return None
    else:
        return None
    return (vid,) if VIDEO_ID.fullmatch(vid) else None


def url_key(host: str, path: str, query: str) -> str | None:
    """A video in any of its URL forms (watch?v=, youtu.be/, shorts/): one key."""
    video = ""
    if host == "youtu.be":
        video = path.strip("/")
    elif host == "youtube.com":
        video = (parse_qs(query).get("v") or [""])[0]
    return f"youtube.com/watch?v={video}" if video else None


PLATFORM = Platform(
    name="youtube", title="YouTube", url_forms=URL_FORMS, url_note=URL_NOTE, parse_url=parse_url,
    settings=SETTINGS, source="replies.harvester.youtube:Source", request_noun=REQUEST_NOUN,
    # a video's commentCount counts every comment and reply below it, at any depth
    counts_every_reply=True, sites=("youtube.com", "youtu.be"), site_aliases={"m.youtube.com": "youtube.com"},
    url_key=url_key, emulator="replies.emulator.youtube_api")
