"""An example platform plugin: a forum whose topics are read from a small JSON API.

    GET {api_base}/forum-api/topics/{id}.json?key=...           -> {"id", "author", "text", "created_at", "reply_count"}
    GET {api_base}/forum-api/topics/{id}/posts.json?page=N&key=... -> {"posts": [...], "next_page": N or null}

Everything replies needs to know about the platform is this one declaration."""

from __future__ import annotations

import re

from replies.platforms import Mention, Option, Platform
from replies.setting import Setting, url

URL_RE = re.compile(r"https?://forum\.example/t/(\d{1,12})/?(?:[?#].*)?")


def parse_url(address: str) -> tuple[str] | None:
    """(topic id,) from a topic URL, or None."""
    match = URL_RE.fullmatch(address.strip())
    return (match.group(1),) if match else None


PLATFORM = Platform(
    name="forum", title="Example Forum", url_forms=("https://forum.example/t/ID",), url_note="FORUM_API_KEY",
    parse_url=parse_url, source="replies_forum.harvest:Source",
    settings=(
        Setting("forum_api_key", "FORUM_API_KEY", "api_key", "the forum's API key", secret=True,
                emulator="forum-key"),
        Setting("forum_api_base", "REPLIES_FORUM_API_BASE", "api_base", "the forum's API host",
                default="https://forum.example", parse=url, emulator="{base}"),
    ),
    options=(Option("with_hidden", "--with-hidden", "Example Forum only: also read posts a moderator hid."),),
    counts_every_reply=True,  # a topic's reply_count counts every post below it, at any depth
    sites=("forum.example",),
    # the forum names its members ~like_this
    mentions=(Mention(re.compile(r"(?<![\w~])~(?P<name>[a-z0-9_]{3,20})\b"), prefix="~"),),
    emulator="replies_forum.emulate", sample="replies_forum.emulate:load_sample",
)
