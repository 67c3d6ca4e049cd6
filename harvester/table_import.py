"""Importing replies other tools collected: a CSV or JSONL file, its columns mapped onto the post record.

Comment exporters, LinkedIn copy-outs and spreadsheets name their columns as they like; `--map
text=comment,author=user` says which is which. Every row is checked before any is stored, so a file with
a bad row changes nothing. A row with no id gets one made from its content (the same row imported twice
is one reply); a row with no parent replies to the question itself.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

from replies import db
from replies.db.queries import select_in
from replies.db.times import untrusted_epoch, untrusted_iso
from replies.jsonl import read_jsonl

from .errors import HarvestError
from .record import REPLY, ROOT, Post, post_id

# the fields a column may be mapped to, and what each holds
FIELDS = {
    "text": "the reply's text (required)",
    "id": "the reply's id on its platform (made from the content when absent)",
    "parent": "the id of the post it replies to (the question when absent)",
    "author": "the author's name or handle",
    "author_id": "the author's id",
    "created_at": "when it was posted (ISO 8601, or epoch seconds)",
    "url": "its web address",
    "likes": "its like count (a whole number)",
    "lang": "its language code",
}
FORMATS = ("csv", "jsonl")
PREVIEW = 5
MAX_ERRORS_SHOWN = 5


class ImportMappingError(HarvestError):
    """The mapping or the file cannot be imported as asked."""


@dataclass
class TableImport:
    """What an import read and would store (or stored): the thread, the posts, and the first rows mapped."""

    platform: str
    thread_id: str
    thread_url: str
    posts: list[Post]
    rows: int
    duplicates: int = 0
    preview: list[dict] = field(default_factory=list)
    orphans: int = 0  # rows whose parent the file does not hold, attached to the question
    new: int = 0
    updated: int = 0
    taken: int = 0  # rows whose id a reply stored from another source (a harvest, another thread) already has


def parse_mapping(specs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`("text=comment,author=user", "likes=Likes")` -> {field: column}; errors name the bad part."""
    mapping: dict[str, str] = {}
    for spec in specs:
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            name, sep, column = part.partition("=")
            name, column = name.strip(), column.strip()
            if not sep or not column:
                raise ImportMappingError(f"--map {part!r} is not FIELD=COLUMN (e.g. text=comment)")
            if name not in FIELDS:
                raise ImportMappingError(f"--map {part!r}: unknown field {name!r}; fields are "
                                         f"{', '.join(FIELDS)}")
            if name in mapping:
                raise ImportMappingError(f"--map gives {name!r} twice ({mapping[name]!r} and {column!r})")
            mapping[name] = column
    if "text" not in mapping:
        raise ImportMappingError("--map must say which column holds the text, e.g. --map text=comment")
    return mapping


def thread_identity(thread_url: str, platform: str | None) -> tuple[str, str]:
    """(platform, thread id) for imported rows: the platform given, else the URL's site ('linkedin' for
    www.linkedin.com); the thread id is made from the URL, so one URL is always one thread."""
    try:
        parts = urlsplit(thread_url.strip())
        parts.port  # noqa: B018 -- a malformed address raises here
    except ValueError:
        raise ImportMappingError(f"--thread-url {thread_url!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImportMappingError(f"--thread-url {thread_url!r} is not an http(s) URL of the question post")
    if platform is None:
        labels = [p for p in parts.hostname.lower().split(".") if p not in ("www", "m", "com", "net", "org")]
        platform = labels[0] if labels else parts.hostname.lower()
    if not platform.replace("-", "").replace("_", "").isalnum() or len(platform) > 40:
        raise ImportMappingError(f"--platform {platform!r}: use letters, digits, - and _ only")
    digest = hashlib.sha256(thread_url.strip().encode()).hexdigest()[:20]
    return platform.lower(), f"url-{digest}"


def _records(path: Path, fmt: str) -> tuple[list[str] | None, list[tuple[int, dict]]]:
    """(column names, or None for JSONL; (line or row number, record) for every row)."""
    if fmt == "jsonl":
        out = []
        for number, value in read_jsonl(path, ImportMappingError, "one JSON object per line"):
            if not isinstance(value, dict):
                raise ImportMappingError(f"{path} line {number}: not a JSON object")
            out.append((number, value))
        return None, out
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportMappingError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            sample = handle.read(65536)
            handle.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            reader = csv.DictReader(handle, dialect=dialect)
            rows = [(number, row) for number, row in enumerate(reader, start=2)]
            columns = list(reader.fieldnames or [])
        except UnicodeDecodeError:
            raise ImportMappingError(f"{path}: not UTF-8 text; save the spreadsheet as CSV UTF-8") from None
        except csv.Error as exc:
            raise ImportMappingError(f"{path}: not a CSV file this can read ({exc})") from None
    if not columns:
        raise ImportMappingError(f"{path}: no header row; the first line must name the columns")
    return columns, rows


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list, bool)):
        raise ValueError("not text")
    text = str(value).strip()
    return text or None


def _count(value: Any) -> int | None:
    text = _text(value)
    if text is None:
        return None
    number = int(text.replace(",", "")) if isinstance(value, str) else value
    if isinstance(number, float) and not number.is_integer():
        raise ValueError("not a whole number")
    number = int(number)
    if number < 0:
        raise ValueError("below zero")
    return number


def _time(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    if text.replace(".", "", 1).isdigit():
        stamp = untrusted_epoch(float(text))
    else:
        stamp = untrusted_iso(text)
    if stamp is None:
        raise ValueError("not a date and time")
    return stamp


def _row_post(record: dict, mapping: dict[str, str], platform: str, thread_id: str) -> Post:
    """One record as a Post; ValueError naming the field for a value that cannot be used."""
    def get(name: str) -> Any:
        return record.get(mapping[name]) if name in mapping else None

    values: dict[str, Any] = {}
    for name, convert in (("text", _text), ("id", _text), ("parent", _text), ("author", _text),
                          ("author_id", _text), ("created_at", _time), ("url", _text), ("likes", _count),
                          ("lang", _text)):
        try:
            values[name] = convert(get(name))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name} ({mapping[name]}) = {str(get(name))[:40]!r} is {exc}") from None
    if not values["text"]:
        raise ValueError(f"text ({mapping['text']}) is empty")
    if values["url"] and urlsplit(values["url"]).scheme not in ("http", "https"):
        raise ValueError(f"url ({mapping['url']}) = {values['url'][:40]!r} is not an http(s) address")
    if values["id"]:
        try:
            rid = post_id(values["id"])
        except ValueError:
            raise ValueError(f"id ({mapping['id']}) = {values['id'][:40]!r} has characters an id cannot have") \
                from None
    else:
        content = "\x1f".join(str(values[k] or "") for k in ("parent", "author", "author_id", "created_at",
                                                                "text"))
        rid = "c-" + hashlib.sha256(f"{platform}\x1f{thread_id}\x1f{content}".encode()).hexdigest()[:24]
    return Post(platform=platform, id=rid, kind=REPLY, parent_id=values["parent"], author_id=values["author_id"],
                author_handle=values["author"], text=values["text"], created_at=values["created_at"],
                url=values["url"], lang=values["lang"], like_count=values["likes"],
                raw={k: v for k, v in record.items() if isinstance(k, str)})


def read_table(path: str | Path, fmt: str, mapping: dict[str, str], thread_url: str,
               platform: str | None = None) -> TableImport:
    """Read and check every row of `path`; nothing is stored. ImportMappingError lists the bad rows."""
    path = Path(path)
    if fmt not in FORMATS:
        raise ImportMappingError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    platform, thread_id = thread_identity(thread_url, platform)
    columns, records = _records(path, fmt)
    if columns is not None:
        unknown = [c for c in mapping.values() if c not in columns]
        if unknown:
            raise ImportMappingError(f"{path} has no column {unknown[0]!r}; its columns are "
                                     f"{', '.join(columns)[:300]}")
    if not records:
        raise ImportMappingError(f"{path}: no rows to import")
    posts: list[Post] = []
    errors: list[str] = []
    preview: list[dict] = []
    for number, record in records:
        try:
            post = _row_post(record, mapping, platform, thread_id)
        except ValueError as exc:
            errors.append(f"{'line' if fmt == 'jsonl' else 'row'} {number}: {exc}")
            continue
        posts.append(post)
        if len(preview) < PREVIEW:
            preview.append({"row": number, "id": post.id, "parent": post.parent_id or "(the question)",
                            "author": post.author_handle, "created_at": post.created_at, "likes": post.like_count,
                            "text": post.text})
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
        more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
        raise ImportMappingError(f"{path}: {len(errors)} of {len(records)} rows cannot be imported, nothing was "
                                 f"stored: {shown}{more}")
    unique = {p.id: p for p in posts}
    known = set(unique) | {thread_id}
    orphans = 0
    for post in unique.values():
        if post.parent_id is not None and post.parent_id not in known:
            orphans += 1
        if post.parent_id is None or post.parent_id not in known:
            post.parent_id = thread_id
    return TableImport(platform, thread_id, thread_url.strip(), list(unique.values()), len(records),
                       len(posts) - len(unique), preview, orphans)


def store_table(database: Database, table: TableImport, source: str, question: str | None = None) -> TableImport:
    """Store what `read_table` read, in one transaction: the thread (its URL, and `question` as its text
    when given) and every reply. A row whose platform and id belong to a reply stored from another source (a
    harvest, or an import into another thread) is left out and counted in `taken`: an import never
    overwrites what was stored before it."""
    from replies import __version__  # read from the installed metadata: only an import that stores pays for it

    root = Post(platform=table.platform, id=table.thread_id, kind=ROOT, url=table.thread_url, text=question)
    with database.atomic():
        elsewhere = {reply_id for reply_id, in select_in(
            database, "select id from replies where platform = ? and thread_id != ? and id in ({marks})",
            [p.id for p in table.posts], [table.platform, table.thread_id])}
        kept = [p for p in table.posts if p.id not in elsewhere]
        table.taken = len(table.posts) - len(kept)
        rows = [p.reply_row(table.thread_id, source, __version__) for p in kept]
        exists = database.execute("select text from threads where platform = ? and id = ?",
                                  [table.platform, table.thread_id]).fetchone()
        if exists is None or question:
            db.upsert_thread(database, root.thread_row())
        counts = db.store_replies(database, rows)
    table.new, table.updated = counts.new, counts.updated
    return table
