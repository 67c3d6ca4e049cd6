"""The forum's API, served by replies' emulator from its World (posts under the platform name "forum")."""

from __future__ import annotations

import re
from datetime import timedelta

from replies.emulator.reply import Reply

PAGE = 3


def serves(path: str) -> bool:
    return path.startswith("/forum-api/")


def _json(post, world) -> dict:
    return {"id": int(post.id), "author": post.author.handle, "text": post.text,
            "created_at": post.created_at.isoformat(), "reply_to": int(post.parent) if post.parent else None,
            "reply_count": len(world.replies_to("forum", post.id))}


def handle(emulator, path: str, query, headers) -> Reply:
    if (query.get("key") or [""])[-1] != "forum-key":
        return Reply(403, {"error": "bad key"})
    world = emulator.world
    if m := re.fullmatch(r"/forum-api/topics/(\d+)\.json", path):
        post = world.get("forum", m.group(1))
        if post is None:
            return Reply(404, {"error": "no such topic"})
        return Reply(200, {**_json(post, world), "reply_count": len(world.thread("forum", post.id))})
    if m := re.fullmatch(r"/forum-api/topics/(\d+)/posts\.json", path):
        every = world.thread("forum", m.group(1))
        page = int((query.get("page") or ["1"])[-1])
        chunk = every[(page - 1) * PAGE:page * PAGE]
        return Reply(200, {"posts": [_json(p, world) for p in chunk],
                           "next_page": page + 1 if page * PAGE < len(every) else None})
    return Reply(404, {"error": "not found"})


def load_sample(world) -> str:
    """A topic and seven replies, two of them naming another member; returns the topic's URL."""
    start = world.now() - timedelta(days=1)
    root = world.add("forum", "asker", "Why is lean improvement harder in our hospital?", start)
    texts = [("nurse_amy", "Nobody gives us time to run the improvement work", None),
             ("doc_bob", "Agree with ~nurse_amy, there is no protected time at all", 0),
             ("manager_cy", "Money follows activity, not improvement", None),
             ("nurse_amy", "Policy targets change every year", None),
             ("porter_dan", "Staff are protective of their own roles", None),
             ("doc_bob", "~porter_dan is right about the professional silos", 4),
             ("analyst_eve", "We never measure whether a change worked", None)]
    added = []
    for minute, (author, text, parent) in enumerate(texts, start=1):
        added.append(world.add("forum", author, text, start + timedelta(minutes=minute),
                               parent=root.id if parent is None else added[parent].id))
    return f"https://forum.example/t/{root.id}"
