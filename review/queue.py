"""The review queue: which replies a reviewer sees, in what order, and the context shown with each."""

from __future__ import annotations

import json

from sqlite_utils import Database

from replies.db.queries import thread_filter
from replies.db.samples import BLIND_MEMBER_SQL
from replies.db.versions import Reader, categories
from replies.errors import RepliesError

ORDERS = ("uncertain", "disagreement", "newest", "thread")
MODEL_ORDERS = ("uncertain", "disagreement")  # orders the model's scores decide


class QueueError(RepliesError):
    """A queue that cannot be made as asked: one that would let a blind coder see the model's answer."""

    exit_code = 2


def review_queue(db: Database, *, codebook: str, codebook_hash: str | None, reviewer: str,
                 order: str = "uncertain", thread: tuple[str, str] | None = None, category: str | None = None,
                 unreviewed: bool = True, reviewed_by: str | None = None,
                 unreviewed_by_anyone: bool = False, sample: str | None = None,
                 blind: bool = False) -> list[tuple[str, str]]:
    """(platform, id) of the replies to review, in order.

    uncertain: the reply whose score is nearest its threshold in any category first (where a human
    helps the model most); with 1/0 scores (a language model without log-probabilities) every reply is
    equally near, and the other coders' scores break the tie. disagreement: the replies on which the
    coders (the language model, the embedding classifier: every method and model stored) and the other
    reviewers disagree in most categories first. newest: latest first; thread: thread by thread, oldest first.
    `unreviewed` leaves out replies this reviewer already labelled, so a second reviewer
    still sees them and reopening carries on where the reviewer stopped. `reviewed_by` keeps only replies
    that reviewer labelled (to check or revisit their work); `unreviewed_by_anyone` only replies nobody
    labelled yet. `sample`: only that sample's members, in the draw's random order (whatever `order` says).

    Blindness: a `blind` queue (or a blind sample's) is chosen and ordered by nothing of the model's, so neither
    a category (replies the model tagged) nor a model-decided order is taken (QueueError); a queue that shows
    the model never holds a member of a blind sample still being coded (`replies.db.samples.blind_members`)."""
    if blind and category:
        raise QueueError(f"a blind queue cannot be limited to category {category!r}: the replies the model tagged "
                         "would tell you its answer; review blind without a category, or not blind")
    if blind and order in MODEL_ORDERS and not sample:
        raise QueueError(f"a blind queue cannot be in {order!r} order: the model's scores decide it; use "
                         "newest or thread")
    in_thread, params = thread_filter(thread)
    where = ["r.status = 'ok'", "r.text is not null", "r.text != ''", in_thread]
    params.update(hash=codebook_hash, codebook=codebook, reviewer=reviewer, category=category,
                  reviewed_by=reviewed_by, sample=sample)
    if sample:
        where.append("exists (select 1 from sample_units u join samples s on s.name = u.sample where u.sample = :sample"
                     " and u.platform = r.platform and u.id = r.id and u.position < s.size)")
        # a second coder with an overlap of this sample codes that overlap, in its own order
        where.append("(not exists (select 1 from sample_overlaps o where o.sample = :sample and o.coder = :reviewer)"
                     " or exists (select 1 from overlap_units v where v.sample = :sample and v.coder = :reviewer"
                     " and v.platform = r.platform and v.id = r.id))")
    elif not blind:  # this queue shows the model: not on replies a blind sample's coder has still to code
        where.append(f"not {BLIND_MEMBER_SQL}")
    if reviewed_by:
        where.append("exists (select 1 from gold_labels g where g.platform = r.platform and g.id = r.id"
                     " and g.codebook = :codebook and g.reviewer = :reviewed_by)")
    if unreviewed_by_anyone:
        where.append("not exists (select 1 from gold_labels g where g.platform = r.platform and g.id = r.id"
                     " and g.codebook = :codebook)")
    if unreviewed:
        where.append("not exists (select 1 from gold_labels g where g.platform = r.platform and g.id = r.id"
                     " and g.codebook = :codebook and g.reviewer = :reviewer)")
    if category:
        where.append("(exists (select 1 from predictions p where p.platform = r.platform and p.id = r.id"
                     " and p.codebook_hash = :hash and p.category = :category and p.predicted = 1)"
                     " or exists (select 1 from gold_current g, json_each(g.labels) j where g.platform = r.platform"
                     " and g.id = r.id and g.codebook = :codebook and j.value = :category))")
    order_by = {
        "uncertain": "uncertainty is null, uncertainty, others_uncertainty is null, others_uncertainty, "
                     "r.created_at, r.id",
        "disagreement": "disagreement desc, uncertainty is null, uncertainty, r.created_at, r.id",
        "newest": "r.created_at desc, r.id desc",
        "thread": "r.platform, r.thread_id, r.created_at, r.id",
    }[order]
    if sample:
        order_by = "(select v.position from overlap_units v where v.sample = :sample and v.coder = :reviewer" \
                   " and v.platform = r.platform and v.id = r.id), " \
                   "(select u.position from sample_units u where u.sample = :sample and u.platform = r.platform" \
                   " and u.id = r.id)"
    scores = {
        "uncertainty": """(select min(abs(p.score - p.threshold)) from predictions p where p.platform = r.platform
             and p.id = r.id and p.codebook_hash = :hash)""",
        "others_uncertainty": """(select min(abs(c.score - c.threshold)) from coder_labels c join predictions p
             on p.platform = c.platform and p.id = c.id and p.codebook_hash = c.codebook_hash
             and p.category = c.category
             where c.platform = r.platform and c.id = r.id and c.codebook_hash = :hash
             and (c.method != coalesce(p.method, '') or c.model != coalesce(p.model, '')))""",
        "disagreement": """((select count(distinct c.category) from coder_labels c where c.platform = r.platform
             and c.id = r.id and c.codebook_hash = :hash
             and exists (select 1 from coder_labels d where d.platform = c.platform and d.id = c.id
                         and d.codebook_hash = c.codebook_hash and d.category = c.category
                         and d.predicted != c.predicted))
          + (select count(*) from predictions p, gold_labels g where p.platform = r.platform and p.id = r.id
             and p.codebook_hash = :hash and g.platform = r.platform and g.id = r.id and g.codebook = :codebook
             and g.reviewer != :reviewer
             and (p.predicted = 1) != exists (select 1 from json_each(g.labels) j where j.value = p.category)))""",
    }
    needed = [name for name in scores if name in order_by]  # only what this order sorts by is computed
    columns = "".join(f", {scores[name]} as {name}" for name in needed)
    sql = f"select r.platform, r.id{columns} from replies r where {' and '.join(where)} order by {order_by}"
    return [row[0:2] for row in db.execute(sql, params).fetchall()]


def reply_context(db: Database, platform: str, reply_id: str, *, codebook: str, codebook_hash: str | None,
                  reviewer: str) -> dict:
    """The reply, the post it answers, the question, its predictions and this reviewer's earlier label. The
    predictions are empty (and `blind_member` true) for a member of a blind sample still being coded."""
    reply = dict(next(db.query("select * from replies where platform = ? and id = ?", [platform, reply_id])))
    parent = None
    if reply.get("parent_id"):
        parent = next(db.query("select author_handle, text from replies where platform = ? and id = ?",
                               [platform, reply["parent_id"]]), None) \
            or next(db.query("select author_handle, text from threads where platform = ? and id = ?",
                             [platform, reply["parent_id"]]), None)
    question = next(db.query("select author_handle, text from threads where platform = ? and id = ?",
                             [platform, reply["thread_id"]]), None)
    predictions = {row["category"]: row for row in db.query(  # a NULL score (older versions stored some) is no score
        "select category, score, predicted, threshold from predictions where platform = ? and id = ?"
        " and codebook_hash = ? and typeof(score) in ('real', 'integer')", [platform, reply_id, codebook_hash])}
    hidden = db.execute(f"select 1 from replies r where r.platform = :platform and r.id = :id and {BLIND_MEMBER_SQL}",
                        {"platform": platform, "id": reply_id, "codebook": codebook}).fetchone() is not None
    if hidden:  # a member of a blind sample being coded: whoever opens it, however, codes it blind
        predictions = {}
    mine = next(db.query("select labels, note, codebook_hash from gold_labels where platform = ? and id = ? and"
                         " codebook = ? and reviewer = ?", [platform, reply_id, codebook, reviewer]), None)
    own = None
    if mine:  # read under the version in use: a code given under another version says so
        ids = [c["id"] for c in categories(db, codebook_hash) or []] if codebook_hash else []
        own = json.loads(mine["labels"])
        if ids and mine["codebook_hash"] not in (None, codebook_hash):
            own = list(Reader(db, codebook_hash, ids).read(own, mine["codebook_hash"]).labels)
    chain = ancestors(db, platform, reply.get("parent_id"), reply["thread_id"])
    return {"reply": reply, "parent": dict(parent) if parent else None, "chain": chain,
            "more_above": replies_above(db, platform, chain[0]["parent_id"], reply["thread_id"]) if chain else 0,
            "question": dict(question) if question else None, "predictions": predictions, "blind_member": hidden,
            "own_labels": own, "own_note": mine["note"] if mine else None,
            "own_version": mine["codebook_hash"] if mine and mine["codebook_hash"] not in (None, codebook_hash)
            else None}


def replies_above(db: Database, platform: str, parent_id: str | None, thread_id: str, limit: int = 10_000) -> int:
    """How many replies lie above `parent_id` and it, up to the question (counted up to `limit`, a loop once)."""
    seen: set[str] = set()
    while parent_id and parent_id != thread_id and parent_id not in seen and len(seen) < limit:
        row = db.execute("select parent_id from replies where platform = ? and id = ?", [platform, parent_id]).fetchone()
        if row is None:
            break
        seen.add(parent_id)
        parent_id = row[0]
    return len(seen)


def ancestors(db: Database, platform: str, parent_id: str | None, thread_id: str, limit: int = 12) -> list[dict]:
    """The replies above a reply, up to (not including) the question, oldest first; at most `limit`, the
    nearest kept, so a long chain (or a cycle in bad data) stays bounded."""
    chain: list[dict] = []
    seen = set()
    while parent_id and parent_id != thread_id and parent_id not in seen and len(chain) < limit:
        seen.add(parent_id)
        row = next(db.query("select id, parent_id, author_handle, text, created_at from replies"
                            " where platform = ? and id = ?", [platform, parent_id]), None)
        if row is None:
            break
        chain.append(dict(row))
        parent_id = row["parent_id"]
    return chain[::-1]
