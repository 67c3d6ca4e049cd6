"""Writes: threads, replies one page at a time, harvest runs and checkpoints.

Each page of replies is stored in one transaction together with the cursor
that follows it and the run's counters, so an interrupted harvest leaves the
database exactly as it was after its last complete page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from replies.text import clean, json_storable

from .queries import select_in
from .times import utc_now

# Columns whose change counts as an "updated" reply.
TRACKED = (
    "text", "html", "status", "parent_id", "kind", "author_handle",
    "like_count", "repost_count", "reply_count", "quote_count", "spoiler_text", "edit_history", "quote_of",
    "edited_at",
)
REPLY_COLUMNS = (
    "platform", "id", "thread_id", "parent_id", "kind", "status", "author_id",
    "author_handle", "text", "html", "created_at", "url", "lang", "like_count",
    "repost_count", "reply_count", "quote_count", "spoiler_text", "edit_history", "quote_of", "origin", "edited_at",
    "raw", "source_url",
    "tool_version",
)


@dataclass
class PageCounts:
    new: int = 0
    updated: int = 0


def _raw(value: Any) -> str | None:
    """A server's raw answer as stored JSON text (a lone surrogate kept as its escape, as it was sent)."""
    if value is None:
        return value
    if isinstance(value, str):
        return clean(value)
    return json_storable(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def upsert_thread(db: Database, row: Mapping[str, Any]) -> None:
    """Insert or refresh a tracked thread's root post, keeping when it was added."""
    data = {k: v for k, v in row.items()}
    data["raw"] = _raw(data.get("raw"))
    now = utc_now()
    with db.atomic():
        existing = db.execute(
            "select 1 from threads where platform = ? and id = ?", [data["platform"], data["id"]]
        ).fetchone()
        if existing is None:
            data.setdefault("added_at", now)
            db["threads"].insert(data)
        else:
            data.pop("added_at", None)
            db["threads"].update((data["platform"], data["id"]), data)


def store_replies(
    db: Database,
    rows: Iterable[Mapping[str, Any]],
    *,
    run_id: int | None = None,
    cursors: Mapping[tuple[str, str, str], str | None] | None = None,
    requests: int = 0,
) -> PageCounts:
    """Upsert one page of replies keyed by (platform, id), atomically.

    `cursors` maps (platform, thread_id, name) to the checkpoint to save with
    this page (None deletes it). `requests` is added to the run's count.
    """
    now = utc_now()
    counts = PageCounts()
    rows = [dict(r) for r in rows]
    with db.atomic():
        by_platform: dict[str, list[dict]] = {}
        for row in rows:
            by_platform.setdefault(row["platform"], []).append(row)
        for platform, group in by_platform.items():
            existing = _existing(db, platform, [r["id"] for r in group])
            inserts, updates, touched = [], [], []
            seen: set[str] = set()
            for row in group:
                if row["id"] in seen:
                    continue
                seen.add(row["id"])
                row["raw"] = _raw(row.get("raw"))
                row = {k: row.get(k) for k in REPLY_COLUMNS}
                old = existing.get(row["id"])
                if old is None:
                    row["first_seen"] = now
                    row["last_seen"] = now
                    inserts.append(row)
                elif any(old[k] != row[k] for k in TRACKED):
                    row["last_seen"] = now
                    updates.append(row)
                else:
                    touched.append(row["id"])
            if inserts:
                db["replies"].insert_all(inserts, pk=("platform", "id"))
            for row in updates:
                db["replies"].update((platform, row["id"]), row)
            if touched:
                db.conn.executemany(
                    "update replies set last_seen = ? where platform = ? and id = ?",
                    [(now, platform, i) for i in touched],
                )
            counts.new += len(inserts)
            counts.updated += len(updates)
        for (platform, thread_id, name), value in (cursors or {}).items():
            _write_cursor(db, platform, thread_id, name, value, now)
        if run_id is not None:
            db.execute(
                "update harvest_runs set new_count = new_count + ?, updated_count = updated_count + ?,"
                " requests = requests + ? where id = ?",
                [counts.new, counts.updated, requests, run_id],
            )
    return counts


def _existing(db: Database, platform: str, ids: list[str]) -> dict[str, dict]:
    names = ("id",) + TRACKED
    sql = f"select {', '.join(names)} from replies where platform = ? and id in ({{marks}})"
    return {values[0]: dict(zip(names, values)) for values in select_in(db, sql, ids, [platform])}


def _write_cursor(db: Database, platform: str, thread_id: str, name: str, value: str | None, now: str) -> None:
    if value is None:
        db.execute(
            "delete from cursors where platform = ? and thread_id = ? and name = ?", [platform, thread_id, name]
        )
    else:
        db["cursors"].upsert(
            {"platform": platform, "thread_id": thread_id, "name": name, "value": value, "updated_at": now},
            pk=("platform", "thread_id", "name"),
        )


def get_cursor(db: Database, platform: str, thread_id: str, name: str) -> str | None:
    """A saved checkpoint for a thread, or None."""
    row = db.execute(
        "select value from cursors where platform = ? and thread_id = ? and name = ?", [platform, thread_id, name]
    ).fetchone()
    return row[0] if row else None


def start_run(db: Database, platform: str, thread_id: str, tool_version: str) -> int:
    """Record the start of a harvest; returns the run's id."""
    with db.atomic():
        table = db["harvest_runs"]
        table.insert({
            "platform": platform, "thread_id": thread_id, "started_at": utc_now(),
            "new_count": 0, "updated_count": 0, "requests": 0, "outcome": "running",
            "tool_version": tool_version,
        })
        return table.last_pk


def finish_run(db: Database, run_id: int, outcome: str, error: str | None = None, requests: int = 0,
               coverage: tuple[int, int | None] | None = None) -> None:
    """Close a run with its outcome (ok, rate_limited, interrupted, error) and, for a complete pass, its
    coverage (found, expected)."""
    now = utc_now()
    found, expected = coverage or (None, None)
    with db.atomic():
        db.execute(
            "update harvest_runs set ended_at = ?, outcome = ?, error = ?, requests = requests + ?, found = ?,"
            " expected = ? where id = ?",
            [now, outcome, error, requests, found, expected, run_id],
        )
        if outcome == "ok":
            db.execute(
                "update threads set last_harvest_at = ? where (platform, id) ="
                " (select platform, thread_id from harvest_runs where id = ?)",
                [now, run_id],
            )
