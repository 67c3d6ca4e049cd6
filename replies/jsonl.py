"""Reading JSONL files a line at a time, with errors that name the file and the line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def read_jsonl(path: Path, error: Callable[[str], Exception], expected: str) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) for each non-blank line; raises `error(message)` for a file that
    cannot be read or a line that is not JSON, saying that `expected` was expected."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except (ValueError, RecursionError):  # RecursionError: nested deeper than any record is
                    raise error(f"{path} line {number}: not JSON; expected {expected}") from None
                yield number, value
        except UnicodeDecodeError:
            raise error(f"{path}: not UTF-8 text; expected {expected}") from None
