"""Which host may receive which secret: a token or a reply's text goes only where the user named, and never in
clear across the network. The harvester's tokens and the language-model coder's key and reply texts both
follow these rules."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from replies.errors import ConfigurationError


def require_secure(base_url: str, secret: str) -> None:
    """Refuse to send `secret` (a setting's name) to `base_url` over plain http://, unless the server is on
    this machine (an emulator)."""
    if in_clear(base_url):
        where = urlsplit(base_url).netloc or base_url
        raise ConfigurationError(f"{secret} is not sent over plain http:// to {where!r}; give an https:// address")


def is_local_url(url: str) -> bool:
    """Whether `url` names a server on this machine (an emulator, a local Ollama)."""
    return is_loopback(urlsplit(url).hostname or "")


def in_clear(url: str) -> bool:
    """Whether a secret sent to `url` would cross the network unencrypted: plain http:// to a server that is
    not on this machine."""
    return urlsplit(url).scheme != "https" and not is_local_url(url)


def host_of(value: str) -> str:
    """'mastodon.social', 'https://mastodon.social/' or 'Mastodon.Social:443' -> the host[:port], lower case:
    the one spelling of a server that tokens and stored Mastodon ids are keyed by."""
    value = value.strip().lower()
    return (urlsplit(value).netloc if "://" in value else value.split("/", 1)[0])


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def redact(text: str, tokens) -> str:
    """`text` with each of `tokens` (None and very short values skipped) replaced by ***."""
    for token in tokens:
        if token and len(token) >= 4:
            text = text.replace(token, "***")
    return text
