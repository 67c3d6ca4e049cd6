"""Reading JSONL files a line at a time, with errors that name the file and the line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MAX_LINE = 16 * 2**20  # characters: a twarc2 page of 100 posts with their includes is about 1 MB


def read_jsonl(path: Path, error: Callable[[str], Exception], expected: str,
               max_line: int | None = None,
               cut_off: Callable[[int], None] | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) for each non-blank line; raises `error(message)` for a file that
    cannot be read, a line that is not JSON, or one longer than `max_line` characters (read no further, so
    a file of one endless line costs no more memory than that), saying that `expected` was expected.
    With `cut_off`, a last line that is not JSON and has no line end (a file whose writer was killed while
    writing it) is passed to `cut_off(line number)` instead of raising: the lines before it are whole."""
    max_line = max_line or MAX_LINE
    try:
        handle = path.open(encoding="utf-8-sig")  # a byte-order mark, as Windows editors write, is not data
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            for number, line in enumerate(iter(lambda: handle.readline(max_line + 1), ""), start=1):
                if len(line) > max_line:
                    raise error(f"{path} line {number}: longer than {max_line // 2**20} MB; expected {expected}")
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except (ValueError, RecursionError):  # RecursionError: nested deeper than any record is
                    if cut_off is not None and not line.endswith("\n") and not handle.read(1):
                        cut_off(number)
                        return
                    raise error(f"{path} line {number}: not JSON; expected {expected}") from None
                yield number, value
        except UnicodeDecodeError:
            raise error(f"{path}: not UTF-8 text; expected {expected}") from None
