"""What more than one page needs: a thread or a reply named in a request, refused with 400 or 404."""

from __future__ import annotations

from flask import abort, g

from replies.db import labels as label_store
from replies.db.errors import UnknownThread
from replies.platforms.refs import find_thread


def thread_of(ref: str):
    if not ref:
        return None
    try:
        row = find_thread(g.db, ref)
    except UnknownThread as exc:
        abort(400, description=str(exc))
    return row["platform"], row["id"]

def reply_key(ref: str) -> tuple[str, str]:
    platform, sep, reply_id = ref.partition(":")
    if not sep or not label_store.reply_exists(g.db, platform, reply_id):
        abort(404, description=f"no reply {ref!r} in this database")
    return platform, reply_id
