"""The platforms replies can harvest: one registry, used wherever a platform list or choice is needed.

Adding a platform is one module beside `x.py` (with `URL_FORMS`, `SETTINGS`, `parse_url(url)` and a
`Source` class) plus one line in `MODULES`: the settings object, `replies config`, the config file's
sections, the demo's and the tests' emulator settings and the docs' settings table are derived from the
modules' `SETTINGS`. Modules are imported only when a URL or a setting has to be understood, so listing the
platforms costs nothing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from replies.setting import Setting

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


def settings() -> list[tuple[str, Setting]]:
    """(platform, setting) for every setting each platform declares, in the registry's order."""
    return [(name, setting) for name in MODULES for setting in module(name).SETTINGS]


def emulator_environment(base: str) -> dict[str, str]:
    """The settings, by environment name, that point every platform at the project's API emulator at `base`."""
    return {setting.env: setting.emulator.format(base=base) for _, setting in settings()
            if setting.emulator is not None}
