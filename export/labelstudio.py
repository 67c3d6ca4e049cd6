"""Label Studio, out: tasks with the model's labels as pre-annotations, and the labelling interface.
Reviewers' annotations come back in through `replies.review.labelstudio`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO
from xml.sax.saxutils import quoteattr

from replies.codebook import LABELSTUDIO_CONTROL as FROM_NAME
from replies.codebook import Codebook

from .records import FIELDS


def labelstudio_config(codebook: Codebook) -> str:
    """The labelling interface: the reply text and a multi-choice Choices control with the codebook's ids
    as values (so exported results map straight back) and its labels as hints."""
    choices = "\n".join(
        f"    <Choice value={quoteattr(c.id)} hint={quoteattr(c.label)}/>" for c in codebook.categories)
    return (f"<View>\n  <Header value={quoteattr(codebook.question or codebook.name)}/>\n"
            f"  <Text name=\"text\" value=\"$text\"/>\n"
            f"  <Choices name=\"{FROM_NAME}\" toName=\"text\" choice=\"multiple\" showInline=\"false\">\n"
            f"{choices}\n  </Choices>\n</View>\n")


def labelstudio_tasks(records: Iterable[dict], codebook: Codebook, model: str | None) -> Iterator[dict]:
    """Label Studio tasks with the model's labels as pre-annotations (predictions)."""
    for n, record in enumerate(records, start=1):
        data = {"text": record["text"], "platform": record["platform"], "reply_id": record["id"],
                "thread": record["thread"], "author": record["author"], "created_at": record["created_at"],
                "url": record["url"], "codebook": codebook.name}
        data.update({k: v for k, v in record.items() if k not in FIELDS})
        task: dict = {"data": data}
        if record["scores"]:
            task["predictions"] = [{
                "model_version": model or "replies",
                "score": round(max(record["scores"].values()), 4),
                "result": [{"id": f"r{n}", "from_name": FROM_NAME, "to_name": "text", "type": "choices",
                            "value": {"choices": record["labels"]}}] if record["labels"] else [],
            }]
        yield task


def write_labelstudio(records: Iterable[dict], out: IO[str], codebook: Codebook, model: str | None) -> int:
    """A JSON array of tasks, streamed one task at a time."""
    out.write("[")
    n = 0
    for n, task in enumerate(labelstudio_tasks(records, codebook, model), start=1):
        out.write(("," if n > 1 else "") + "\n" + json.dumps(task, ensure_ascii=False))
    out.write("\n]\n")
    return n
