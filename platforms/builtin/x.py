"""X (Twitter): a post's replies and quotes through the X API v2 (harvested by replies.harvester.x)."""

from __future__ import annotations

import re

from replies.platforms import Option, Platform
from replies.setting import Setting, url

URL_RE = re.compile(
    r"https?://(?:www\.|mobile\.)?(?:twitter\.com|x\.com)/(?:[A-Za-z0-9_]{1,15}|i(?:/web)?)/status(?:es)?/(\d{1,19})(?:[/?#].*)?"
)

URL_FORMS = ("https://x.com/USER/status/ID",)

URL_NOTE = "needs X_BEARER_TOKEN"  # what `replies harvest --help` says beside the forms

# what this platform reads from the environment and the config file's [x] section
SETTINGS = (
    Setting("x_bearer_token", "X_BEARER_TOKEN", "bearer_token", "X API v2 app bearer token", secret=True,
            shown_default="none (X harvests fail without it)", emulator="test-token"),
    Setting("x_api_base", "REPLIES_X_API_BASE", "api_base", "X API host", default="https://api.twitter.com",
            parse=url, emulator="{base}"),
)

def parse_url(url: str) -> str | None:
    """The tweet id in an x.com / twitter.com status URL, or None."""
    match = URL_RE.fullmatch(url.strip())
    return match.group(1) if match else None


PLATFORM = Platform(
    name="x", title="X", url_forms=URL_FORMS, url_note=URL_NOTE, parse_url=parse_url, settings=SETTINGS,
    source="replies.harvester.x:Source",
    options=(Option("full_archive", "--full-archive",
                    "X only: search the full archive (search_all) instead of the last 7 days."),),
    sites=("x.com", "twitter.com", "t.co"),
    site_aliases={"twitter.com": "x.com", "mobile.twitter.com": "x.com", "mobile.x.com": "x.com"},
    emulator="replies.emulator.x_api")
