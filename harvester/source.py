"""What every platform module provides, and the batch of posts it yields."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from .record import Post

# A checkpoint key: (name) within the current thread; value None deletes it.
Cursors = dict[str, "str | None"]
CursorReader = Callable[[str], "str | None"]


@dataclass
class Batch:
    """Posts from one API answer, to be stored in one transaction with `cursors`."""

    posts: list[Post]
    cursors: Cursors = field(default_factory=dict)
    source_url: str | None = None
    # requests for part of the thread that failed and were passed over (a reply page answering 404): each
    # said in a warning and counted, so the harvest exits as partial; the next run asks again
    failures: list[str] = field(default_factory=list)


class Source(Protocol):
    platform: str
    requests: int

    def fetch_root(self) -> Post:
        """The question post; raises ThreadNotFound when it cannot be read."""

    def batches(self, root: Post, cursor: CursorReader) -> Iterator[Batch]:
        """Every reply and quote of `root`, a page at a time, resuming from saved cursors."""

    def close(self) -> None:
        """Release the connections this source opened."""
