"""Random samples of replies (`replies sample`) and what `replies estimate` reads about them.

A sample keeps its whole population, each reply at its place in the draw's random order; the members are
the first `size` places. Which order is the estimate's business (`replies.estimate.draw`); this module only
stores and reads it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlite_utils import Database

from .queries import thread_filter
from .times import utc_now

Key = tuple[str, str]


@dataclass(frozen=True)
class PopulationRule:
    """What a sample's population counts, beyond "every reply with text, not the question itself": the
    asker's own posts (left out by default: they answer their own question), quote posts (counted by default),
    and the copies of one text one author posted several times, on one platform or cross-posted on several
    (counted once by default: one person's one answer)."""

    asker: bool = False       # count the asker's own posts
    quotes: bool = True       # count quote posts
    duplicates: bool = False  # count each copy of a text an author posted more than once

    def describe(self, left_out: dict[str, int] | None = None) -> str:
        """The rule in words, with how many replies each part left out where known."""
        left_out = left_out or {}
        n = lambda key: f" ({left_out[key]} left out)" if key in left_out else ""
        return "; ".join([
            "the asker's own posts counted" if self.asker else f"the asker's own posts not counted{n('asker')}",
            "quote posts counted" if self.quotes else f"quote posts not counted{n('quotes')}",
            "every copy of a repeated text counted" if self.duplicates else
            f"a text one author posted more than once counted once{n('duplicates')}"])

    def as_json(self) -> dict:
        return {"asker": self.asker, "quotes": self.quotes, "duplicates": self.duplicates}


def population(db: Database, thread: Key | None = None, rule: PopulationRule | None = None
               ) -> tuple[list[Key], dict[str, int]]:
    """(platform, id) of every reply a sample can hold now under `rule` (default: PopulationRule()), and how
    many each part of the rule left out. Always: status ok, with text, not the question post itself (some
    imports store it among the replies too); one thread's with `thread`, else every thread's."""
    rule = rule or PopulationRule()
    where, params = thread_filter(thread)
    rows = db.execute(
        f"select r.platform, r.id, r.kind, r.author_id, r.author_handle, r.text, r.created_at,"
        f" t.author_id, t.author_handle from replies r left join threads t on t.platform = r.platform"
        f" and t.id = r.thread_id where r.status = 'ok' and r.text is not null and r.text != ''"
        f" and r.id != r.thread_id and {where} order by r.platform, r.id", params).fetchall()
    left_out = {"asker": 0, "quotes": 0, "duplicates": 0}
    kept, first_copy = [], {}
    for platform, reply_id, kind, author_id, handle, text, created_at, asker_id, asker_handle in rows:
        if not rule.asker and _same_author(author_id, handle, asker_id, asker_handle):
            left_out["asker"] += 1
            continue
        if not rule.quotes and kind == "quote":
            left_out["quotes"] += 1
            continue
        key = (platform, reply_id)
        author = _author_key(platform, author_id, handle)
        if not rule.duplicates and author:
            copy = (author, text_key(text))
            earlier = first_copy.get(copy)
            if earlier is not None:
                left_out["duplicates"] += 1
                if (created_at or "", key) < earlier[0]:  # the earliest copy stays, whatever the order read
                    kept[earlier[1]] = key
                    first_copy[copy] = ((created_at or "", key), earlier[1])
                continue
            first_copy[copy] = ((created_at or "", key), len(kept))
        kept.append(key)
    return sorted(kept), {k: v for k, v in left_out.items() if k in _rules_applied(rule)}


def _rules_applied(rule: PopulationRule) -> set[str]:
    return {name for name, counted in (("asker", rule.asker), ("quotes", rule.quotes),
                                       ("duplicates", rule.duplicates)) if not counted}


def _same_author(author_id, handle, asker_id, asker_handle) -> bool:
    if author_id and asker_id:
        return str(author_id) == str(asker_id)
    return bool(handle and asker_handle and handle.lower() == asker_handle.lower())


_BLUESKY_SUFFIX = re.compile(r"\.bsky\.social$")


def _author_key(platform: str, author_id, handle) -> str | None:
    """Who wrote a post, across platforms: the handle's name without its server or Bluesky's domain, letters and
    digits only (joy_improves on X, joy.improves on Bluesky and joy_improves@server on Mastodon are one person);
    the platform's own id where there is no handle; None when the author is unknown (copies then all count)."""
    if handle:
        name = _BLUESKY_SUFFIX.sub("", handle.lower().lstrip("@").split("@", 1)[0])
        name = re.sub(r"[^0-9a-z]", "", name)
        if name:
            return name
    return f"{platform}:{author_id}" if author_id else None


def text_key(text: str) -> str:
    """A text as its copies share it: without the @mentions a platform puts first, case and spacing folded."""
    text = re.sub(r"^(?:[@＠][\w.@:-]+\s+)+", "", text.strip())
    return " ".join(text.casefold().split())


def one_of_each_text(rows: Iterable[dict], limit: int) -> list[dict]:
    """The first `limit` rows with each text once, as copies share it (`text_key`): an author's reply
    cross-posted on four platforms is one exemplar, not four."""
    kept, seen = [], set()
    for row in rows:
        key = text_key(row.get("text") or "")
        if key not in seen:
            seen.add(key)
            kept.append(row)
            if len(kept) == limit:
                break
    return kept


def save_sample(db: Database, *, name: str, seed: int, order: Sequence[Key], size: int, thread: Key | None,
                tool_version: str, blind: bool = True, rule: PopulationRule | None = None,
                left_out: dict[str, int] | None = None) -> None:
    """Record a new sample: its population in the draw's `order`, the first `size` of them its members,
    whether it is coded blind to the model, and the population's rule with what it left out."""
    rule = rule or PopulationRule()
    now = utc_now()
    with db.atomic():
        db["samples"].insert({"name": name, "seed": seed, "size": size, "population": len(order),
                              "thread_platform": thread[0] if thread else None,
                              "thread_id": thread[1] if thread else None, "created_at": now,
                              "history": json.dumps([{"size": size, "at": now}]), "tool_version": tool_version,
                              "blind": int(blind),
                              "population_rule": json.dumps({**rule.as_json(), "left_out": left_out or {}})})
        db.conn.executemany("insert into sample_units (sample, position, platform, id) values (?, ?, ?, ?)",
                            ((name, position, platform, reply_id) for position, (platform, reply_id)
                             in enumerate(order)))


def _row(row: dict) -> dict:
    row["history"] = json.loads(row["history"] or "[]")
    row["blind"] = bool(row.get("blind", 1))
    recorded = json.loads(row.get("population_rule") or "null")
    # a sample drawn before rules were recorded counted every reply with text
    row["rule"] = (PopulationRule(recorded["asker"], recorded["quotes"], recorded["duplicates"]) if recorded
                   else PopulationRule(asker=True, quotes=True, duplicates=True))
    row["left_out"] = (recorded or {}).get("left_out", {})
    row["thread"] = (row["thread_platform"], row["thread_id"]) if row["thread_id"] is not None else None
    return row


def get_sample(db: Database, name: str) -> dict | None:
    """The sample called `name` (seed, size, population, thread, created_at, history), or None."""
    found = next(db.query("select * from samples where name = ?", [name]), None)
    return _row(dict(found)) if found else None


def list_samples(db: Database) -> list[dict]:
    """Every sample, newest first."""
    return [_row(dict(row)) for row in db.query("select * from samples order by created_at desc, rowid desc")]


def latest_sample(db: Database, thread: Key | None = None) -> dict | None:
    """The newest sample (the newest drawn from `thread`, with it), or None."""
    where, params = ("thread_platform = ? and thread_id = ?", list(thread)) if thread else ("1", [])
    found = next(db.query(f"select * from samples where {where} order by created_at desc, rowid desc limit 1",
                          params), None)
    return _row(dict(found)) if found else None


def units(db: Database, name: str, limit: int | None = None) -> list[Key]:
    """(platform, id) of the sample's population in the draw's order; the first `limit` (its members, with
    the sample's size) only, with `limit`."""
    sql = "select platform, id from sample_units where sample = ? order by position"
    params: list = [name]
    if limit is not None:
        sql += " limit ?"
        params.append(limit)
    return [(platform, reply_id) for platform, reply_id in db.execute(sql, params).fetchall()]


def set_size(db: Database, name: str, size: int) -> None:
    """Make the sample's first `size` places its members (an extension), noting it in its history."""
    with db.atomic():
        history = json.loads(db.execute("select history from samples where name = ?", [name]).fetchone()[0] or "[]")
        history.append({"size": size, "at": utc_now()})
        db.execute("update samples set size = ?, history = ? where name = ?", [size, json.dumps(history), name])


def score_totals(db: Database, name: str, codebook_hash: str) -> list[tuple[str, str, str, int, float, int]]:
    """(category, method, model, replies scored, sum of scores, replies tagged) over the sample's population,
    from the stored predictions of this codebook version. The population is read first and each reply's
    predictions looked up by key (CROSS JOIN fixes that order): 0.3 s at 50,000 replies, where starting from
    the predictions took 1.3 s."""
    return [tuple(row) for row in db.execute(
        "select p.category, coalesce(p.method, ''), coalesce(p.model, ''), count(p.score), sum(p.score),"
        " sum(p.predicted = 1) from sample_units u cross join predictions p on p.platform = u.platform"
        " and p.id = u.id and p.codebook_hash = ? where u.sample = ? group by 1, 2, 3 order by 4 desc",
        [codebook_hash, name]).fetchall()]


def member_scores(db: Database, name: str, codebook_hash: str) -> list[tuple[int, str, float]]:
    """(position, category, score) of each stored prediction of this codebook version for the sample's members."""
    return [tuple(row) for row in db.execute(
        "select u.position, p.category, p.score from samples s cross join sample_units u cross join predictions p"
        " on p.platform = u.platform and p.id = u.id and p.codebook_hash = ?"
        " where s.name = ? and u.sample = s.name and u.position < s.size", [codebook_hash, name]).fetchall()]


def member_codes(db: Database, name: str, codebook: str, reviewer: str | None = None) -> dict[int, dict]:
    """The human codes of the sample's members, by position: {"labels": [...], "reviewer": ..., "version": the
    codebook hash it was given under}. Each member's current code (`gold_current`: a final decision where one
    was recorded, else the latest), or only `reviewer`'s codes with `reviewer`. A member coded with no category
    has labels []."""
    source = "gold_current" if reviewer is None else "gold_labels"
    return {position: {"labels": json.loads(labels), "reviewer": coder, "version": version}
            for position, labels, coder, version in db.execute(
        f"select u.position, g.labels, g.reviewer, g.codebook_hash from sample_units u join samples s"
        f" on s.name = u.sample"
        f" join {source} g on g.platform = u.platform and g.id = u.id and g.codebook = :codebook"
        f" and (:reviewer is null or g.reviewer = :reviewer) where u.sample = :name and u.position < s.size",
        {"codebook": codebook, "reviewer": reviewer, "name": name}).fetchall()}


def coded_count(db: Database, name: str, codebook: str, reviewer: str | None = None) -> int:
    """How many of the sample's members have a code (by anyone, or by `reviewer`)."""
    return len(member_codes(db, name, codebook, reviewer))


# A reply whose model tags must stay hidden: a member of a blind sample some member of which nobody has coded
# yet under the codebook :codebook (a sample being coded). Alias the reply `r`.
BLIND_MEMBER_SQL = """exists (select 1 from sample_units u join samples s on s.name = u.sample
  where u.platform = r.platform and u.id = r.id and u.position < s.size and s.blind = 1
  and exists (select 1 from sample_units w where w.sample = s.name and w.position < s.size
              and not exists (select 1 from gold_labels g where g.platform = w.platform and g.id = w.id
                              and g.codebook = :codebook)))"""


def blind_members(db: Database, codebook: str) -> set[Key]:
    """(platform, id) of every member of a blind sample still being coded under `codebook`: the replies whose
    model tags and scores no page, queue or filter may show (nor choose replies by)."""
    return {(platform, reply_id) for platform, reply_id in db.execute(
        f"select r.platform, r.id from sample_units r0 join replies r on r.platform = r0.platform and r.id = r0.id"
        f" where {BLIND_MEMBER_SQL}", {"codebook": codebook}).fetchall()}


def uncodable_members(db: Database, name: str, codebook: str) -> int:
    """How many of the sample's members nobody has coded and nobody can code any more: the reply was deleted,
    removed or emptied since the draw (or is no longer stored)."""
    return db.execute(
        "select count(*) from sample_units u join samples s on s.name = u.sample"
        " left join replies r on r.platform = u.platform and r.id = u.id"
        " where u.sample = :name and u.position < s.size"
        " and (r.id is null or r.status != 'ok' or r.text is null or r.text = '')"
        " and not exists (select 1 from gold_labels g where g.platform = u.platform and g.id = u.id"
        "                 and g.codebook = :codebook)", {"name": name, "codebook": codebook}).fetchone()[0]


GROUPINGS = ("platform", "thread", "depth")


def unit_groups(db: Database, name: str, by: str) -> dict[int, str]:
    """Each population unit's group (by position): its `platform`, its `thread` (PLATFORM:ID), or its `depth`
    in the thread (1, 2, or 3+: replies to the question, replies to those, deeper)."""
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}")
    from .queries import depth_sql

    column = {"platform": "u.platform", "thread": "r.platform || ':' || r.thread_id",
              "depth": f"(case when {depth_sql()} >= 3 then '3+' else cast({depth_sql()} as text) end)"}[by]
    return {position: group or "?" for position, group in db.execute(
        f"select u.position, {column} from sample_units u left join replies r on r.platform = u.platform"
        f" and r.id = u.id where u.sample = ?", [name]).fetchall()}


def population_scores(db: Database, name: str, codebook_hash: str, categories: Sequence[str]) -> dict[int, list]:
    """Each population unit's score in each of `categories` (by position; None where it has none)."""
    index = {c: j for j, c in enumerate(categories)}
    out: dict[int, list] = {}
    for position, category, score in db.execute(
            "select u.position, p.category, p.score from sample_units u cross join predictions p"
            " on p.platform = u.platform and p.id = u.id and p.codebook_hash = ? where u.sample = ?",
            [codebook_hash, name]).fetchall():
        if category in index:
            out.setdefault(position, [None] * len(index))[index[category]] = score
    return out


def save_overlap(db: Database, name: str, coder: str, seed: int, members: Sequence[Key]) -> None:
    """Record `members` (in their coding order) as the sample's overlap for a second coder."""
    with db.atomic():
        db["sample_overlaps"].insert({"sample": name, "coder": coder, "seed": seed, "size": len(members),
                                      "created_at": utc_now()})
        db.conn.executemany("insert into overlap_units (sample, coder, position, platform, id) values (?, ?, ?, ?, ?)",
                            ((name, coder, i, platform, reply_id) for i, (platform, reply_id) in enumerate(members)))


def overlap(db: Database, name: str, coder: str) -> dict | None:
    """The overlap of sample `name` drawn for `coder` (seed, size, created_at, members in order), or None."""
    found = next(db.query("select * from sample_overlaps where sample = ? and coder = ?", [name, coder]), None)
    if found is None:
        return None
    members = [(p, i) for p, i in db.execute("select platform, id from overlap_units where sample = ? and coder = ?"
                                             " order by position", [name, coder]).fetchall()]
    return {**dict(found), "members": members}


def overlaps(db: Database, name: str | None = None) -> list[dict]:
    """Every overlap (of one sample, with `name`), oldest first."""
    where, params = ("where sample = ?", [name]) if name else ("", [])
    return [dict(row) for row in db.query(f"select * from sample_overlaps {where} order by created_at", params)]
