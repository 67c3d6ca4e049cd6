"""Streaming exports of replies with their labels."""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlite_utils import Database

from .labels import gold


def jsonl_records(db: Database, *, codebook: str | None, codebook_hash: str | None,
                  thread: tuple[str, str] | None = None) -> Iterator[dict]:
    """One dict per reply with content (not deleted or blocked stubs): the JSONL export contract
    (labels, scores, gold) for one codebook version."""
    reviewed = gold(db, codebook) if codebook else {}
    where, params = ["r.status = 'ok'"], []
    if thread:
        where.append("r.platform = ? and r.thread_id = ?")
        params += list(thread)
    sql = (
        "select r.platform, r.id, r.thread_id, r.parent_id, r.kind, r.author_handle, r.text, r.created_at, r.url,"
        " (select json_group_object(p.category, p.score) from predictions p where p.platform = r.platform"
        "   and p.id = r.id and p.codebook_hash = ?) as scores,"
        " (select json_group_array(p.category) from predictions p where p.platform = r.platform"
        "   and p.id = r.id and p.codebook_hash = ? and p.predicted = 1) as labels"
        f" from replies r where {' and '.join(where)} order by r.platform, r.thread_id, r.created_at, r.id"
    )
    for row in db.execute(sql, [codebook_hash, codebook_hash, *params]):
        platform, reply_id, thread_id, parent_id, kind, author, text, created_at, url, scores, labels = row
        scores = json.loads(scores) if scores and scores != "{}" else {}
        yield {
            "platform": platform, "id": reply_id, "thread": thread_id, "parent_id": parent_id, "kind": kind,
            "author": author, "text": text, "created_at": created_at, "url": url,
            "labels": sorted(json.loads(labels)) if scores else [],
            "scores": {k: round(v, 4) for k, v in scores.items()},
            "gold": reviewed.get((platform, reply_id)),
        }
