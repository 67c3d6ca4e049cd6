"""A reviewer's session over a queue of replies, as a state machine a terminal, a test or a script drives with
keys: which reply is on screen, the categories marked for it, its note, what was saved, and what to say next.
`replies review` reads keys and draws; the decisions and their order are made here.

Every accepted decision is saved at once (`set_gold`), so a session that stops anyhow loses at most the reply
on screen; a reply coded twice after going back counts once."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

from replies.codebook import Codebook
from replies.db.labels import set_gold
from replies.text import visible

from .queue import reply_context

DIGITS = "1234567890"


@dataclass
class Step:
    """What a key asked of the one driving the session: nothing (`None`), or to ask the person for a category
    number ("number"), for a note ("note"), or to show the keys and categories ("help"); `message` is a line
    to show on the next screen."""

    ask: str | None = None
    message: str = ""


@dataclass
class Session:
    database: Database
    book: Codebook
    reviewer: str
    queue: list[tuple[str, str]]
    blind: bool = False  # neither the model's scores nor its suggestion shown, nothing pre-marked
    position: int = 0
    coded: set[tuple[str, str]] = field(default_factory=set)
    quit: bool = False
    notice: str = ""  # what the last decision recorded, said on the next reply's screen where it is easy to miss
    context: dict = field(default_factory=dict)
    chosen: set[str] = field(default_factory=set)
    note: str | None = None
    loads: int = 0  # how many times a reply was put on screen: a new screen for the one driving the session

    def __post_init__(self) -> None:
        if self.queue:
            self._load()

    @property
    def done(self) -> bool:
        return self.quit or not 0 <= self.position < len(self.queue)

    @property
    def saved(self) -> int:
        """How many replies this session coded (a reply coded twice, after going back, counts once)."""
        return len(self.coded)

    def _load(self) -> None:
        platform, reply_id = self.queue[self.position]
        self.context = reply_context(self.database, platform, reply_id, codebook=self.book.name,
                                     codebook_hash=self.book.hash, reviewer=self.reviewer)
        predicted = set() if self.blind else {c for c, row in self.context["predictions"].items() if row["predicted"]}
        own = self.context["own_labels"]
        self.chosen = set(own) if own is not None else predicted
        self.note = self.context["own_note"]
        self.loads += 1

    def _move(self, step: int) -> None:
        self.position = max(0, self.position + step)
        if not self.done:
            self._load()

    def press(self, key: str) -> Step:
        """One key: 1-9 and 0 toggle categories 1-10, t another by number, x clears, a or Enter accepts and goes
        on, s skips, b goes back, n asks for a note, q quits, ? asks for the help."""
        if len(key) == 1 and key in DIGITS[: len(self.book.categories)]:
            self.toggle(DIGITS.index(key))
        elif key == "t" and len(self.book.categories) > 10:
            return Step("number")
        elif key == "x":
            self.chosen.clear()
        elif key in ("a", "\r", "\n"):
            self.accept()
        elif key == "s":
            self._move(1)
        elif key == "b":
            if self.position == 0:
                return Step(message="This is the first reply.")
            self._move(-1)
        elif key == "n":
            return Step("note")
        elif key == "q":
            self.quit = True
        elif key == "?":
            return Step("help")
        else:
            return Step(message=f"Unknown key {key!r}: press ? for the keys.")
        return Step()

    def toggle(self, index: int) -> None:
        """Mark or unmark the category at `index` (0 is the codebook's first)."""
        self.chosen.symmetric_difference_update({self.book.categories[index].id})

    def set_note(self, text: str | None) -> None:
        self.note = (text or "").strip() or None

    def accept(self) -> None:
        """Save the categories marked (none: reviewed, no category applies) with the note, and go on."""
        platform, reply_id = self.queue[self.position]
        set_gold(self.database, [{"platform": platform, "id": reply_id, "codebook": self.book.name,
                                  "codebook_hash": self.book.hash, "reviewer": self.reviewer,
                                  "labels": sorted(self.chosen), "note": self.note}])
        self.coded.add((platform, reply_id))
        if not self.chosen:
            handle = visible(self.context["reply"].get("author_handle") or "?", keep_newlines=False)
            self.notice = f"Saved: no category applies to reply {self.position + 1} (@{handle})."
        self._move(1)

    def take_notice(self) -> str:
        """The notice to show now, once."""
        notice, self.notice = self.notice, ""
        return notice
