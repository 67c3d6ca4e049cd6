"""Classification storage: the embedding cache, predictions, gold labels, classify runs."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
from sqlite_utils import Database

from .errors import DatabaseError
from .queries import select_in, thread_filter
from .samples import BLIND_MEMBER_SQL, one_of_each_text
from .times import utc_now
from .versions import Reader, Reading


def cached_embeddings(db: Database, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
    """Vectors already stored for `model`, by text hash."""
    sql = "select text_hash, vector from embeddings where model = ? and text_hash in ({marks})"
    return {text_hash: np.frombuffer(vector, dtype=np.float32)
            for text_hash, vector in select_in(db, sql, list(dict.fromkeys(hashes)), [model])}


def cached_hashes(db: Database, model: str, hashes: Sequence[str]) -> set[str]:
    """Which of `hashes` have a vector stored for `model` (the vectors themselves not read)."""
    sql = "select text_hash from embeddings where model = ? and text_hash in ({marks})"
    return {text_hash for (text_hash,) in select_in(db, sql, list(dict.fromkeys(hashes)), [model])}


def store_embeddings(db: Database, model: str, vectors: Mapping[str, np.ndarray]) -> None:
    with db.atomic():
        db.conn.executemany(
            "insert or replace into embeddings (model, text_hash, dim, vector) values (?, ?, ?, ?)",
            [(model, h, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()],
        )


def replies_to_classify(db: Database, codebook_hash: str, *, thread: tuple[str, str] | None = None,
                        redo: bool = False, method: str | None = None, model: str | None = None,
                        batch: int = 1000, ids_only: bool = False) -> Iterator[list[dict]]:
    """Replies with text and no prediction from this codebook version, method and model (all with `redo`),
    in batches."""
    in_thread, params = thread_filter(thread)
    where = ["r.status = 'ok'", "r.text is not null", "r.text != ''", in_thread]
    if not redo:
        where.append("not exists (select 1 from predictions p where p.platform = r.platform and p.id = r.id"
                     " and p.codebook_hash = :hash and p.method is :method and p.model is :model)")
        params.update(hash=codebook_hash, method=method, model=model)
    columns = "r.platform, r.id" if ids_only else "r.platform, r.id, r.text"
    sql = f"select {columns} from replies r where {' and '.join(where)} order by r.rowid"
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    while rows := cursor.fetchmany(batch):
        yield [dict(zip(names, r)) for r in rows]


def _finite(value, what: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise DatabaseError(f"refusing to store a {what} of {number}: scores and thresholds are finite numbers")
    return number


def write_predictions(db: Database, rows: Iterable[Mapping]) -> None:
    """Store labels as the current predictions, and in `coder_labels` under their method and model. A score
    or threshold that is NaN or infinite is refused (DatabaseError): readers count on numbers."""
    now = utc_now()
    values = [(r["platform"], r["id"], r["codebook"], r["codebook_hash"], r["category"], _finite(r["score"], "score"),
               int(r["predicted"]), _finite(r["threshold"], "threshold"), r["method"], r["model"], now) for r in rows]
    with db.atomic():
        db.conn.executemany(
            "insert or replace into predictions (platform, id, codebook, codebook_hash, category, score, predicted,"
            " threshold, method, model, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        db.conn.executemany(
            "insert or replace into coder_labels (platform, id, codebook_hash, category, score, predicted,"
            " threshold, method, model, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(v[0], v[1], v[3], v[4], v[5], v[6], v[7], v[8] or "", v[9] or "", v[10]) for v in values])


def coder_labels(db: Database, codebook_hash: str) -> dict[tuple[str, str], dict[tuple[str, str], dict[str, int]]]:
    """Each coder's (method, model) labels for a codebook version: category -> given (1/0), per reply."""
    out: dict = {}
    for method, model, platform, reply_id, category, predicted in db.execute(
            "select method, model, platform, id, category, predicted from coder_labels where codebook_hash = ?",
            [codebook_hash]):
        out.setdefault((method, model), {}).setdefault((platform, reply_id), {})[category] = int(predicted)
    return out


def llm_answer(db: Database, model: str, prompt_hash: str) -> dict | None:
    """The stored answer of `model` to a prompt, if it was asked before."""
    cursor = db.execute("select * from llm_answers where model = ? and prompt_hash = ?", [model, prompt_hash])
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row)) if row else None


def llm_server(db: Database, base: str, model: str) -> dict | None:
    """How the server at `base` serving `model` took structured output when it was last asked, or None."""
    found = next(db.query("select * from llm_servers where base = ? and model = ?", [base, model]), None)
    return dict(found) if found else None


def remember_llm_server(db: Database, base: str, model: str, dialect: str, extras: bool) -> None:
    with db.atomic():
        db["llm_servers"].upsert({"base": base, "model": model, "dialect": dialect, "extras": int(extras),
                                  "checked_at": utc_now()}, pk=("base", "model"))


def llm_coded_history(db: Database, model: str, codebook_hash: str) -> tuple[set, set]:
    """(replies this model coded under this codebook version, replies it coded under another version): keys
    (platform, id), to say why a run would send a reply again."""
    same, other = set(), set()
    for platform, reply_id, this in db.execute(
            "select platform, id, max(codebook_hash = ?) from coder_labels where method = 'llm' and model = ?"
            " group by platform, id", [codebook_hash, model]).fetchall():
        (same if this else other).add((platform, reply_id))
    return same, other


def store_llm_answer(db: Database, answer: Mapping, predictions: Iterable[Mapping]) -> None:
    """One language-model answer and the labels it gives, committed together the moment it arrives."""
    with db.atomic():
        db["llm_answers"].upsert({**answer, "created_at": utc_now()}, pk=("model", "prompt_hash"))
        write_predictions(db, predictions)


def _scope(method: str, model: str, thread: tuple[str, str] | None) -> tuple[str, list]:
    where, params = " and method = ? and model = ?", [method, model]
    if not thread:
        return where, params
    return (where + " and (platform, id) in (select platform, id from replies where platform = ? and thread_id = ?)",
            params + list(thread))


def prediction_scores(db: Database, codebook_hash: str, categories: list[str], *, method: str, model: str,
                      thread: tuple[str, str] | None = None) -> list[list[float]]:
    """Every stored score for this codebook version, method and model (one thread's, with `thread`), a row
    per reply in the order of `categories`; replies missing a category are left out."""
    where, params = _scope(method, model, thread)
    index = {c: i for i, c in enumerate(categories)}
    rows: dict[tuple[str, str], list] = {}
    for platform, reply_id, category, score in db.execute(
            f"select platform, id, category, score from predictions where codebook_hash = ?{where}",
            [codebook_hash, *params]):
        if category in index:
            rows.setdefault((platform, reply_id), [None] * len(categories))[index[category]] = score
    return [row for row in rows.values() if None not in row]


def set_thresholds(db: Database, codebook_hash: str, thresholds: Mapping[str, float], *, method: str, model: str,
                   thread: tuple[str, str] | None = None) -> None:
    """Decide each category anew at its threshold, for every stored score of this codebook version, method
    and model (one thread's, with `thread`)."""
    where, params = _scope(method, model, thread)
    with db.atomic():
        for category, threshold in thresholds.items():
            for table in ("predictions", "coder_labels"):
                db.execute(f"update {table} set threshold = ?, predicted = (score >= ?)"
                           f" where codebook_hash = ? and category = ?{where}",
                           [_finite(threshold, "threshold"), float(threshold), codebook_hash, category, *params])


def reply_exists(db: Database, platform: str, reply_id: str) -> bool:
    return db.execute("select 1 from replies where platform = ? and id = ?", [platform, reply_id]).fetchone() is not None


def set_gold(db: Database, rows: Iterable[Mapping]) -> int:
    """Record reviewed labels (platform, id, codebook, codebook_hash: the version they were given under,
    reviewer, labels list, note) atomically, streaming `rows`; returns how many rows were written."""
    now = utc_now()
    written = 0

    def data():
        nonlocal written
        for r in rows:
            written += 1
            yield (r["platform"], r["id"], r["codebook"], r.get("codebook_hash"), r["reviewer"],
                   json.dumps(sorted(set(r["labels"]))), r.get("note"), now)

    with db.atomic():
        db.conn.executemany(
            "insert or replace into gold_labels (platform, id, codebook, codebook_hash, reviewer, labels, note,"
            " created_at) values (?, ?, ?, ?, ?, ?, ?, ?)", data())
    return written


def gold_version(db: Database, platform: str, reply_id: str, codebook: str, reviewer: str) -> str:
    """A token for one reviewer's current decision on a reply ("" when there is none): a page that read
    this token can later ask to save only if the decision is still the one it showed."""
    row = db.execute("select labels, note, created_at, rowid from gold_labels where platform = ? and id = ?"
                     " and codebook = ? and reviewer = ?", [platform, reply_id, codebook, reviewer]).fetchone()
    if not row:
        return ""
    return hashlib.sha256(json.dumps(row).encode()).hexdigest()[:16]


def set_gold_if_unchanged(db: Database, row: Mapping, version: str) -> str | None:
    """Record one reviewed label only if that reviewer's decision on the reply is still `version` (see
    `gold_version`); returns None when saved, else the version found. The check and the write share one
    write transaction, so two pages (or two processes) saving at once cannot both pass the check."""
    db.conn.execute("BEGIN IMMEDIATE")  # the write lock before the read: no other writer between the two
    try:
        found = gold_version(db, row["platform"], row["id"], row["codebook"], row["reviewer"])
        if found != version:
            db.conn.execute("ROLLBACK")
            return found
        set_gold(db, [row])
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    return None


def reviewed_by(db: Database, codebook: str, reviewer: str) -> set[tuple[str, str]]:
    """(platform, id) of every reply this reviewer labelled with this codebook."""
    return {tuple(row) for row in db.execute("select platform, id from gold_labels where codebook = ? and reviewer = ?",
                                             [codebook, reviewer])}


def reviewers(db: Database, codebook: str) -> list[str]:
    """The names that have labelled replies with this codebook."""
    return [name for name, in db.execute("select distinct reviewer from gold_labels where codebook = ? order by 1",
                                          [codebook])]


def decisions(db: Database, platform: str, reply_id: str, codebook: str) -> list[dict]:
    """Every reviewer's decision on one reply (labels as a list), oldest first."""
    return [{**dict(row), "labels": json.loads(row["labels"])} for row in db.query(
        "select reviewer, labels, note, created_at from gold_labels where platform = ? and id = ? and codebook = ?"
        " order by created_at, rowid", [platform, reply_id, codebook])]


def disagreements(db: Database, codebook: str, adjudicator: str) -> list[tuple[str, str, int]]:
    """(platform, id, decided) of each reply on which two or more reviewers (not `adjudicator`) gave different
    labels; those without a decision by `adjudicator` first, each group in reply order."""
    return [tuple(row) for row in db.execute(
        "select g.platform, g.id, exists (select 1 from gold_labels a where a.platform = g.platform and a.id = g.id"
        "   and a.codebook = g.codebook and a.reviewer = :adjudicator) as decided"
        " from gold_labels g join replies r using (platform, id)"
        " where g.codebook = :codebook and g.reviewer != :adjudicator"
        " group by g.platform, g.id having count(distinct g.labels) > 1"
        " order by decided, min(r.created_at), g.platform, g.id",
        {"codebook": codebook, "adjudicator": adjudicator}).fetchall()]


def top_scored(db: Database, codebook_hash: str, category: str, limit: int = 5, *,
               hide_blind_for: str | None = None) -> list[dict]:
    """The replies the classifier scores highest in one category: the ones most typical of it, each text once
    (a reply cross-posted on several platforms is one of them). With `hide_blind_for` (a codebook's name), none
    that is a member of a blind sample still being coded."""
    hidden = f" and not {BLIND_MEMBER_SQL}" if hide_blind_for else ""
    rows = db.query(
        "select r.platform, r.id, r.author_handle, r.text, r.url, p.score from predictions p"
        " join replies r using (platform, id) where p.codebook_hash = :hash and p.category = :category"
        f" and r.status = 'ok' and p.score is not null{hidden} order by p.score desc, r.created_at, r.id"
        " limit :read",  # copies have the same score, so sit together: a bounded read finds enough others
        {"hash": codebook_hash, "category": category, "read": limit * 8 + 20, "codebook": hide_blind_for})
    return one_of_each_text(map(dict, rows), limit)


def gold(db: Database, codebook: str, reader: Reader | None = None) -> dict[tuple[str, str], list[str]]:
    """The reviewed labels per reply (`gold_current`: the latest review when several reviewers labelled it),
    by platform and id: what is trained on them (few-shot's pairs, the kept models' names, a language model's
    worked examples) depends on what the gold is, not on when it was given, which re-labelling changes. With
    `reader` (the version in use), codes from other versions are read under it (`versions.Reader`)."""
    return {key: reading.labels if reader else labels for key, (labels, reading) in
            _codes(db, "select platform, id, labels, codebook_hash from gold_current where codebook = ?"
                       " order by platform, id", [codebook], reader).items()}


def gold_readings(db: Database, codebook: str, reader: Reader) -> dict[tuple[str, str], Reading]:
    """Each reply's current code read under the version in use, with the categories it says nothing about."""
    return {key: reading for key, (_, reading) in _codes(
        db, "select platform, id, labels, codebook_hash from gold_current where codebook = ? order by platform, id",
        [codebook], reader).items()}


def gold_by_reviewer(db: Database, codebook: str, reader: Reader | None = None
                     ) -> dict[str, dict[tuple[str, str], Reading | list[str]]]:
    """Each reviewer's codes by reply; with `reader`, each as a `versions.Reading` under the version in use."""
    out: dict[str, dict] = {}
    for platform, reply_id, reviewer, labels, version in db.execute(
        "select platform, id, reviewer, labels, codebook_hash from gold_labels where codebook = ?", [codebook]
    ).fetchall():
        labels = json.loads(labels)
        out.setdefault(reviewer, {})[(platform, reply_id)] = reader.read(labels, version) if reader else labels
    return out


def _codes(db: Database, sql: str, params: list, reader: Reader | None) -> dict:
    out = {}
    for platform, reply_id, labels, version in db.execute(sql, params).fetchall():
        labels = json.loads(labels)
        out[(platform, reply_id)] = (labels, reader.read(labels, version) if reader else None)
    return out


def texts_for(db: Database, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The text of each reply in `keys` that has any (one indexed lookup each)."""
    out = {}
    for platform, reply_id in keys:
        row = db.execute("select text from replies where platform = ? and id = ?", [platform, reply_id]).fetchone()
        if row and row[0]:
            out[(platform, reply_id)] = row[0]
    return out


def predictions(db: Database, codebook_hash: str) -> dict[tuple[str, str], dict[str, tuple[float, int]]]:
    """category -> (score, predicted) per reply, for one codebook version."""
    out: dict[tuple[str, str], dict[str, tuple[float, int]]] = {}
    for platform, reply_id, category, score, predicted in db.execute(
        "select platform, id, category, score, predicted from predictions where codebook_hash = ?", [codebook_hash]
    ).fetchall():
        out.setdefault((platform, reply_id), {})[category] = (score, predicted)
    return out


def latest_codebook_hash(db: Database) -> str | None:
    row = db.execute("select codebook_hash from classify_runs order by id desc limit 1").fetchone()
    return row[0] if row else None


def last_classify_run(db: Database, codebook_hash: str | None) -> dict | None:
    """The latest classify run for this codebook version: its method, model and cross-validated F1."""
    row = db.execute("select * from classify_runs where codebook_hash = ? order by id desc limit 1",
                     [codebook_hash])
    names = [d[0] for d in row.description]
    found = row.fetchone()
    return dict(zip(names, found)) if found else None


def start_classify_run(db: Database, **values) -> int:
    with db.atomic():
        table = db["classify_runs"]
        table.insert({"started_at": utc_now(), **values})
        return table.last_pk


def finish_classify_run(db: Database, run_id: int, **values) -> None:
    with db.atomic():
        db["classify_runs"].update(run_id, {"ended_at": utc_now(), **values})


def save_codebook(db: Database, codebook_hash: str, name: str, content: Mapping) -> None:
    """Keep a codebook version (its JSON form) so later commands can use it without the file."""
    with db.atomic():
        db.execute("insert or ignore into codebooks (hash, name, content, added_at) values (?, ?, ?, ?)",
                   [codebook_hash, name, json.dumps(content, ensure_ascii=False), utc_now()])


def codebook_content(db: Database, codebook_hash: str) -> dict | None:
    row = db.execute("select content from codebooks where hash = ?", [codebook_hash]).fetchone()
    return json.loads(row[0]) if row else None


def last_used_codebook_hash(db: Database) -> str | None:
    """The codebook version classify last ran with, else the last one a reviewer labelled with."""
    found = latest_codebook_hash(db)
    if found:
        return found
    row = db.execute("select c.hash from gold_labels g join codebooks c on c.name = g.codebook"
                     " order by g.created_at desc, c.added_at desc limit 1").fetchone()
    return row[0] if row else None
