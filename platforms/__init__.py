"""The platforms replies can harvest, each declared once as a `Platform`, found through the `replies.platforms`
entry-point group: the six built in (declared in this package, registered in pyproject.toml) and any other an
installed distribution registers the same way, with no change here.

A `Platform` holds every fact about a platform that the rest of replies needs: its name, the URL forms it
harvests and how to read them, its declared settings, the harvesting class and the options it takes, how its
counts cover a thread, the forms of a post id a user may type, its own sites and the patterns that name its
accounts in a text (for pseudonyms), and its API emulator and sample thread. Code is named by import path
("package.module:attribute") and loaded when first used, so listing the platforms (every command does, to
read their settings) loads no HTTP stack.

    [project.entry-points."replies.platforms"]
    forum = "replies_forum:PLATFORM"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from replies.errors import RepliesError
from replies.plugins import Registry, resolve
from replies.setting import Setting

GROUP = "replies.platforms"
BUILT_IN = ("x", "bluesky", "mastodon", "reddit", "youtube", "threads")  # listed first, in this order
NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


class UnrecognisedURL(RepliesError):
    """A URL no registered platform can harvest."""


@dataclass(frozen=True)
class Option:
    """A harvesting option one platform takes (X's full archive): a `replies harvest` flag, passed to that
    platform's Source as the keyword `name` and to no other platform's."""

    name: str
    flag: str
    help: str


@dataclass(frozen=True)
class Mention:
    """A pattern that names an account or a post of this platform in any text: the match (or its group
    `name`, where the pattern has one) becomes a pseudonym; `prefix` is kept in front of it ("u/")."""

    pattern: re.Pattern
    kind: str = "person"  # or "post"
    prefix: str = ""


@dataclass(frozen=True)
class Platform:
    """Everything platform-specific, in one object. Only `name`, `title`, `url_forms`, `parse_url` and `source`
    are required; the rest default to what a plain platform needs."""

    name: str                     # as stored in the `platform` column: lower case, letters, digits, _
    title: str                    # as a person writes it ("Bluesky")
    url_forms: tuple[str, ...]    # what `replies harvest --help` shows
    parse_url: Callable[[str], Any]  # a post URL -> the Source's positional arguments (a tuple or one value); None
    source: str                   # "module:Class" of the harvesting Source
    url_note: str = ""            # what `replies harvest --help` says beside the forms ("needs X_BEARER_TOKEN")
    settings: tuple[Setting, ...] = ()
    options: tuple[Option, ...] = ()
    request_noun: str = "requests"  # what a harvest's request count is called ("quota units")
    # the question post's reply count counts every reply below it, at any depth (YouTube); otherwise only the
    # direct replies, and the replies' own counts say what lies below each
    counts_every_reply: bool = False
    # the other forms of a stored thread id a user may type (stored id, URL) -> forms; the part after the last /
    # of an id holding one is always accepted
    short_ids: Callable[[str, str], set[str]] | None = None
    case_insensitive_ids: bool = False  # a typed id matches whatever its case (Reddit's base-36 ids)
    sites: tuple[str, ...] = ()   # the platform's own hosts: a link to one names a person or a post
    site_aliases: dict[str, str] = field(default_factory=dict)  # another host for the same page -> the usual one
    # a post URL's parts (host as aliased, path, query) -> the key that tells posts apart, where the path alone
    # does not (YouTube's ?v=); None: host and path
    url_key: Callable[[str, str, str], str | None] | None = None
    mentions: tuple[Mention, ...] = ()  # besides @handle, which every platform's text may hold
    # accounts are user@server, and a bare @user in a post means the author's own server; stored ids are
    # SERVER/ID (Mastodon)
    federated: bool = False
    emulator: str | None = None   # "module" of its API emulator: serves(path) -> bool, handle(emulator, path, query,
    #                               headers) -> Reply, and optionally rate_limited(reset_in) -> Reply
    sample: str | None = None     # "module:function" adding a sample thread to an emulator's World; returns its URL

    def source_class(self) -> type:
        """The harvesting class, loaded now."""
        return resolve(self.source)

    def emulator_module(self):
        return resolve(self.emulator) if self.emulator else None

    def option_names(self) -> set[str]:
        return {option.name for option in self.options}


def _problem(name: str, platform: Any) -> str | None:
    if not isinstance(platform, Platform):
        return f"it names a {type(platform).__name__}, not a replies.platforms.Platform"
    if platform.name != name:
        return f"its entry point is called {name!r} but the platform {platform.name!r}"
    if not NAME_RE.fullmatch(name):
        return "a platform's name is 1 to 32 lower-case letters, digits or _, starting with a letter"
    return None


_REGISTRY = Registry(GROUP, "platform", BUILT_IN, _problem)


def reload() -> None:
    """Read the entry points again (after a distribution was installed into a running process)."""
    _REGISTRY.reload()


def registered() -> dict[str, Platform]:
    """Every registered platform by name: the built-in ones first, then the others by name."""
    return _REGISTRY.all()


def names() -> tuple[str, ...]:
    """Every platform's name, as stored in the `platform` column."""
    return tuple(registered())


def get(name: str) -> Platform | None:
    """The platform called `name`, or None (a database may hold posts of a platform no longer installed)."""
    return _REGISTRY.find(name)


def parse(url: str) -> tuple[str, tuple]:
    """(platform, the Source's positional arguments) for a post URL; UnrecognisedURL otherwise."""
    for platform in registered().values():
        ref = platform.parse_url(url)
        if ref is not None:
            return platform.name, ref if isinstance(ref, tuple) else (ref,)
    forms = ", ".join(form for platform in registered().values() for form in platform.url_forms)
    raise UnrecognisedURL(f"not a post URL replies can harvest: {url!r} (expected {forms})")


def settings() -> list[tuple[str, Setting]]:
    """(platform, setting) for every setting each platform declares, in the registry's order."""
    return [(platform.name, setting) for platform in registered().values() for setting in platform.settings]


def options() -> list[tuple[str, Option]]:
    """(platform, option) for every harvesting option each platform declares."""
    return [(platform.name, option) for platform in registered().values() for option in platform.options]


def emulator_environment(base: str) -> dict[str, str]:
    """The settings, by environment name, that point every platform at the project's API emulator at `base`."""
    return {setting.env: setting.emulator.format(base=base) for _, setting in settings()
            if setting.emulator is not None}
