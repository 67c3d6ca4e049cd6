"""Stratified train/dev/test splits that come out the same on every run with the same seed."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from .errors import SplitError

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


def parse_split(spec: str) -> dict[str, float]:
    """'train=0.8,dev=0.1,test=0.1' -> {'train': 0.8, ...}; the fractions must add up to 1. Names are
    identifiers (letters, digits, _), since the hf format makes a file of each."""
    parts: dict[str, float] = {}
    for item in spec.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            fraction = float(value)
        except ValueError:
            fraction = -1.0
        if not sep or not name or not 0 <= fraction <= 1:
            raise SplitError(f"--split {spec!r}: write NAME=FRACTION pairs, e.g. train=0.8,dev=0.1,test=0.1")
        if not NAME.fullmatch(name):
            raise SplitError(f"--split {spec!r}: {name!r} is not a split name (a letter, then letters, digits "
                             "or _, e.g. train)")
        if name in parts:
            raise SplitError(f"--split {spec!r}: {name!r} appears twice")
        parts[name] = fraction
    total = sum(parts.values())
    if abs(total - 1) > 1e-6:
        raise SplitError(f"--split {spec!r}: the fractions add up to {total:g}, not 1")
    return parts


def assign(items: Iterable[tuple[str, list[str]]], fractions: dict[str, float], seed: int,
           categories: list[str] | None = None) -> dict[str, str]:
    """Split name for each key, stratified by label set.

    Each item goes into the stratum of its rarest category (or 'none'); within a stratum
    items are ordered by a seeded hash of their key and cut by the fractions, rounding so
    that every split's total stays close to its share. Same data and seed, same split.
    """
    items = list(items)
    frequency: dict[str, int] = {}
    for _, labels in items:
        for c in labels:
            frequency[c] = frequency.get(c, 0) + 1
    rank = {c: i for i, c in enumerate(categories or [])}
    strata: dict[str, list[str]] = {}
    for key, labels in items:
        rarest = min(labels, key=lambda c: (frequency[c], rank.get(c, len(rank)), c)) if labels else ""
        strata.setdefault(rarest, []).append(key)
    names = list(fractions)
    assigned: dict[str, str] = {}
    given = {name: 0.0 for name in names}  # running share, so leftovers rotate between splits
    for stratum in sorted(strata):
        keys = sorted(strata[stratum], key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
        counts = _apportion(len(keys), fractions, given)
        start = 0
        for name in names:
            for key in keys[start:start + counts[name]]:
                assigned[key] = name
            start += counts[name]
    return assigned


def _apportion(n: int, fractions: dict[str, float], given: dict[str, float]) -> dict[str, int]:
    """Whole counts for n items, largest remainder first, favouring splits that are behind their share."""
    exact = {name: n * f for name, f in fractions.items()}
    counts = {name: int(v) for name, v in exact.items()}
    left = n - sum(counts.values())
    order = sorted((name for name in fractions if fractions[name] > 0), key=lambda name: (-(exact[name] - counts[name] + given[name]), name))
    for name in order[:left]:
        counts[name] += 1
    for name in fractions:
        given[name] += exact[name] - counts[name]
    return counts
