"""A thread as a tree: who replied to whom, read with one recursive query from the question down."""

from __future__ import annotations

import json

from sqlite_utils import Database

from .queries import MAX_DEPTH, final_labels_sql


def thread_tree(db: Database, platform: str, thread_id: str, *, codebook: str, codebook_hash: str) -> list[dict]:
    """Every post of the thread under its question, depth first, siblings oldest first: platform, id,
    parent_id, depth (1 for a reply to the question), kind, status, author, created_at, text, labels (final:
    reviewed, else predicted: a list) and `below` (how many posts are under it, at any depth). A post whose parent was
    never stored starts a branch of its own at depth 1. The walk never goes deeper than MAX_DEPTH, so parents
    that loop cannot keep it going; callers showing less cut by `depth` themselves."""
    sql = f"""
        with recursive tree(platform, id, depth, path) as (
          select r.platform, r.id, 1, coalesce(r.created_at, '') || char(30) || r.id from replies r
          where r.platform = :platform and r.thread_id = :thread
            and not exists (select 1 from replies p where p.platform = r.platform and p.id = r.parent_id
                            and p.thread_id = r.thread_id)
          union all
          select c.platform, c.id, tree.depth + 1,
                 tree.path || char(31) || coalesce(c.created_at, '') || char(30) || c.id
          from tree join replies c on c.platform = tree.platform and c.parent_id = tree.id
          where c.thread_id = :thread and tree.depth < {MAX_DEPTH}
        )
        select r.platform, r.id, r.parent_id, tree.depth, r.kind, r.status, r.author_handle as author,
          r.created_at, r.text, {final_labels_sql()} as labels, tree.path
        from tree join replies r on r.platform = tree.platform and r.id = tree.id
        order by tree.path
    """
    rows = [dict(row) for row in db.query(sql, {"platform": platform, "thread": thread_id,
                                                "codebook": codebook, "hash": codebook_hash})]
    # how many posts lie under each: counted bottom-up over the depth-first order
    below = [0] * len(rows)
    stack: list[int] = []
    for i, row in enumerate(rows):
        while stack and rows[stack[-1]]["depth"] >= row["depth"]:
            stack.pop()
        for j in stack:
            below[j] += 1
        stack.append(i)
    return [{**{k: v for k, v in row.items() if k != "path"}, "labels": json.loads(row["labels"] or "[]"),
             "below": below[i]} for i, row in enumerate(rows)]
