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


def load_sample_elsewhere(world: World, start: datetime | None = None) -> dict[str, Post]:
    """The sample's X question and replies asked again on Reddit, YouTube and Threads (YouTube's replies
    are one level deep, so a reply to a reply there answers its top-level comment); returns the roots."""
    start = start or (world.now() - timedelta(days=2))
    rows = [r for r in sample_rows() if r.platform == "x" and r.parent != "quote"]
    roots: dict[str, Post] = {}
    for platform in ("reddit", "youtube", "threads"):
        by_key: dict[str, Post] = {}
        top: dict[str, str] = {}  # key -> the key of its top-level comment
        for index, row in enumerate(rows):
            when = start + timedelta(minutes=7 * index)
            if row.parent == "-":
                text = row.text if platform == "threads" else row.text.replace("? ", "?\n\n", 1)
                roots[platform] = by_key[row.key] = world.add(platform, "asker", text, start, likes=120)
                continue
            top[row.key] = row.key if row.parent == "root" else top.get(row.parent, row.parent)
            parent_key = top[row.key] if platform == "youtube" and row.parent != "root" else row.parent
            parent = roots[platform] if parent_key == "root" else by_key[parent_key]
            state = "deleted" if "deleted" in row.flags else "ok"
            by_key[row.key] = world.add(platform, row.author.split(".")[0], row.text, when, parent=parent.id,
                                        likes=(len(row.text) * 7 + index * 13) % 60, state=state)
    return roots


def post_url(emulator, post: Post) -> str:
    """The web URL a user would paste for a sample post on its platform."""
    if post.platform == "x":
        return f"https://x.com/{post.author.handle}/status/{post.id}"
    if post.platform == "bluesky":
        return f"https://bsky.app/profile/{post.author.handle}/post/{post.id.rsplit('/', 1)[-1]}"
    if post.platform == "reddit":
        return f"https://www.reddit.com/r/{emulator.reddit_subreddit}/comments/{post.id}/a_question/"
    if post.platform == "youtube":
        return f"https://www.youtube.com/watch?v={post.id}"
    if post.platform == "threads":
        from .threads_api import shortcode
        return f"https://www.threads.net/@{post.author.handle}/post/{shortcode(post.id)}"
    return f"{emulator.base_url}/@{post.author.handle}/{post.id}"
