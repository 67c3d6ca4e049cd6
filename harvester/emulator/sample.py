"""The bundled sample thread: one question asked on X, Bluesky and Mastodon, 160 replies.

The question goes up two days before the emulator's clock, so X's 7-day recent
search reaches it; replies follow every few minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources

from .world import Post, World


@dataclass
class SampleRow:
    platform: str
    key: str
    parent: str
    author: str
    labels: list[str]
    flags: list[str]
    text: str


def sample_rows() -> list[SampleRow]:
    """The sample file's rows, in order."""
    text = resources.files(__package__).joinpath("data/sample_thread.txt").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        platform, key, parent, author, labels, flags, body = (c.strip() for c in line.split(" | ", 6))
        rows.append(SampleRow(platform, key, parent, author, [] if labels == "-" else labels.split(","),
                              [] if flags == "-" else flags.split(","), body.replace("\\n", "\n")))
    return rows


def load_sample(world: World, start: datetime | None = None) -> dict[str, Post]:
    """Add the sample to `world`; returns each platform's question post by platform name."""
    start = start or (world.now() - timedelta(days=2))
    roots: dict[str, Post] = {}
    by_key: dict[tuple[str, str], Post] = {}
    for index, row in enumerate(sample_rows()):
        when = start + timedelta(minutes=7 * index)
        state = next((f for f in row.flags if f in ("deleted", "blocked", "protected")), "ok")
        likes = (len(row.text) * 7 + index * 13) % 60
        if row.parent == "-":
            post = world.add(row.platform, row.author, row.text, start, likes=120, key=row.key)
            roots[row.platform] = post
        elif row.parent == "quote":
            post = world.add(row.platform, row.author, row.text, when, quote_of=roots[row.platform].id,
                             likes=likes, state=state, labels=row.labels, key=row.key)
        else:
            parent = roots[row.platform] if row.parent == "root" else by_key[(row.platform, row.parent)]
            lang = "ar" if "nhs_arabic" in row.author else "he" if "rtlreader" in row.author else "en"
            post = world.add(row.platform, row.author, row.text, when, parent=parent.id, likes=likes,
                             state=state, labels=row.labels, key=row.key, lang=lang)
        by_key[(row.platform, row.key)] = post
    return roots


def post_url(emulator, post: Post) -> str:
    """The web URL a user would paste for a sample post on its platform."""
    if post.platform == "x":
        return f"https://x.com/{post.author.handle}/status/{post.id}"
    if post.platform == "bluesky":
        return f"https://bsky.app/profile/{post.author.handle}/post/{post.id.rsplit('/', 1)[-1]}"
    return f"{emulator.base_url}/@{post.author.handle}/{post.id}"
