"""Comparing a harvested database with what the emulator holds."""

from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMPARED = ("platform", "id", "thread_id", "parent_id", "kind", "status", "author_id", "author_handle", "text",
            "created_at", "url", "lang", "like_count", "repost_count", "reply_count", "quote_count", "raw")


def platform_id(platform: str, stored_id: str) -> str:
    """The id a platform (and so the emulator) knows a post by: Mastodon's stored ids carry the server, and
    Reddit's are fullnames (t1_ + the comment's id)."""
    if platform == "reddit":
        return stored_id.split("_", 1)[-1]
    return stored_id.rsplit("/", 1)[-1] if platform == "mastodon" else stored_id


def stored(db_path, platform: str | None = None) -> dict[str, dict]:
    """Every stored reply (by the platform's own id) with the columns that must match between two harvests."""
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    sql = f"select {', '.join(COMPARED)} from replies" + (" where platform = ?" if platform else "")
    rows = {platform_id(r["platform"], r["id"]): dict(r) for r in conn.execute(sql, [platform] if platform else [])}
    conn.close()
    return rows


def count(db_path, sql: str, params=()) -> int:
    conn = sqlite3.connect(db_path)
    value = conn.execute(sql, params).fetchone()[0]
    conn.close()
    return value


def rows(db_path, sql: str, params=()) -> list[dict]:
    """Every row of `sql` as a dict, read with plain sqlite3 (independent of the code under test)."""
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    out = [dict(r) for r in conn.execute(sql, params)]
    conn.close()
    return out


def source_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module below the folders that `root`'s pyproject.toml maps into the namespace, by its dotted name (a
    package by its own name, for its `__init__.py`)."""
    folders = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    found = {}
    for package, folder in folders.items():
        inner = [root / folders[other] for other in folders if other != package and other.startswith(package + ".")]
        for path in (root / folder).rglob("*.py"):
            parts = path.relative_to(root / folder).with_suffix("").parts
            if "__pycache__" in parts or any(place in path.parents for place in inner):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found
