"""A thread as a tree: who replied to whom, walked from the question down without recursion, so that no shape
of data (a chain thousands deep, a fan of a hundred thousand, a reply whose parent is itself, two replies that
are each other's parent) can stop it or hide a stored reply."""

from __future__ import annotations

import json

from sqlite_utils import Database

from .queries import final_labels_sql
from .samples import BLIND_MEMBER_SQL


def thread_tree(db: Database, platform: str, thread_id: str, *, codebook: str, codebook_hash: str,
                hide_blind: bool = False) -> list[dict]:
    """Every stored post of the thread, depth first, siblings oldest first: platform, id, parent_id, depth (1
    for a reply to the question), kind, status, author, created_at, text, labels (final: reviewed, else
    predicted: a list), `below` (how many posts are under it, at any depth) and `loop` (true for a post shown at
    depth 1 because its chain of parents loops back on itself: a reply that is its own parent, or one of replies
    that are each other's). A post whose parent was never stored starts a branch of its own at depth 1. Every
    stored post appears exactly once.

    With `hide_blind`, a member of a blind sample still being coded carries only its reviewers' labels, never the
    model's, and `blind` true."""
    blind = BLIND_MEMBER_SQL if hide_blind else "0"
    rows = [dict(row) for row in db.query(f"""
        select r.platform, r.id, r.parent_id, r.kind, r.status, r.author_handle as author, r.created_at, r.text,
          {final_labels_sql()} as labels, {blind} as blind,
          (select json(g.labels) from gold_current g where g.platform = r.platform and g.id = r.id
           and g.codebook = :codebook) as gold
        from replies r where r.platform = :platform and r.thread_id = :thread
        """, {"platform": platform, "thread": thread_id, "codebook": codebook, "hash": codebook_hash})]
    order = lambda row: (row["created_at"] or "", row["id"])
    by_id = {row["id"]: row for row in rows}
    children: dict[str, list[dict]] = {}
    starts = []
    for row in rows:
        if row["parent_id"] in by_id and row["parent_id"] != row["id"]:
            children.setdefault(row["parent_id"], []).append(row)
        else:
            starts.append(row)  # a reply to the question, to a post never stored, or to itself
    for siblings in children.values():
        siblings.sort(key=order)
    out: list[dict] = []
    placed: set[str] = set()

    def walk(start: dict, loop: bool) -> None:
        stack = [(start, 1)]
        while stack:
            row, depth = stack.pop()
            placed.add(row["id"])
            out.append(_post(row, depth, loop and row is start))
            stack.extend((child, depth + 1) for child in reversed(children.get(row["id"], ()))
                         if child["id"] not in placed)

    for row in sorted(starts, key=order):
        walk(row, loop=row["parent_id"] == row["id"])
    # what no start reaches hangs from a loop of parents: each loop is opened at its oldest post
    for row in sorted((r for r in rows if r["id"] not in placed), key=order):
        if row["id"] not in placed:
            walk(row, loop=True)
    _count_below(out)
    return out


def _post(row: dict, depth: int, loop: bool) -> dict:
    labels = json.loads(row["labels"] or "[]")
    if row["blind"]:  # the model's tags are not shown: a reviewer's, where one coded it
        labels = json.loads(row["gold"]) if row["gold"] is not None else []
    return {"platform": row["platform"], "id": row["id"], "parent_id": row["parent_id"], "depth": depth,
            "kind": row["kind"], "status": row["status"], "author": row["author"], "created_at": row["created_at"],
            "text": row["text"], "labels": labels, "below": 0, "loop": loop, "blind": bool(row["blind"])}


def _count_below(posts: list[dict]) -> None:
    """Each post's `below`, from the depth-first order: a post's subtree is the run of deeper posts after it."""
    stack: list[dict] = []
    for post in posts:
        while stack and stack[-1]["depth"] >= post["depth"]:
            done = stack.pop()
            if stack:
                stack[-1]["below"] += done["below"] + 1
        stack.append(post)
    while stack:
        done = stack.pop()
        if stack:
            stack[-1]["below"] += done["below"] + 1
