"""The emulator's data: users and posts on each platform, and the clock."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

X_EPOCH_MS = 1288834974657
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
PLATFORMS = ("x", "bluesky", "mastodon", "reddit", "youtube", "threads")
B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


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
    state: str = "ok"              # ok | deleted | protected | blocked | removed (Reddit, by a moderator)
    labels: list[str] = field(default_factory=list)
    key: str | None = None         # the sample file's key, for tests
    spoiler: str = ""              # a content warning (Mastodon's spoiler_text)
    remote_uri: str | None = None  # Mastodon: posted on another server (its ActivityPub id there) ...
    remote_replies: int = 0        # ... with this many replies there that this server has not fetched


def _encode(value: int, alphabet: str) -> str:
    out = ""
    while value:
        value, digit = divmod(value, len(alphabet))
        out = alphabet[digit] + out
    return out or alphabet[0]


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
        # by platform: the built-in ones, and any other a plugin's emulator adds posts for
        self.posts: dict[str, dict[str, Post]] = defaultdict(dict, {name: {} for name in PLATFORMS})
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
        if platform == "reddit":  # base 36, as Reddit's ids are
            return _encode(10**9 + self._seq * 7919, B36)
        if platform == "youtube":  # a video id (11 characters) or a comment id (26)
            digest = hashlib.sha256(f"yt{self._seq}".encode()).digest()
            return "".join(B64[b % 64] for b in digest[:26])
        if platform == "threads":
            return str(17_000_000_000_000_000 + ms * 1000 + self._seq % 1000)
        if platform == "bluesky":
            return f"at://{author.id}/app.bsky.feed.post/{_tid(int(created.timestamp() * 1_000_000), self._seq)}"
        return str(self._seq)  # another platform's (a plugin's emulator): a plain number

    def add(self, platform: str, handle: str, text: str, created_at: datetime, *, parent: str | None = None,
            quote_of: str | None = None, **extra) -> Post:
        """Add a post; `parent` and `quote_of` are ids of posts already added."""
        author = self.user(platform, handle)
        post_id = self._new_id(platform, author, created_at)
        store = self.posts[platform]
        if platform == "youtube":  # a video's id is 11 characters; a reply's is its thread's id, a dot, 22 more
            post_id = post_id[:11] if parent is None else (
                f"{parent}.{post_id[:22]}" if store[parent].parent else "Ug" + post_id[2:])
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
        kept = ("bluesky", "reddit")  # platforms that keep a deleted post's place in the tree
        replies = {p.id for p in self.thread(platform, root_id) if p.state != "protected"
                   and not (platform not in kept and p.state in ("deleted", "blocked"))}
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
        if platform != "youtube" or parent == root.id:  # YouTube's replies are one level deep
            ids.append(post.id)
    for i in range(quotes):
        who = f"quoter{i}" + (".bsky.social" if platform == "bluesky" else "")
        world.add(platform, who, f"Quote {i}: worth reading this thread.", start + step * (replies + i + 1),
                  quote_of=root.id)
    return root


def reddit_thread(world: World, comments: int, *, chains: int = 40, chain_depth: tuple[int, int] = (12, 32),
                  deleted: int = 30, removed: int = 20, seed: int = 11) -> Post:
    """A Reddit post with `comments` comments: a bushy tree, `chains` deep reply chains (past Reddit's
    depth of 10, so read through "continue this thread"), and some comments deleted or removed."""
    import random

    rng = random.Random(seed)
    start = world.now() - timedelta(days=1)
    root = world.add("reddit", "asker", "Ask r/NHS: why is lean improvement harder here?\n\nPlease say why.", start)
    ids = [root.id]
    chained = chains * sum(chain_depth) // 2
    bushy = max(0, comments - chained)
    step = timedelta(hours=20) / max(1, comments)
    when = start
    for i in range(bushy):
        when += step
        parent = root.id if rng.random() < 0.2 else ids[rng.randrange(len(ids))]
        post = world.add("reddit", f"redditor{rng.randrange(400)}", f"Comment {i}: rotas, budgets, no time "
                         f"({rng.random():.5f}).", when, parent=parent, likes=rng.randrange(80))
        ids.append(post.id)
    made = bushy
    for c in range(chains):
        parent = ids[rng.randrange(len(ids))]
        for d in range(rng.randrange(*chain_depth)):
            if made >= comments:
                break
            when += step
            parent = world.add("reddit", f"chainer{c}", f"Chain {c} reply {d}.", when, parent=parent).id
            made += 1
    for _ in range(comments - made):
        when += step
        world.add("reddit", "late", "A late top-level comment.", when, parent=root.id)
    everyone = world.thread("reddit", root.id)
    for post in rng.sample(everyone, deleted + removed)[:deleted + removed]:
        post.state = "deleted" if deleted > 0 else "removed"
        deleted -= 1
    return root


def youtube_video(world: World, threads: int, *, long_threads: tuple[int, ...] = (60, 75, 140, 230),
                  short_replies: int = 4, seed: int = 5) -> Post:
    """A video with `threads` top-level comments; every tenth has a few replies (all shown in the thread
    listing) and the first few have `long_threads` replies (paged with comments.list)."""
    import random

    rng = random.Random(seed)
    start = world.now() - timedelta(days=3)
    video = world.add("youtube", "channel", "Lean in the NHS: why is it harder?\n\nTell us in the comments.", start)
    when = start
    for i in range(threads):
        when += timedelta(seconds=30)
        top = world.add("youtube", f"viewer{rng.randrange(900)}", f"Comment {i}: staffing ({rng.random():.5f})",
                        when, parent=video.id, likes=rng.randrange(30))
        count = long_threads[i] if i < len(long_threads) else (rng.randrange(1, short_replies + 1)
                                                               if i % 10 == 0 else 0)
        for r in range(count):
            when += timedelta(seconds=1)
            world.add("youtube", f"replier{rng.randrange(300)}", f"Reply {r} to {i}.", when, parent=top.id)
    return video


def threads_conversation(world: World, replies: int, *, depth: int = 8, owner: str = "asker", seed: int = 9) -> Post:
    """A Threads post by `owner` with `replies` replies reaching `depth` levels."""
    import random

    rng = random.Random(seed)
    start = world.now() - timedelta(days=2)
    root = world.add("threads", owner, "Why does lean improvement seem harder in the English NHS?", start)
    levels: list[list[str]] = [[root.id]]
    when = start
    for i in range(replies):
        when += timedelta(minutes=1)
        level = min(len(levels) - 1, rng.randrange(depth)) if i >= depth else i
        parent = rng.choice(levels[level])
        post = world.add("threads", f"threader{rng.randrange(200)}", f"Reply {i}: money and time.", when,
                         parent=parent)
        if len(levels) <= level + 1:
            levels.append([])
        levels[level + 1].append(post.id)
    return root
