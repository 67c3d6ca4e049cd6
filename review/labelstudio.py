"""Label Studio, back in: the reviewers' annotations from a JSON (or JSON-MIN) export of the tasks that
`replies export --format labelstudio` wrote."""

from __future__ import annotations

import json
from pathlib import Path

from replies.codebook import LABELSTUDIO_CONTROL as FROM_NAME
from replies.codebook import Codebook, LabelError


def read_labelstudio(path: Path, codebook: Codebook, default_reviewer: str) -> list[tuple]:
    """(platform, id, labels, where, reviewer) from a Label Studio JSON export (or JSON-MIN) of tasks
    made by `replies export --format labelstudio`; cancelled (skipped) annotations are left out."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabelError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise LabelError(f"{path}: not UTF-8 text; expected Label Studio's JSON export") from None
    except json.JSONDecodeError as exc:
        raise LabelError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}); expected Label Studio's "
                         "JSON export") from None
    except RecursionError:
        raise LabelError(f"{path}: JSON nested deeper than any Label Studio export") from None
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
