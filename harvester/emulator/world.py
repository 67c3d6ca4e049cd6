"""The emulator's data: users and posts on each platform, and the clock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

X_EPOCH_MS = 1288834974657
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


@dataclass
class User:
    platform: str
    id: str
    handle: str
    name: str


@dataclass
class Post:
    platform: str
    id: str
    author: User
    text: str
    created_at: datetime
    parent: str | None = None      # the post replied to
    quote_of: str | None = None    # the post quoted
    root: str | None = None        # the conversation's first post
    likes: int = 0
    reposts: int = 0
    lang: str = "en"
    state: str = "ok"              # ok | deleted | protected | blocked
    labels: list[str] = field(default_factory=list)
    key: str | None = None         # the sample file's key, for tests
    spoiler: str = ""              # a content warning (Mastodon's spoiler_text)
    remote_uri: str | None = None  # Mastodon: posted on another server (its ActivityPub id there) ...
    remote_replies: int = 0        # ... with this many replies there that this server has not fetched


def _tid(micros: int, seq: int) -> str:
    value = (micros << 10) | (seq & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class World:
    """Everything the emulated platforms hold. Posts later than `now()` are not yet visible."""

    def __init__(self, clock=None):
        self._clock = clock
        self.users: dict[tuple[str, str], User] = {}
        self.posts: dict[str, dict[str, Post]] = {"x": {}, "bluesky": {}, "mastodon": {}}
        self.children: dict[tuple[str, str], list[str]] = {}
        self.quotes: dict[tuple[str, str], list[str]] = {}
        self._seq = 0

    def now(self) -> datetime:
        return self._clock() if self._clock else datetime.now(timezone.utc)

    def set_clock(self, clock) -> None:
        self._clock = clock

    def user(self, platform: str, handle: str, name: str | None = None) -> User:
        key = (platform, handle)
        if key not in self.users:
            digest = hashlib.sha256(f"{platform}:{handle}".encode()).hexdigest()
            if platform == "bluesky":
                uid = "did:plc:" + "".join(TID_ALPHABET[int(c, 16) * 2 % 32] for c in digest[:24])
            else:
                uid = str(int(digest[:12], 16) % 10**15 + 10**14)
            self.users[key] = User(platform, uid, handle, name or handle.split(".")[0].replace("_", " ").title())
        return self.users[key]

    def _new_id(self, platform: str, author: User, created: datetime) -> str:
        self._seq += 1
        ms = int(created.timestamp() * 1000)
        if platform == "x":
            return str(((ms - X_EPOCH_MS) << 22) | (self._seq & 0x3FFFFF))
        if platform == "mastodon":
            return str((ms << 16) | (self._seq & 0xFFFF))
        return f"at://{author.id}/app.bsky.feed.post/{_tid(int(created.timestamp() * 1_000_000), self._seq)}"

    def add(self, platform: str, handle: str, text: str, created_at: datetime, *, parent: str | None = None,
            quote_of: str | None = None, **extra) -> Post:
        """Add a post; `parent` and `quote_of` are ids of posts already added."""
        author = self.user(platform, handle)
        post_id = self._new_id(platform, author, created_at)
        store = self.posts[platform]
        root = store[parent].root if parent else None
        post = Post(platform, post_id, author, text, created_at, parent=parent, quote_of=quote_of,
                    root=root or post_id, **extra)
        store[post_id] = post
        if parent:
            self.children.setdefault((platform, parent), []).append(post_id)
        if quote_of:
            self.quotes.setdefault((platform, quote_of), []).append(post_id)
        return post

    def visible(self, post: Post) -> bool:
        return post.created_at <= self.now()

    def get(self, platform: str, post_id: str) -> Post | None:
        post = self.posts[platform].get(post_id)
        return post if post and self.visible(post) else None

    def replies_to(self, platform: str, post_id: str) -> list[Post]:
        """Visible direct replies, oldest first."""
        ids = self.children.get((platform, post_id), [])
        return [p for p in (self.posts[platform][i] for i in ids) if self.visible(p)]

    def quotes_of(self, platform: str, post_id: str) -> list[Post]:
        ids = self.quotes.get((platform, post_id), [])
        return [p for p in (self.posts[platform][i] for i in ids) if self.visible(p) and p.state == "ok"]

    def thread(self, platform: str, root_id: str) -> list[Post]:
        """Every visible post below `root_id`, any depth, any state."""
        out, stack = [], [root_id]
        while stack:
            for child in self.replies_to(platform, stack.pop()):
                out.append(child)
                stack.append(child.id)
        return out

    def expected(self, platform: str, root_id: str) -> set[str]:
        """Ids a complete harvest of `root_id` should store: every reply at any depth, and quotes."""
        replies = {p.id for p in self.thread(platform, root_id) if p.state != "protected"
                   and not (platform != "bluesky" and p.state in ("deleted", "blocked"))}
        return replies | {p.id for p in self.quotes_of(platform, root_id)}


def synthetic_thread(world: World, platform: str, replies: int, *, quotes: int = 0, start: datetime | None = None,
                     branching: int = 5, seed: int = 7) -> Post:
    """A large generated thread for benchmarks: a question and `replies` replies in a tree."""
    import random

    rng = random.Random(seed)
    start = start or (world.now() - timedelta(days=2))
    handle = "asker.bsky.social" if platform == "bluesky" else "asker"
    root = world.add(platform, handle, "Why does lean seem harder in the English NHS?", start)
    ids = [root.id]
    step = timedelta(days=1.5) / max(1, replies + quotes)
    for i in range(replies):
        near_root = rng.random() < 0.5 or len(ids) == 1
        parent = ids[0] if near_root else ids[rng.randrange(max(1, len(ids) // branching), len(ids))]
        who = f"user{rng.randrange(replies // 3 + 1)}" + (".bsky.social" if platform == "bluesky" else "")
        post = world.add(platform, who, f"Reply {i}: staffing, money and time are the obstacles here ({rng.random():.6f}).",
                         start + step * (i + 1), parent=parent, likes=rng.randrange(50))
        ids.append(post.id)
    for i in range(quotes):
        who = f"quoter{i}" + (".bsky.social" if platform == "bluesky" else "")
        world.add(platform, who, f"Quote {i}: worth reading this thread.", start + step * (replies + i + 1),
                  quote_of=root.id)
    return root
