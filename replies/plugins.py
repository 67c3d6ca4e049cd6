"""Loading what installed distributions register in an entry-point group (replies' own platforms and
classification methods are registered the same way): the first distribution on the import path wins a name,
a plugin that fails to load or fails its check is left out with one line on stderr, and the built-in names come
first, in their own order.

The entry points are read from each `*.dist-info` and `*.egg-info` folder's `entry_points.txt` on the import
path, as `importlib.metadata` reads them, without importing it: that import alone (email, zipfile, csv) cost
22 ms of every command's start here, where reading the files costs about 1 ms."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from replies.errors import RepliesError


def resolve(path: str) -> Any:
    """What a "module:attribute" path names (an entry point's value, or code a declaration names): the module
    alone without ":attribute", a dotted attribute followed, an entry point's [extras] ignored."""
    module, _, attribute = path.partition(":")
    found = importlib.import_module(module.strip())
    for part in attribute.split("[", 1)[0].strip().split(".") if attribute else ():
        found = getattr(found, part)
    return found


@dataclass(frozen=True)
class EntryPoint:
    name: str
    value: str  # "module:attribute", as written in entry_points.txt

    def load(self) -> Any:
        return resolve(self.value)


def entry_points(group: str) -> list[EntryPoint]:
    """Every entry point of `group` installed on the import path, the first of each name (in path order, and
    by folder name within a folder) winning, as for any import. Every distribution's, not only the first of
    each distribution name: a stale copy of replies' own metadata earlier on the path (a build folder's
    egg-info) must not hide the installed one's."""
    points, seen = [], set()
    for folder in sys.path:
        try:
            names = sorted(entry.name for entry in os.scandir(folder or "."))
        except OSError:  # not a folder (a zip, a missing path)
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(folder or ".", name, "entry_points.txt"), encoding="utf-8") as file:
                    text = file.read()
            except OSError:
                continue
            for point in _parse(text, group):
                if point.name not in seen:
                    seen.add(point.name)
                    points.append(point)
    return points


def _parse(text: str, group: str) -> list[EntryPoint]:
    """The entry points of `group` in an entry_points.txt (INI: [group] then name = value lines)."""
    found, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            found.append(EntryPoint(name.strip(), value.strip()))
    return found


def load_group(group: str, what: str, built_in: tuple[str, ...],
               problem: Callable[[str, Any], str | None]) -> dict[str, Any]:
    """{name: the object each entry point of `group` names}, checked by `problem(name, object)` (None: fine).
    `what` names the kind in messages ("platform")."""
    points = sorted(entry_points(group), key=lambda p: (p.name not in built_in,
                                                        built_in.index(p.name) if p.name in built_in else 0, p.name))
    found: dict[str, Any] = {}
    for point in points:
        try:
            loaded = point.load()
        except Exception as exc:  # a broken plugin must not stop every command: said, and left out
            print(f"replies: {what} plugin {point.name!r} ({point.value}) could not be loaded and is left out: "
                  f"{exc}", file=sys.stderr)
            continue
        wrong = problem(point.name, loaded)
        if wrong:
            print(f"replies: {what} plugin {point.name!r} ({point.value}) is left out: {wrong}", file=sys.stderr)
            continue
        found[point.name] = loaded
    return found


class Registry:
    """One entry-point group's registered objects by name (`make` turns what an entry point names into what is
    kept: a method class into its instance), read on first use; `reload` reads the entry points again, after a
    distribution was installed into a running process."""

    def __init__(self, group: str, what: str, built_in: tuple[str, ...],
                 problem: Callable[[str, Any], str | None], make: Callable[[Any], Any] = lambda found: found,
                 missing: type[RepliesError] = RepliesError):
        self.what, self.missing = what, missing
        self._read = functools.cache(lambda: {name: make(found) for name, found in
                                              load_group(group, what, built_in, problem).items()})

    def reload(self) -> None:
        self._read.cache_clear()

    def all(self) -> dict[str, Any]:
        """Every registered object by name, the built-in ones first; `missing` (an error) when there is none,
        which means replies' own metadata is missing."""
        found = self._read()
        if not found:
            raise self.missing(f"no {self.what} is registered: replies' own entry points are missing, so reinstall "
                               "it (pip install --force-reinstall replies)")
        return found

    def find(self, name: str) -> Any | None:
        """The object registered as `name`, or None."""
        return self._read().get(name)
