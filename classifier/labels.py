"""Recording human (gold) labels: one reply at a time, or from a JSONL or CSV file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlite_utils import Database

from db import labels as store

from .codebook import Codebook
from .errors import LabelError

PLATFORMS = ("x", "bluesky", "mastodon")


def parse_ref(ref: str) -> tuple[str, str]:
    """PLATFORM:ID (the id may itself contain colons, as at:// URIs do)."""
    platform, sep, reply_id = ref.partition(":")
    if not sep or platform not in PLATFORMS or not reply_id:
        raise LabelError(f"{ref!r} is not PLATFORM:ID (platform one of {', '.join(PLATFORMS)})")
    return platform, reply_id


def check(database: Database, codebook: Codebook, platform: str, reply_id: str, labels: list[str],
          where: str = "") -> None:
    unknown = [c for c in labels if c not in codebook.ids]
    if unknown:
        raise LabelError(f"{where}unknown category {unknown[0]!r} for codebook {codebook.name} "
                         f"(known: {', '.join(codebook.ids)})")
    if not store.reply_exists(database, platform, reply_id):
        raise LabelError(f"{where}no reply {platform}:{reply_id} in the database")


def label(database: Database, codebook: Codebook, ref: str, categories: list[str], reviewer: str,
          note: str | None = None) -> None:
    """Record one reviewer's categories for one reply (no categories: reviewed, none apply)."""
    platform, reply_id = parse_ref(ref)
    check(database, codebook, platform, reply_id, categories)
    store.set_gold(database, [{"platform": platform, "id": reply_id, "codebook": codebook.name,
                               "reviewer": reviewer, "labels": categories, "note": note}])


def read_labels_file(path: Path) -> list[tuple[str, str, list[str], str]]:
    """(platform, id, labels, where) from JSONL or CSV; `where` names file and line for errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabelError(f"cannot read {path}: {exc.strerror}") from None
    rows = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or not {"platform", "id", "labels"} <= set(reader.fieldnames):
            raise LabelError(f"{path}:1: CSV needs the columns platform,id,labels")
        for number, row in enumerate(reader, start=2):
            labels = [c.strip() for c in (row["labels"] or "").split(";") if c.strip()]
            rows.append((row["platform"], row["id"], labels, f"{path}:{number}: "))
        return rows
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise LabelError(f"{path}:{number}: not JSON (expected {{\"platform\", \"id\", \"labels\"}})") from None
        if not isinstance(obj, dict) or not {"platform", "id", "labels"} <= set(obj) \
                or not isinstance(obj["labels"], list):
            raise LabelError(f"{path}:{number}: expected an object with platform, id and a labels list")
        rows.append((str(obj["platform"]), str(obj["id"]), [str(c) for c in obj["labels"]], f"{path}:{number}: "))
    return rows


def import_labels(database: Database, codebook: Codebook, path: str | Path, reviewer: str) -> int:
    """Check every row first, then record them all in one transaction (nothing half-written)."""
    path = Path(path)
    rows = read_labels_file(path)
    if not rows:
        raise LabelError(f"{path}: no labels found")
    for platform, reply_id, labels, where in rows:
        if platform not in PLATFORMS:
            raise LabelError(f"{where}unknown platform {platform!r}")
        check(database, codebook, platform, reply_id, labels, where)
    return store.set_gold(database, [{"platform": p, "id": i, "codebook": codebook.name, "reviewer": reviewer,
                                      "labels": labels} for p, i, labels, _ in rows])
