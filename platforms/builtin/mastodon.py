"""Mastodon: a status's context and quotes through a server's REST API (harvested by replies.harvester.mastodon).
Accounts are user@server and stored ids SERVER/ID: the platform is federated."""

from __future__ import annotations

import re

from replies.net.hosts import host_of
from replies.platforms import Option, Platform
from replies.setting import Setting

URL_RE = re.compile(
    r"(https?://[A-Za-z0-9.-]+(?::\d+)?)/(?:web/)?(?:@[A-Za-z0-9_.-]+(?:@[A-Za-z0-9.-]+)?|users/[A-Za-z0-9_.-]+/statuses)/(\d+)/?(?:[?#].*)?"
)

URL_FORMS = ("https://INSTANCE/@USER/ID",)

URL_NOTE = "MASTODON_ACCESS_TOKEN optional"  # what `replies harvest --help` says beside the forms

# what this platform reads from the environment and the config file's [mastodon] section
SETTINGS = (
    Setting("mastodon_access_token", "MASTODON_ACCESS_TOKEN", "access_token",
            "a Mastodon user token, sent only to `MASTODON_INSTANCE`", secret=True, shown_default="none (logged out)"),
    Setting("mastodon_instance", "MASTODON_INSTANCE", "instance",
            "the server (`mastodon.social`) that `MASTODON_ACCESS_TOKEN` belongs to", parse=host_of,
            shown_default="none: the token is sent nowhere", emulator="{base}"),
    Setting("mastodon_tokens", "MASTODON_ACCESS_TOKEN", "access_token",
            "another server's own token, sent to that server only",
            default={}, secret=True, parse=host_of, per_host=True),
)

def parse_url(url: str) -> tuple[str, str] | None:
    """(instance base URL, status id) from a Mastodon status URL, or None."""
    match = URL_RE.fullmatch(url.strip())
    return (match.group(1), match.group(2)) if match else None


PLATFORM = Platform(
    name="mastodon", title="Mastodon", url_forms=URL_FORMS, url_note=URL_NOTE, parse_url=parse_url,
    settings=SETTINGS, source="replies.harvester.mastodon:Source",
    options=(Option("origin", "--origin",
                    "Mastodon: a server's context holds only the remote replies it has fetched. Also ask each "
                    "reply's own server (from its uri) for the replies missing below it, logged out: one more "
                    "request per such reply, to servers other than the one in the URL."),),
    federated=True, emulator="replies.emulator.mastodon_api")
