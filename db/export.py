"""Streaming exports of replies with their labels, in every format `replies export` writes.

Records stream from one SQL query, so memory stays flat in the number of replies.
Output goes to a temporary file (or folder) beside the target and is renamed into
place only when complete: a failed export leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from .errors import DatabaseError
from .queries import thread_filter

FIELDS = ("platform", "id", "thread", "parent_id", "kind", "author", "text", "created_at", "url", "labels",
          "scores", "gold")


class ExportError(DatabaseError):
    """An export that cannot be written as asked."""


@dataclass
class Codebook:
    """What an export needs to know of a codebook (db imports nothing from the classifier)."""

    name: str
    hash: str | None
    categories: list[tuple[str, str]] = field(default_factory=list)  # (id, label)
    question: str = ""
    descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [cid for cid, _ in self.categories]


def _selection(thread: tuple[str, str] | None, gold_only: bool, codebook_hash: str | None,
               codebook: str | None) -> tuple[str, dict]:
    in_thread, params = thread_filter(thread)
    where = ["r.status = 'ok'", in_thread]
    params.update(hash=codebook_hash, codebook=codebook)
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


def jsonl_lines(db: Database, *, codebook: str | None, codebook_hash: str | None,
                thread: tuple[str, str] | None = None, gold_only: bool = False) -> Iterator[str]:
    """One JSON object (text) per reply with content (not deleted or blocked stubs): the JSONL export
    contract (labels, scores, gold) for one codebook version. `gold_only` keeps reviewed replies only.

    SQLite builds each object itself, which keeps the export within 2x of a plain row dump."""
    where, params = _selection(thread, gold_only, codebook_hash, codebook)
    sql = f"""
        select json_object(
          'platform', r.platform, 'id', r.id, 'thread', r.thread_id, 'parent_id', r.parent_id, 'kind', r.kind,
          'author', r.author_handle, 'text', r.text, 'created_at', r.created_at, 'url', r.url,
          'labels', {_LABELS.format(agg="json_group_array(p.category)")}, 'scores', {_SCORES}, 'gold', {_GOLD})
        from replies r where {where} {_ORDER}
    """
    for (line,) in db.execute(sql, params):
        yield line


def csv_rows(db: Database, *, codebook: str | None, codebook_hash: str | None, category_ids: list[str],
             thread: tuple[str, str] | None = None, gold_only: bool = False) -> Iterator[list]:
    """The CSV export's rows (see `db.formats.write_csv`), built mostly by SQLite for speed."""
    where, params = _selection(thread, gold_only, codebook_hash, codebook)
    sql = f"""
        select r.platform, r.id, r.thread_id, r.parent_id, r.kind, r.author_handle, r.text, r.created_at, r.url,
          {_LABELS.format(agg="group_concat(p.category, ';')")}, {_SCORES}, {_GOLD}
        from replies r where {where} {_ORDER}
    """
    for row in db.execute(sql, params):
        *fields, labels, scores, gold_json = row
        gold = json.loads(gold_json) if gold_json is not None else None
        final = gold if gold is not None else (labels.split(";") if labels else ())
        yield [*fields, labels, scores, None if gold is None else ";".join(gold),
               *(1 if c in final else 0 for c in category_ids)]


def jsonl_records(db: Database, **options) -> Iterator[dict]:
    """The same records as `jsonl_lines`, as dicts."""
    for line in jsonl_lines(db, **options):
        yield json.loads(line)


def final_labels(record: dict) -> list[str]:
    """The labels a dataset should carry: the reviewed ones where a human looked, else the predicted."""
    return record["gold"] if record["gold"] is not None else record["labels"]


@contextmanager
def atomic_file(out: str | os.PathLike, mode: str = "w"):
    """A temporary file beside `out`, renamed onto it only if the block completes."""
    target = Path(out)
    if not target.parent.exists():
        raise ExportError(f"cannot write {target}: folder {target.parent} does not exist")
    if target.is_dir():
        raise ExportError(f"cannot write {target}: it is a folder")
    handle = tempfile.NamedTemporaryFile(mode, dir=target.parent, delete=False, suffix=".part",
                                         prefix=f".{target.name}.", **({"encoding": "utf-8", "newline": ""}
                                                                       if "b" not in mode else {}))
    try:
        os.chmod(handle.name, 0o666 & ~_umask())
        with handle:
            yield handle
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(out: str | os.PathLike):
    """A temporary folder beside `out`, renamed onto it only if the block completes."""
    target = Path(out)
    if not target.parent.exists():
        raise ExportError(f"cannot write {target}: folder {target.parent} does not exist")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportError(f"cannot write {target}: it exists and is not an empty folder")
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    """The process umask (read by setting it, then put back): temporary files get 0600, the export should not."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
