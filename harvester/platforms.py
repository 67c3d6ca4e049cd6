"""The platforms replies can harvest: one registry, used wherever a platform list or choice is needed.

Adding a platform is one module beside `x.py` (with `URL_FORMS`, `parse_url(url)` and a `Source`
class) plus one line in `MODULES`. Modules are imported only when a URL has to be understood, so
listing the platforms costs nothing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import UnrecognisedURL

# platform name (as stored in the database) -> the module that harvests it
MODULES = {
    "x": "replies.harvester.x",
    "bluesky": "replies.harvester.bluesky",
    "mastodon": "replies.harvester.mastodon",
    "reddit": "replies.harvester.reddit",
    "youtube": "replies.harvester.youtube",
    "threads": "replies.harvester.threads",
}


def names() -> tuple[str, ...]:
    """Every platform's name, as stored in the `platform` column."""
    return tuple(MODULES)


def module(name: str) -> ModuleType:
    """The module that harvests platform `name`."""
    return importlib.import_module(MODULES[name])


def parse(url: str) -> tuple[str, tuple]:
    """(platform, the platform module's reference) for a post URL; UnrecognisedURL otherwise."""
    for name in MODULES:
        ref = module(name).parse_url(url)
        if ref is not None:
            return name, ref if isinstance(ref, tuple) else (ref,)
    forms = ", ".join(form for name in MODULES for form in module(name).URL_FORMS)
    raise UnrecognisedURL(f"not a post URL replies can harvest: {url!r} (expected {forms})")
