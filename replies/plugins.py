"""Loading what installed distributions register in an entry-point group (replies' own platforms and
classification methods are registered the same way): the first distribution on the import path wins a name,
a plugin that fails to load or fails its check is left out with one line on stderr, and the built-in names come
first, in their own order."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def load_group(group: str, what: str, built_in: tuple[str, ...],
               problem: Callable[[str, Any], str | None]) -> dict[str, Any]:
    """{name: the object each entry point of `group` names}, checked by `problem(name, object)` (None: fine).
    `what` names the kind in messages ("platform")."""
    from importlib.metadata import distributions

    # every distribution's entry points, not only the first of each name: a stale copy of replies' own metadata
    # earlier on the path (a build folder's egg-info) must not hide the installed one's
    points, seen = [], set()
    for distribution in distributions():
        for point in distribution.entry_points:
            if point.group == group and point.name not in seen:  # the first on the path wins, as for any import
                seen.add(point.name)
                points.append(point)
    points.sort(key=lambda p: (p.name not in built_in, built_in.index(p.name) if p.name in built_in else 0, p.name))
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
