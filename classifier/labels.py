"""Recording human (gold) labels: one reply at a time, or from a JSONL or CSV file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlite_utils import Database

from db import labels as store
from db.formats import FROM_NAME

from .codebook import Codebook
from .errors import LabelError

PLATFORMS = ("x", "bluesky", "mastodon")


def parse_ref(ref: str) -> tuple[str, str]:
    """PLATFORM:ID (the id may itself contain colons, as at:// URIs do)."""
    platform, sep, reply_id = ref.partition(":")
    if not sep or platform not in PLATFORMS or not reply_id:
        raise LabelError(f"{ref!r} is not PLATFORM:ID (platform one of {', '.join(PLATFORMS)})")
    return platform, reply_id


def check(database: Database, codebook: Codebook, platform: str, reply_id: str, labels: list[str],
          where: str = "") -> None:
    unknown = [c for c in labels if c not in codebook.ids]
    if unknown:
        raise LabelError(f"{where}unknown category {unknown[0]!r} for codebook {codebook.name} "
                         f"(known: {', '.join(codebook.ids)})")
    if not store.reply_exists(database, platform, reply_id):
        raise LabelError(f"{where}no reply {platform}:{reply_id} in the database")


def label(database: Database, codebook: Codebook, ref: str, categories: list[str], reviewer: str,
          note: str | None = None) -> None:
    """Record one reviewer's categories for one reply (no categories: reviewed, none apply)."""
    platform, reply_id = parse_ref(ref)
    check(database, codebook, platform, reply_id, categories)
    codebook.remember(database)
    store.set_gold(database, [{"platform": platform, "id": reply_id, "codebook": codebook.name,
                               "reviewer": reviewer, "labels": categories, "note": note}])


def read_labels_file(path: Path) -> list[tuple[str, str, list[str], str]]:
    """(platform, id, labels, where) from JSONL or CSV; `where` names file and line for errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabelError(f"cannot read {path}: {exc.strerror}") from None
    rows = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or not {"platform", "id", "labels"} <= set(reader.fieldnames):
            raise LabelError(f"{path}:1: CSV needs the columns platform,id,labels")
        for number, row in enumerate(reader, start=2):
            labels = [c.strip() for c in (row["labels"] or "").split(";") if c.strip()]
            rows.append((row["platform"], row["id"], labels, f"{path}:{number}: "))
        return rows
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise LabelError(f"{path}:{number}: not JSON (expected {{\"platform\", \"id\", \"labels\"}})") from None
        if not isinstance(obj, dict) or not {"platform", "id", "labels"} <= set(obj) \
                or not isinstance(obj["labels"], list):
            raise LabelError(f"{path}:{number}: expected an object with platform, id and a labels list")
        rows.append((str(obj["platform"]), str(obj["id"]), [str(c) for c in obj["labels"]], f"{path}:{number}: "))
    return rows


LABEL_FORMATS = ("auto", "jsonl", "csv", "labelstudio")


def import_labels(database: Database, codebook: Codebook, path: str | Path, reviewer: str,
                  fmt: str = "auto") -> int:
    """Check every row first, then record them all in one transaction (nothing half-written).

    Label Studio exports carry each annotator; their email (or user number) is recorded as the
    reviewer, `reviewer` only where the export names nobody."""
    path = Path(path)
    if fmt == "labelstudio" or (fmt == "auto" and path.suffix.lower() == ".json"):
        rows = read_labelstudio(path, codebook, reviewer)
    else:
        rows = [(p, i, labels, where, reviewer) for p, i, labels, where in read_labels_file(path)]
    if not rows:
        raise LabelError(f"{path}: no labels found")
    for platform, reply_id, labels, where, _ in rows:
        if platform not in PLATFORMS:
            raise LabelError(f"{where}unknown platform {platform!r}")
        check(database, codebook, platform, reply_id, labels, where)
    codebook.remember(database)
    return store.set_gold(database, [{"platform": p, "id": i, "codebook": codebook.name, "reviewer": who,
                                      "labels": labels} for p, i, labels, _, who in rows])


def read_labelstudio(path: Path, codebook: Codebook, default_reviewer: str) -> list[tuple]:
    """(platform, id, labels, where, reviewer) from a Label Studio JSON export (or JSON-MIN) of tasks
    made by `replies export --format labelstudio`; cancelled (skipped) annotations are left out."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabelError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise LabelError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}); expected Label Studio's "
                         "JSON export") from None
    if not isinstance(tasks, list):
        raise LabelError(f"{path}: expected a JSON array of tasks (Label Studio's JSON or JSON-MIN export)")
    rows = []
    for n, task in enumerate(tasks, start=1):
        where = f"{path}: task {n}: "
        if not isinstance(task, dict):
            raise LabelError(f"{where}not an object")
        data = task.get("data", task)  # JSON-MIN puts the data fields at the top level
        if not isinstance(data, dict) or "platform" not in data or "reply_id" not in data:
            raise LabelError(f"{where}no platform and reply_id in its data: not an export of tasks from "
                             "`replies export --format labelstudio`")
        if data.get("codebook") not in (None, codebook.name):
            raise LabelError(f"{where}made for codebook {data['codebook']!r}, not {codebook.name!r} "
                             "(pass --codebook)")
        platform, reply_id = str(data["platform"]), str(data["reply_id"])
        if "data" not in task:
            if FROM_NAME in task:
                rows.append((platform, reply_id, _choices(task[FROM_NAME], where, codebook), where,
                             str(task.get("annotator") or default_reviewer)))
            continue
        for annotation in task.get("annotations") or []:
            if annotation.get("was_cancelled"):
                continue
            labels: list[str] = []
            for item in annotation.get("result") or []:
                if item.get("type") != "choices":
                    continue
                if item.get("from_name") != FROM_NAME:
                    raise LabelError(f"{where}a choices result from control {item.get('from_name')!r}, not "
                                     f"{FROM_NAME!r}: use the labelling config `replies export` wrote")
                labels += _choices((item.get("value") or {}).get("choices"), where, codebook)
            rows.append((platform, reply_id, sorted(set(labels)), where,
                         _annotator(annotation.get("completed_by"), default_reviewer)))
    return rows



def _choices(value, where: str, codebook: Codebook) -> list[str]:
    if isinstance(value, dict):
        value = value.get("choices")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise LabelError(f"{where}unreadable choices {value!r}")
    unknown = [c for c in value if c not in codebook.ids]
    if unknown:
        raise LabelError(f"{where}choice {unknown[0]!r} is not a category of codebook {codebook.name} "
                         f"(known: {', '.join(codebook.ids)}): not an export of this codebook")
    return [str(c) for c in value]


def _annotator(completed_by, default: str) -> str:
    if isinstance(completed_by, dict):
        return str(completed_by.get("email") or completed_by.get("id") or default)
    if isinstance(completed_by, int):
        return f"labelstudio-user-{completed_by}"
    return default
