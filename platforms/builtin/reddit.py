"""Reddit: a post's (or a comment's) comment tree through Reddit's OAuth API (harvested by
replies.harvester.reddit)."""

from __future__ import annotations

import re

from replies.platforms import Mention, Platform
from replies.setting import Setting, url

_HOSTS = r"https?://(?:(?:www|old|new|np|m|sh)\.)?reddit\.com"

URL_RE = re.compile(_HOSTS + r"/(?:r/[A-Za-z0-9_]{1,32}/)?comments/([a-z0-9]{1,13})"
                    r"(?:/[^/?#]*(?:/([a-z0-9]{1,13}))?)?/?(?:[?#].*)?", re.IGNORECASE)

SHORT_RE = re.compile(r"https?://redd\.it/([a-z0-9]{1,13})/?(?:[?#].*)?", re.IGNORECASE)

URL_FORMS = ("https://www.reddit.com/r/SUB/comments/ID/...", "https://redd.it/ID")

URL_NOTE = "REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET; a comment's permalink harvests its replies"  # what `replies harvest --help` says beside the forms

# what this platform reads from the environment and the config file's [reddit] section
SETTINGS = (
    Setting("reddit_client_id", "REDDIT_CLIENT_ID", "client_id", "a Reddit app's id (app-only OAuth)",
            shown_default="none (Reddit harvests fail without it)", emulator="reddit-client"),
    Setting("reddit_client_secret", "REDDIT_CLIENT_SECRET", "client_secret", "that app's secret", secret=True,
            shown_default="none (Reddit harvests fail without it)", emulator="reddit-secret"),
    Setting("reddit_user_agent", "REDDIT_USER_AGENT", "user_agent", "the descriptive user agent Reddit asks for",
            shown_default="python:replies:VERSION (reply harvester for research)"),
    Setting("reddit_api_base", "REPLIES_REDDIT_API_BASE", "api_base", "Reddit API host",
            default="https://oauth.reddit.com", parse=url, emulator="{base}"),
    # the secret goes where the API is, unless told otherwise: an emulator's address never sends it to
    # www.reddit.com, and the real API's default sends it only to Reddit
    Setting("reddit_auth_base", "REPLIES_REDDIT_AUTH_BASE", "auth_base", "where the id and secret are sent for a token",
            default="https://www.reddit.com", parse=url, fallback="REPLIES_REDDIT_API_BASE",
            shown_default="`REPLIES_REDDIT_API_BASE` where that is set, else `https://www.reddit.com`"),
)

def parse_url(url: str) -> tuple[str, str | None] | None:
    """(article id, comment id or None) from a Reddit post or comment permalink, or None."""
    text = url.strip()
    match = URL_RE.fullmatch(text)
    if match:
        return match.group(1).lower(), (match.group(2) or "").lower() or None
    match = SHORT_RE.fullmatch(text)
    return (match.group(1).lower(), None) if match else None

# Reddit names people as u/name or /u/name
USER = re.compile(r"(?<![\w/])/?u/(?P<name>[A-Za-z0-9_-]{3,20})\b")
POST_PATH = re.compile(r"(?:/r/[^/]+)?/comments/(\w+)(?:/[^/]*)?/?")


def short_ids(stored: str, post_url: str) -> set[str]:
    """A post's id without Reddit's `t3_` kind prefix, as its URL shows it."""
    return {stored[3:]} if stored.startswith("t3_") else set()


def url_key(host: str, path: str, query: str) -> str | None:
    """A post with or without its title's slug, or its redd.it short link: one key."""
    post = POST_PATH.fullmatch(path) if host == "reddit.com" else None
    if post or host == "redd.it":
        return f"reddit.com/comments/{(post.group(1) if post else path.strip('/')).lower()}"
    return None


PLATFORM = Platform(
    name="reddit", title="Reddit", url_forms=URL_FORMS, url_note=URL_NOTE, parse_url=parse_url, settings=SETTINGS,
    source="replies.harvester.reddit:Source", short_ids=short_ids, case_insensitive_ids=True,
    sites=("reddit.com", "redd.it"), site_aliases={"old.reddit.com": "reddit.com"}, url_key=url_key,
    mentions=(Mention(USER, prefix="u/"),), emulator="replies.emulator.reddit_api")
