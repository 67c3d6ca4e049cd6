"""Stored `replies discover` runs: parameters and themes, for the report and for comparison."""

from __future__ import annotations

import json

from sqlite_utils import Database

from .queries import thread_filter
from .times import utc_now


def _thread_key(thread: tuple[str, str] | None) -> str | None:
    """How a discovery records its thread: PLATFORM:ID, or NULL for every thread."""
    return ":".join(thread) if thread else None


def save_discovery(db: Database, *, params: dict, themes: list[dict], replies: int, left_out: int,
                   model: str, codebook: str | None = None, codebook_hash: str | None = None,
                   thread: tuple[str, str] | None = None, uncovered: int | None = None,
                   centres: bytes | None = None) -> int:
    """Record one discovery; returns its id."""
    with db.atomic():
        table = db["discoveries"]
        table.insert({"created_at": utc_now(), "codebook": codebook, "codebook_hash": codebook_hash,
                      "thread": _thread_key(thread), "model": model,
                      "params": json.dumps(params, sort_keys=True), "replies": replies, "left_out": left_out,
                      "uncovered": uncovered, "themes": json.dumps(themes, ensure_ascii=False),
                      "centres": centres})
        return table.last_pk


def latest_discovery(db: Database, codebook_hash: str | None = None, *, same_as: dict | None = None) -> dict | None:
    """The latest discovery (among the replies `codebook_hash` left uncovered, when given), decoded.
    `same_as` narrows to runs with the same thread, model and parameters (keys as `save_discovery`'s)."""
    where, params = [], []
    if codebook_hash or same_as:
        where, params = ["codebook_hash is ?"], [codebook_hash]
    if same_as:
        where += ["thread is ?", "model = ?", "params = ?"]
        params += [_thread_key(same_as.get("thread")), same_as["model"],
                   json.dumps(same_as["params"], sort_keys=True)]
    sql = f"select * from discoveries {'where ' + ' and '.join(where) if where else ''} order by id desc limit 1"
    row = next(db.query(sql, params), None)
    if row is None:
        return None
    return {**row, "params": json.loads(row["params"]), "themes": json.loads(row["themes"])}


def discovery_replies(db: Database, *, thread: tuple[str, str] | None = None, codebook: str | None = None,
                      codebook_hash: str | None = None) -> list[dict]:
    """Replies with text (platform, id, text, created_at), oldest first. With a codebook: only those it
    leaves uncovered, classified with no category above its threshold and labelled by no reviewer."""
    where, params = thread_filter(thread)
    conditions = ["r.status = 'ok'", "r.text is not null", "r.text != ''", where]
    if codebook_hash:
        params.update(hash=codebook_hash, codebook=codebook)
        conditions += [
            "exists (select 1 from predictions p where p.platform = r.platform and p.id = r.id"
            " and p.codebook_hash = :hash)",
            "not exists (select 1 from predictions p where p.platform = r.platform and p.id = r.id"
            " and p.codebook_hash = :hash and p.predicted = 1)",
            "not exists (select 1 from gold_labels g where g.platform = r.platform and g.id = r.id"
            " and g.codebook = :codebook)"]
    sql = (f"select r.platform, r.id, r.text, r.created_at from replies r where {' and '.join(conditions)}"
           " order by r.created_at, r.platform, r.id")
    return [dict(row) for row in db.query(sql, params)]


def classified_count(db: Database, codebook_hash: str, thread: tuple[str, str] | None = None) -> int:
    """Replies with predictions from this codebook version."""
    where, params = thread_filter(thread)
    return db.execute(f"select count(distinct r.platform || ':' || r.id) from predictions p join replies r"
                      f" using (platform, id) where p.codebook_hash = :hash and {where}",
                      {**params, "hash": codebook_hash}).fetchone()[0]
