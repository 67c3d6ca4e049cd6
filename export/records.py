"""The records every export streams: one per reply with content, with its labels for one codebook version.

Records stream from one SQL query, so memory stays flat in the number of replies; JSONL and CSV rows
are built mostly by SQLite, which keeps those exports within 2x of a plain row dump.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlite_utils import Database

from replies.classifier.codebook import Codebook
from replies.db.queries import final_labels_sql, thread_filter

FIELDS = ("platform", "id", "thread", "parent_id", "kind", "author", "text", "spoiler_text", "quote_of",
          "created_at", "url", "labels", "scores", "gold")


def _selection(codebook: Codebook, thread: tuple[str, str] | None, gold_only: bool) -> tuple[str, dict]:
    in_thread, params = thread_filter(thread)
    where = ["r.status = 'ok'", in_thread]
    params.update(hash=codebook.hash, codebook=codebook.name)
    if gold_only:
        where.append("exists (select 1 from gold_labels g where g.platform = r.platform and g.id = r.id"
                     " and g.codebook = :codebook)")
    return " and ".join(where), params


# Predictions are read in primary-key order, so labels and scores come sorted by category id.
_LABELS = ("(select {agg} from predictions p where p.platform = r.platform and p.id = r.id"
           " and p.codebook_hash = :hash and p.predicted = 1)")
_SCORES = ("(select json_group_object(p.category, round(p.score, 4)) from predictions p"
           " where p.platform = r.platform and p.id = r.id and p.codebook_hash = :hash)")
_GOLD = ("(select json(g.labels) from gold_current g where g.platform = r.platform and g.id = r.id"
         " and g.codebook = :codebook)")
_ORDER = "order by r.platform, r.thread_id, r.created_at, r.id"


def jsonl_lines(db: Database, codebook: Codebook, *, thread: tuple[str, str] | None = None,
                gold_only: bool = False) -> Iterator[str]:
    """One JSON object (text) per reply with content (not deleted or blocked stubs): the JSONL export
    contract (labels, scores, gold) for one codebook version. `gold_only` keeps reviewed replies only.

    SQLite builds each object itself, which keeps the export within 2x of a plain row dump."""
    where, params = _selection(codebook, thread, gold_only)
    sql = f"""
        select json_object(
          'platform', r.platform, 'id', r.id, 'thread', r.thread_id, 'parent_id', r.parent_id, 'kind', r.kind,
          'author', r.author_handle, 'text', r.text, 'spoiler_text', r.spoiler_text, 'quote_of', r.quote_of,
          'created_at', r.created_at, 'url', r.url,
          'labels', {_LABELS.format(agg="json_group_array(p.category)")}, 'scores', {_SCORES}, 'gold', {_GOLD})
        from replies r where {where} {_ORDER}
    """
    for (line,) in db.execute(sql, params):
        yield line


def csv_rows(db: Database, codebook: Codebook, *, thread: tuple[str, str] | None = None,
             gold_only: bool = False) -> Iterator[list]:
    """The CSV export's rows (see `replies.export.formats.write_csv`), built mostly by SQLite for speed."""
    where, params = _selection(codebook, thread, gold_only)
    sql = f"""
        select r.platform, r.id, r.thread_id, r.parent_id, r.kind, r.author_handle, r.text, r.spoiler_text,
          r.quote_of, r.created_at, r.url,
          {_LABELS.format(agg="group_concat(p.category, ';')")}, {_SCORES},
          (select group_concat(j.value, ';') from json_each({_GOLD}) j), {final_labels_sql()}
        from replies r where {where} {_ORDER}
    """
    for row in db.execute(sql, params):
        *fields, final = row
        chosen = set(json.loads(final))
        yield [*fields, *(1 if c in chosen else 0 for c in codebook.ids)]


def final_label_keys(db: Database, codebook: Codebook, *, thread: tuple[str, str] | None = None,
                     gold_only: bool = False) -> Iterator[tuple[tuple[str, str], list[str]]]:
    """((platform, id), final labels) of every exported reply, in export order (for stratified splits)."""
    where, params = _selection(codebook, thread, gold_only)
    sql = f"select r.platform, r.id, {final_labels_sql()} from replies r where {where} {_ORDER}"
    for platform, reply_id, final in db.execute(sql, params):
        yield (platform, reply_id), json.loads(final)


def jsonl_records(db: Database, codebook: Codebook, **options) -> Iterator[dict]:
    """The same records as `jsonl_lines`, as dicts."""
    for line in jsonl_lines(db, codebook, **options):
        yield json.loads(line)


def final_labels(record: dict) -> list[str]:
    """The labels a record carries in the end: `gold` where a human looked, else `labels` (predicted);
    the same rule as `replies.db.queries.final_labels_sql`, read from a record's own fields."""
    return record["gold"] if record["gold"] is not None else record["labels"]
