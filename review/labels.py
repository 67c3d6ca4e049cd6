"""Recording human (gold) labels: one reply at a time, or from a JSONL, CSV or Label Studio file."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from replies.codebook import Codebook, LabelError
from replies.db import labels as label_store
from replies.db.queries import platforms_stored
from replies.db.schema import ADJUDICATED
from replies.jsonl import read_jsonl

from .labelstudio import read_labelstudio

# a reviewer's name: 1 to 64 characters, none of them a control character, the whole value (no line end)
REVIEWER_RE = re.compile(r"[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]{1,64}")


def reviewer_problem(name: str, *, final_allowed: bool = False) -> str | None:
    """Why `name` cannot be a reviewer's name (it is stored with every label and shown on every page), or None.
    The name that marks final decisions is refused unless `final_allowed` (the command line may record them)."""
    if not REVIEWER_RE.fullmatch(name) or name != name.strip():
        return (f"{name!r} cannot be a reviewer name: use 1 to 64 characters, no control characters and no "
                "spaces at either end")
    if name == ADJUDICATED and not final_allowed:
        return f"{ADJUDICATED!r} cannot be a reviewer name: it marks final decisions"
    return None


def known_platforms(database: Database) -> list[str]:
    """The platforms the database holds replies from (harvested, or named by an import): only a stored reply
    can be labelled."""
    return sorted(platforms_stored(database))


def parse_ref(ref: str, known: list[str]) -> tuple[str, str]:
    """PLATFORM:ID (the id may itself contain colons, as at:// URIs do), the platform one of `known`."""
    platform, sep, reply_id = ref.partition(":")
    if not sep or platform not in known or not reply_id:
        raise LabelError(f"{ref!r} is not PLATFORM:ID (platform one of {', '.join(known)})")
    return platform, reply_id


def check(database: Database, codebook: Codebook, platform: str, reply_id: str, labels: list[str],
          where: str = "", known: set | None = None) -> None:
    """Refuse unknown categories and replies not in the database; `known` remembers replies found."""
    unknown = [c for c in labels if c not in codebook.ids]
    if unknown:
        raise LabelError(f"{where}unknown category {unknown[0]!r} for codebook {codebook.name} "
                         f"(known: {', '.join(codebook.ids)})")
    if known is not None and (platform, reply_id) in known:
        return
    if not label_store.reply_exists(database, platform, reply_id):
        raise LabelError(f"{where}no reply {platform}:{reply_id} in the database")


def label(database: Database, codebook: Codebook, ref: str, categories: list[str], reviewer: str,
          note: str | None = None) -> None:
    """Record one reviewer's categories for one reply (no categories: reviewed, none apply)."""
    platform, reply_id = parse_ref(ref, known_platforms(database))
    check(database, codebook, platform, reply_id, categories)
    codebook.remember(database)
    label_store.set_gold(database, [{"platform": platform, "id": reply_id, "codebook": codebook.name,
                                     "codebook_hash": codebook.hash, "reviewer": reviewer, "labels": categories,
                                     "note": note}])


def read_labels_file(path: Path, fmt: str = "auto") -> Iterator[tuple[str, str, list[str], str]]:
    """(platform, id, labels, where) from JSONL or CSV (`fmt` csv, or auto and a .csv name), a line at a
    time; `where` names file and line."""
    if fmt == "csv" or (fmt == "auto" and path.suffix.lower() == ".csv"):
        yield from _read_csv(path)
        return
    for number, obj in read_jsonl(path, LabelError, '{"platform", "id", "labels"} per line'):
        if not isinstance(obj, dict) or not {"platform", "id", "labels"} <= set(obj) \
                or not isinstance(obj["labels"], list):
            raise LabelError(f"{path}:{number}: expected an object with platform, id and a labels list")
        yield str(obj["platform"]), str(obj["id"]), [str(c) for c in obj["labels"]], f"{path}:{number}: "


def _read_csv(path: Path) -> Iterator[tuple[str, str, list[str], str]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except OSError as exc:
        raise LabelError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"platform", "id", "labels"} <= set(reader.fieldnames):
                raise LabelError(f"{path}:1: CSV needs the columns platform,id,labels")
            for number, row in enumerate(reader, start=2):
                labels = [c.strip() for c in (row["labels"] or "").split(";") if c.strip()]
                yield row["platform"], row["id"], labels, f"{path}:{number}: "
        except UnicodeDecodeError:
            raise LabelError(f"{path}: not UTF-8 text; expected CSV with the columns platform,id,labels") from None


LABEL_FORMATS = ("auto", "jsonl", "csv", "labelstudio")


@dataclass
class ImportCounts:
    rows: int      # label rows read (a reply may appear on several, or once per annotator)
    replies: int   # distinct replies that got a label


def import_labels(database: Database, codebook: Codebook, path: str | Path, reviewer: str,
                  fmt: str = "auto") -> ImportCounts:
    """Check every row first, then record them all in one transaction (nothing half-written). JSONL and
    CSV files are read a line at a time, twice (check, then write), so memory stays flat.

    Label Studio exports carry each annotator; their email (or user number) is recorded as the
    reviewer, `reviewer` only where the export names nobody."""
    path = Path(path)

    def rows() -> Iterator[tuple[str, str, list[str], str, str]]:
        if fmt == "labelstudio" or (fmt == "auto" and path.suffix.lower() == ".json"):
            yield from read_labelstudio(path, codebook, reviewer)
        else:
            yield from ((p, i, labels, where, reviewer) for p, i, labels, where in read_labels_file(path, fmt))

    read, replies = 0, set()
    known = known_platforms(database)
    for platform, reply_id, labels, where, _ in rows():
        if platform not in known:
            raise LabelError(f"{where}unknown platform {platform!r} (one of {', '.join(known)})")
        check(database, codebook, platform, reply_id, labels, where, known=replies)
        read += 1
        replies.add((platform, reply_id))
    if not read:
        raise LabelError(f"{path}: no labels found")
    codebook.remember(database)
    label_store.set_gold(database, ({"platform": p, "id": i, "codebook": codebook.name,
                                     "codebook_hash": codebook.hash, "reviewer": who, "labels": labels}
                                    for p, i, labels, _, who in rows()))
    return ImportCounts(read, len(replies))
