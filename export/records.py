"""The records every export streams: one per reply with content, with its labels for one codebook version.

Records stream from one SQL query, so memory stays flat in the number of replies; JSONL and CSV rows
are built mostly by SQLite, which keeps those exports within 2x of a plain row dump.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlite_utils import Database

from replies.codebook import Codebook
from replies.db.queries import depth_sql, final_labels_sql, fts_query, thread_filter
from replies.db.samples import BLIND_MEMBER_SQL

FIELDS = ("platform", "id", "thread", "parent_id", "depth", "kind", "author", "text", "spoiler_text", "quote_of",
          "created_at", "url", "labels", "scores", "gold", "gold_codebook", "samples")


SORTS = {"thread": "r.platform {dir}, r.thread_id {dir}, r.created_at {dir}, r.id {dir}",
         "time": "r.created_at {dir}, r.id {dir}",
         "likes": "coalesce(r.like_count, 0) {dir}, r.created_at, r.id",
         "author": "r.author_handle collate nocase {dir}, r.created_at, r.id"}
SOURCES = ("final", "predicted", "gold")
DESCENDING_FIRST = ("time", "likes")  # sorts a table shows largest first until told otherwise


@dataclass(frozen=True)
class Selection:
    """Which replies an export (or a page of `replies serve`'s table) holds, and in what order.

    `search` is searched in the text: its words as written, or as an FTS5 query with `search_syntax`; `category` keeps replies carrying it by `source`: predicted,
    gold (a reviewer's current label) or final (gold where a human looked, else predicted); `since` and
    `until` are dates (YYYY-MM-DD, both included)."""
    thread: tuple[str, str] | None = None
    gold_only: bool = False
    platform: str | None = None
    search: str | None = None
    search_syntax: bool = False
    category: str | None = None
    source: str = "final"
    since: str | None = None
    until: str | None = None
    sort: str = "thread"
    descending: bool = False
    # a page a coder may see: members of a blind sample being coded are never chosen by the model's tags (a
    # predicted or final category), and `page_of` shows no model tags for them
    hide_blind: bool = False

    def where(self, codebook: Codebook) -> tuple[str, dict]:
        in_thread, params = thread_filter(self.thread)
        where = ["r.status = 'ok'", in_thread]
        params.update(hash=codebook.hash, codebook=codebook.name)
        if self.gold_only:
            where.append("exists (select 1 from gold_labels g where g.platform = r.platform and g.id = r.id"
                         " and g.codebook = :codebook)")
        if self.platform:
            where.append("r.platform = :platform")
            params["platform"] = self.platform
        query = fts_query(self.search, self.search_syntax) if self.search else ""
        if query:
            where.append("r.rowid in (select rowid from replies_fts where replies_fts match :search)")
            params["search"] = query
        if self.category:
            params["category"] = self.category
            where.append({
                "predicted": "exists (select 1 from predictions p where p.platform = r.platform and p.id = r.id"
                             " and p.codebook_hash = :hash and p.category = :category and p.predicted = 1)",
                "gold": "exists (select 1 from gold_current g, json_each(g.labels) j where g.platform = r.platform"
                        " and g.id = r.id and g.codebook = :codebook and j.value = :category)",
                "final": f"exists (select 1 from json_each({final_labels_sql()}) j where j.value = :category)",
            }[self.source])
            if self.hide_blind and self.source != "gold":
                where.append(f"not {BLIND_MEMBER_SQL}")
        if self.since:
            where.append("r.created_at >= :since")
            params["since"] = self.since
        if self.until:
            where.append("r.created_at < :until || 'T24'")  # the whole of that day
            params["until"] = self.until
        return " and ".join(where), params

    def order(self) -> str:
        return "order by " + SORTS[self.sort].format(dir="desc" if self.descending else "asc")


def _selection(codebook: Codebook, thread: tuple[str, str] | None, gold_only: bool,
               selection: Selection | None) -> tuple[str, dict, str]:
    chosen = selection or Selection(thread=thread, gold_only=gold_only)
    where, params = chosen.where(codebook)
    return where, params, chosen.order()


# Predictions are read in primary-key order, so labels and scores come sorted by category id.
_LABELS = ("(select {agg} from predictions p where p.platform = r.platform and p.id = r.id"
           " and p.codebook_hash = :hash and p.predicted = 1)")
_SCORES = ("(select json_group_object(p.category, round(p.score, 4)) from predictions p"
           " where p.platform = r.platform and p.id = r.id and p.codebook_hash = :hash)")
_GOLD = ("(select json(g.labels) from gold_current g where g.platform = r.platform and g.id = r.id"
         " and g.codebook = :codebook)")
# the codebook version the reply's current code was given under
_GOLD_VERSION = ("(select g.codebook_hash from gold_current g where g.platform = r.platform and g.id = r.id"
                 " and g.codebook = :codebook)")
# the samples (by name, sorted) the reply is a member of: drawn into, not merely in the population of
_SAMPLES = ("(select json_group_array(name) from (select u.sample as name from sample_units u"
            " join samples s on s.name = u.sample where u.platform = r.platform and u.id = r.id"
            " and u.position < s.size order by u.sample))")


def jsonl_lines(db: Database, codebook: Codebook, *, thread: tuple[str, str] | None = None,
                gold_only: bool = False, selection: Selection | None = None) -> Iterator[str]:
    """One JSON object (text) per reply with content (not deleted or blocked stubs): the JSONL export
    contract (labels, scores, gold) for one codebook version. `gold_only` keeps reviewed replies only.

    SQLite builds each object itself, which keeps the export within 2x of a plain row dump."""
    where, params, order = _selection(codebook, thread, gold_only, selection)
    sql = f"""
        select json_object(
          'platform', r.platform, 'id', r.id, 'thread', r.thread_id, 'parent_id', r.parent_id,
          'depth', {depth_sql()}, 'kind', r.kind,
          'author', r.author_handle, 'text', r.text, 'spoiler_text', r.spoiler_text, 'quote_of', r.quote_of,
          'created_at', r.created_at, 'url', r.url,
          'labels', {_LABELS.format(agg="json_group_array(p.category)")}, 'scores', {_SCORES}, 'gold', {_GOLD},
          'gold_codebook', {_GOLD_VERSION}, 'samples', json({_SAMPLES}))
        from replies r where {where} {order}
    """
    for (line,) in db.execute(sql, params):
        yield line


def csv_rows(db: Database, codebook: Codebook, *, thread: tuple[str, str] | None = None,
             gold_only: bool = False, selection: Selection | None = None) -> Iterator[list]:
    """The CSV export's rows (see `replies.export.formats.csv_header`), built mostly by SQLite for speed."""
    where, params, order = _selection(codebook, thread, gold_only, selection)
    sql = f"""
        select r.platform, r.id, r.thread_id, r.parent_id, {depth_sql()}, r.kind, r.author_handle, r.text,
          r.spoiler_text, r.quote_of, r.created_at, r.url,
          {_LABELS.format(agg="json_group_array(p.category)")}, {_SCORES}, {_GOLD}, {_GOLD_VERSION}, {_SAMPLES}
        from replies r where {where} {order}
    """
    ids = codebook.ids
    for *fields, labels, scores, gold, version, samples in db.execute(sql, params):
        predicted = json.loads(labels)
        coded = json.loads(gold) if gold is not None else None
        yield [*fields, ";".join(predicted), scores or "{}", "" if coded is None else ";".join(coded),
               int(coded is not None), version, ";".join(json.loads(samples)),
               *category_columns(ids, predicted, coded, scores not in (None, "{}"))]


def category_columns(ids: tuple[str, ...] | list[str], labels: list[str], gold: list[str] | None,
                     scored: bool) -> list:
    """The CSV's and Parquet's per-category columns: `gold_<id>` 1/0 as a human coded the reply (empty where
    nobody did), then `model_<id>` 1/0 as the model tagged it (empty where this codebook version never scored
    it). Human and model labels are kept apart so that neither passes for the other."""
    chosen = set(gold) if gold is not None else None
    tagged = set(labels)
    return [*("" if chosen is None else int(c in chosen) for c in ids),
            *((int(c in tagged) if scored else "") for c in ids)]


def count_selected(db: Database, codebook: Codebook, selection: Selection) -> int:
    """How many replies `selection` holds."""
    where, params = selection.where(codebook)
    return db.execute(f"select count(*) from replies r where {where}", params).fetchone()[0]


def page_of(db: Database, codebook: Codebook, selection: Selection, *, limit: int, offset: int) -> list[dict]:
    """One page of the selected replies, in its order, for a table: the display columns with `predicted` and
    `gold` label lists. The page's keys are found first, so only its own rows are read in full. With
    `selection.hide_blind`, a member of a blind sample being coded shows no predicted tags (`blind` true)."""
    where, params, order = _selection(codebook, None, False, selection)
    blind = BLIND_MEMBER_SQL if selection.hide_blind else "0"
    sql = f"""
        select r.platform, r.id, r.author_handle, r.created_at, r.like_count, {depth_sql()} as depth, r.text,
          r.url, {_LABELS.format(agg="json_group_array(p.category)")} as predicted, {_GOLD} as gold,
          {blind} as blind
        from replies r where r.rowid in (
          select r.rowid from replies r where {where} {order} limit :limit offset :offset)
        {order}
    """
    return [{**dict(row), "predicted": [] if row["blind"] else json.loads(row["predicted"]),
             "gold": json.loads(row["gold"]) if row["gold"] is not None else None, "blind": bool(row["blind"])}
            for row in db.query(sql, {**params, "limit": limit, "offset": offset})]


def final_label_keys(db: Database, codebook: Codebook, *, thread: tuple[str, str] | None = None,
                     gold_only: bool = False, selection: Selection | None = None
                     ) -> Iterator[tuple[tuple[str, str], list[str]]]:
    """((platform, id), final labels) of every exported reply, in export order (for stratified splits)."""
    where, params, order = _selection(codebook, thread, gold_only, selection)
    sql = f"select r.platform, r.id, {final_labels_sql()} from replies r where {where} {order}"
    for platform, reply_id, final in db.execute(sql, params):
        yield (platform, reply_id), json.loads(final)


def jsonl_records(db: Database, codebook: Codebook, **options) -> Iterator[dict]:
    """The same records as `jsonl_lines`, as dicts."""
    for line in jsonl_lines(db, codebook, **options):
        yield json.loads(line)


def read_under(records: Iterator[dict], reader) -> Iterator[dict]:
    """Records whose `gold` is read under the codebook version in use (`replies.db.versions.Reader`): a code
    given under another version keeps the categories both share and follows a recorded mapping; `gold_codebook`
    still says which version it was given under."""
    for record in records:
        if record["gold"] is not None and record["gold_codebook"] not in (None, reader.hash):
            record = {**record, "gold": list(reader.read(record["gold"], record["gold_codebook"]).labels)}
        yield record


def final_labels(record: dict) -> list[str]:
    """The labels a record carries in the end: `gold` where a human looked, else `labels` (predicted);
    the same rule as `replies.db.queries.final_labels_sql`, read from a record's own fields."""
    return record["gold"] if record["gold"] is not None else record["labels"]
