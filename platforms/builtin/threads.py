"""Threads: a post's replies through the Threads API, with the post owner's token (harvested by
replies.harvester.threads)."""

from __future__ import annotations

import re

from replies.platforms import Platform
from replies.setting import Setting, url

URL_RE = re.compile(r"https?://(?:www\.)?threads\.(?:net|com)/@([A-Za-z0-9._]{1,30})/post/([A-Za-z0-9_-]{5,40})"
                    r"/?(?:[?#].*)?", re.IGNORECASE)

URL_FORMS = ("https://www.threads.net/@USER/post/CODE",)

URL_NOTE = "THREADS_ACCESS_TOKEN of USER"  # what `replies harvest --help` says beside the forms

# what this platform reads from the environment and the config file's [threads] section
SETTINGS = (
    Setting("threads_access_token", "THREADS_ACCESS_TOKEN", "access_token",
            "a Threads user token of the question post's owner", secret=True,
            shown_default="none (Threads harvests fail without it)", emulator="threads-token"),
    Setting("threads_api_base", "REPLIES_THREADS_API_BASE", "api_base",
            "Threads API host (a base ending in `/v1.0` is taken as it is)", default="https://graph.threads.net",
            parse=url, emulator="{base}"),
)

def parse_url(url: str) -> tuple[str, str] | None:
    """(user name, post code) from a threads.net or threads.com post URL, or None."""
    match = URL_RE.fullmatch(url.strip())
    return (match.group(1).lower(), match.group(2)) if match else None


def short_ids(stored: str, post_url: str) -> set[str]:
    """The code in the post's URL, as a user sees it (the stored id is the API's number)."""
    return {post_url.rstrip("/").rsplit("/", 1)[-1]} if post_url else set()


PLATFORM = Platform(
    name="threads", title="Threads", url_forms=URL_FORMS, url_note=URL_NOTE, parse_url=parse_url,
    settings=SETTINGS, source="replies.harvester.threads:Source", short_ids=short_ids,
    sites=("threads.net", "threads.com"), site_aliases={"threads.com": "threads.net"},
    emulator="replies.emulator.threads_api")
