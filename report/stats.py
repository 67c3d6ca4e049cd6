"""Summary counts for `replies stats` and the report: replies per category, reviewed, over time."""

from __future__ import annotations

from sqlite_utils import Database

from replies.db.queries import thread_filter


def category_stats(db: Database, codebook: str, codebook_hash: str | None,
                   thread: tuple[str, str] | None = None) -> list[dict]:
    """Per category: replies predicted, replies with a current gold label, and both."""
    where, params = thread_filter(thread)
    params.update(hash=codebook_hash, codebook=codebook)
    sql = f"""
        with pred as (
          select p.platform, p.id, p.category from predictions p join replies r using (platform, id)
          where p.codebook_hash = :hash and p.predicted = 1 and r.status = 'ok' and {where}),
        gold as (
          select g.platform, g.id, j.value as category from gold_current g join replies r using (platform, id),
            json_each(g.labels) j where g.codebook = :codebook and r.status = 'ok' and {where}),
        categories as (select category from pred union select category from gold)
        select c.category,
          (select count(*) from pred where pred.category = c.category) as predicted,
          (select count(*) from gold where gold.category = c.category) as gold,
          (select count(*) from pred join gold using (platform, id, category)
             where pred.category = c.category) as both_agree
        from categories c
    """
    return [dict(row) for row in db.query(sql, params)]


def reviewed_count(db: Database, codebook: str, thread: tuple[str, str] | None = None) -> int:
    """Replies with a current gold label from this codebook."""
    where, params = thread_filter(thread)
    return db.execute(f"select count(*) from gold_current g join replies r using (platform, id)"
                      f" where g.codebook = :codebook and {where}", {**params, "codebook": codebook}).fetchone()[0]


def replies_over_time(db: Database, thread: tuple[str, str] | None = None, period: str = "day") -> list[dict]:
    """Replies (with content) per day or hour, by the time they were posted."""
    width = {"day": 10, "hour": 13}[period]
    where, params = thread_filter(thread, alias="")
    sql = (f"select substr(created_at, 1, {width}) as {period}, count(*) as replies from replies"
           f" where status = 'ok' and created_at is not null and {where} group by 1 order by 1")
    return [dict(row) for row in db.query(sql, params)]
