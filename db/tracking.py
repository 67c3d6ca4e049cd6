"""Which threads a scheduled harvest follows, and until when."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlite_utils import Database

from .times import parse_iso, to_iso, utc_now

DEFAULT_DAYS = 14


def track(db: Database, url: str, until: str | None = None) -> None:
    """Follow `url` until `until` (ISO time), or 14 days after the post when None."""
    with db.atomic():
        db.execute("insert into tracked (url, until, added_at) values (?, ?, ?) on conflict(url) do update"
                   " set until = excluded.until", [url, until, utc_now()])


def link_thread(db: Database, url: str, platform: str, thread_id: str) -> None:
    """Remember which stored thread a tracked URL is (known after its first harvest)."""
    with db.atomic():
        db.execute("update tracked set platform = ?, thread_id = ? where url = ?", [platform, thread_id, url])


def untrack(db: Database, url: str) -> bool:
    with db.atomic():
        return db.execute("delete from tracked where url = ?", [url]).rowcount > 0


def tracked(db: Database, now: datetime | None = None) -> list[dict]:
    """Every tracked URL with its thread (once harvested), effective end and whether it is still active."""
    now = now or datetime.now(timezone.utc)
    out = []
    for row in db.query("""
            select k.url, k.until, k.added_at, t.platform, t.id as thread_id, t.created_at
            from tracked k left join threads t on t.platform = k.platform and t.id = k.thread_id
            order by k.rowid"""):
        row = dict(row)
        if row["until"]:
            ends = parse_iso(row["until"])
        elif row["created_at"]:
            ends = parse_iso(row["created_at"]) + timedelta(days=DEFAULT_DAYS)
        else:  # not harvested yet: its post time is not known, so it stays active until it is
            ends = None
        row["ends"] = to_iso(ends) if ends else None
        row["active"] = ends is None or now < ends
        out.append(row)
    return out


def mark_abandoned_runs(db: Database, note: str) -> int:
    """Runs left 'running' by a process that died (kill -9, power cut) become 'interrupted'."""
    with db.atomic():
        return db.execute("update harvest_runs set outcome = 'interrupted', ended_at = ?, error = ?"
                          " where outcome = 'running'", [utc_now(), note]).rowcount
