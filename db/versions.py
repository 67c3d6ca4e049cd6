"""Codes given under one version of a codebook, read under another.

Every human code records the codebook version (hash) it was given under. Read under the version in use, a
code from another version keeps the categories both versions share (same id), follows a mapping a user
recorded (`replies codebook migrate --from HASH --map money=funding`), and says nothing about a category of
the version in use that its own version lacked: that category is `unknown` for it, never "not given". The
codes themselves are never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlite_utils import Database

from .times import utc_now


@dataclass(frozen=True)
class Reading:
    """One code as the version in use reads it: the categories given, those it says nothing about (its version
    had no such category, and no mapping names one), and the version it was given under (None: unknown)."""

    labels: tuple[str, ...]
    unknown: frozenset[str] = frozenset()
    version: str | None = None


@dataclass
class Difference:
    """How a codebook version differs from the one in use: categories only the old one has (`removed`), only
    the one in use has (`added`), pairs that look renamed (the same label or description under another id),
    and the mapping recorded from it, if any."""

    version: str
    codes: int = 0
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    known: bool = True  # the version's content is stored (saved when it was used)

    def describe(self) -> str:
        if not self.known:
            return f"version {self.version} (not stored here: read as the version in use)"
        parts = [f"{', '.join(self.removed)} removed" if self.removed else "",
                 f"{', '.join(self.added)} added" if self.added else "",
                 ("perhaps renamed: " + ", ".join(f"{a} to {b}" for a, b in self.renamed)) if self.renamed else "",
                 ("mapped: " + ", ".join(f"{a}={b}" for a, b in self.mapping.items())) if self.mapping else ""]
        return f"version {self.version}: " + ("; ".join(p for p in parts if p) or "the same categories")


def categories(db: Database, codebook_hash: str) -> list[dict] | None:
    """The categories (id, label, description) of a stored codebook version, or None when it is not stored."""
    row = db.execute("select content from codebooks where hash = ?", [codebook_hash]).fetchone()
    if row is None:
        return None
    return [{"id": c.get("id"), "label": c.get("label"), "description": c.get("description")}
            for c in json.loads(row[0]).get("categories", [])]


def mapping(db: Database, from_hash: str, to_hash: str) -> dict[str, str]:
    """The mapping a user recorded from one version's category ids to another's ({} when none)."""
    row = db.execute("select mapping from codebook_mappings where from_hash = ? and to_hash = ?",
                     [from_hash, to_hash]).fetchone()
    return json.loads(row[0]) if row else {}


def save_mapping(db: Database, from_hash: str, to_hash: str, pairs: Mapping[str, str]) -> None:
    """Record (or replace) how codes given under `from_hash` read under `to_hash`."""
    with db.atomic():
        db.execute("insert or replace into codebook_mappings (from_hash, to_hash, mapping, created_at)"
                   " values (?, ?, ?, ?)", [from_hash, to_hash, json.dumps(dict(pairs), sort_keys=True), utc_now()])


class Reader:
    """Reads codes under the version in use (`codebook_hash`, its category `ids`); one lookup per version."""

    def __init__(self, db: Database, codebook_hash: str | None, ids: Iterable[str]):
        self.db, self.hash, self.ids = db, codebook_hash, list(ids)
        self.maps: dict[str | None, tuple[dict[str, str], frozenset[str]] | None] = {}

    def _map(self, version: str | None) -> tuple[dict[str, str], frozenset[str]] | None:
        """(old id -> id in use, categories in use it says nothing about), or None to read it as the version in
        use (the same version, an unknown one, or one not stored)."""
        if version not in self.maps:
            old = None if version is None or version == self.hash else categories(self.db, version)
            if old is None:
                self.maps[version] = None
            else:
                chosen = mapping(self.db, version, self.hash) if self.hash else {}
                ids = set(self.ids)
                translate = {c["id"]: chosen.get(c["id"], c["id"]) for c in old}
                translate = {a: b for a, b in translate.items() if b in ids}
                self.maps[version] = (translate, frozenset(ids - set(translate.values())))
        return self.maps[version]

    def read(self, labels: Iterable[str], version: str | None) -> Reading:
        found = self._map(version)
        if found is None:
            return Reading(tuple(sorted(set(labels) & set(self.ids))), frozenset(), version)
        translate, unknown = found
        return Reading(tuple(sorted({translate[label] for label in labels if label in translate})), unknown,
                       version)


def differences(db: Database, codebook: str, codebook_hash: str, ids: Iterable[str]) -> list[Difference]:
    """Each other version the codebook's codes were given under, with how many codes, and how it differs."""
    ids = list(ids)
    now = {c["id"]: c for c in categories(db, codebook_hash) or [{"id": i} for i in ids]}
    out = []
    for version, n in db.execute("select codebook_hash, count(*) from gold_labels where codebook = ? and"
                                 " codebook_hash is not null and codebook_hash != ? group by 1 order by 2 desc",
                                 [codebook, codebook_hash]).fetchall():
        old = categories(db, version)
        if old is None:
            out.append(Difference(version, n, known=False))
            continue
        before = {c["id"]: c for c in old}
        removed = sorted(set(before) - set(now))
        added = sorted(set(now) - set(before))
        renamed = [(a, b) for a in removed for b in added
                   if before[a].get("label") and (before[a].get("label") == now[b].get("label")
                                                  or before[a].get("description") == now[b].get("description"))]
        out.append(Difference(version, n, removed, added, renamed, mapping(db, version, codebook_hash)))
    return out
