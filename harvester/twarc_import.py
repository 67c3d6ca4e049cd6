"""Importing twarc2 collections: JSONL of raw API v2 pages, stream output, or flattened tweets.

Every tweet the file holds is imported, those in `includes.tweets` too (a reply or a
question may be there only). Each joins the thread of its conversation; a quote post
joins the thread of the post it quotes when that thread is known. Retweets repeat
another post and are left out (their originals are imported where the file holds them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from replies import __version__, db
from replies.jsonl import read_jsonl

from .errors import HarvestError
from .record import MALFORMED, QUOTE, ROOT, Post, tolerant
from .x import is_retweet, normalise_tweet

# what an import without --format expects, and the way to the other formats
TWARC_EXPECTED = ("twarc2 JSONL (another tool's CSV or JSONL: `replies import FILE --format csv --map "
                  "text=COLUMN,...`, see `replies import --help`)")


class ImportFileError(HarvestError):
    """The file is not twarc2 output."""


@dataclass
class ImportResult:
    tweets: int
    new: int
    updated: int
    threads: int
    retweets: int = 0
    skipped: list[str] | None = None  # lines left out, each said: a line cut off at the end, an error object


def _pages(path: Path, skipped: list[str]) -> Iterator[tuple[int, list[dict], dict[str, dict], list[dict]]]:
    """(line number, tweets, users by id, referenced tweets) for each line of the file. A last line cut off
    (a collection killed while writing) and an error object from X's stream (an operational disconnect) are
    left out, each noted in `skipped`."""
    cut = lambda number: skipped.append(  # noqa: E731
        f"line {number} is cut off (the file ends in the middle of it, as a collection killed while writing "
        "leaves it): left out, the lines before it imported")
    for number, obj in read_jsonl(path, ImportFileError, TWARC_EXPECTED, cut_off=cut):
        if isinstance(obj, dict) and isinstance(obj.get("data"), (list, dict)):
            # a page of search or lookup results (a list), or a line of stream output (one tweet)
            includes = obj.get("includes") if isinstance(obj.get("includes"), dict) else {}
            users = {str(u["id"]): u for u in includes.get("users") or [] if isinstance(u, dict) and "id" in u}
            data = obj["data"] if isinstance(obj["data"], list) else [obj["data"]]
            refs = includes.get("tweets")
            yield number, data, users, refs if isinstance(refs, list) else []
        elif isinstance(obj, dict) and "id" in obj and "text" in obj:
            author = obj.get("author") if isinstance(obj.get("author"), dict) else None
            users = {str(author["id"]): author} if author and "id" in author else {}
            yield number, [obj], users, []
        elif isinstance(obj, dict) and "meta" in obj and "data" not in obj:
            continue  # an empty page
        elif isinstance(obj, dict) and isinstance(obj.get("errors"), list) and "data" not in obj:
            first = obj["errors"][0] if obj["errors"] and isinstance(obj["errors"][0], dict) else {}
            what = first.get("title") or first.get("detail") or "an error"
            skipped.append(f"line {number} is an error X sent, not tweets ({str(what)[:80]}): left out")
        else:
            raise ImportFileError(f"{path} line {number}: neither an API v2 page nor a tweet; "
                                  f"expected {TWARC_EXPECTED}")


def import_twarc(database: Database, path: str | Path) -> ImportResult:
    """Load a twarc2 JSONL file into the database in one transaction."""
    path = Path(path)
    tweets: dict[str, tuple[dict, dict[str, dict]]] = {}
    included: dict[str, tuple[dict, dict[str, dict]]] = {}
    skipped: list[str] = []
    for number, data, users, refs in _pages(path, skipped):
        for tweet in data:
            if not isinstance(tweet, dict) or not str(tweet.get("id") or "").isdigit():
                raise ImportFileError(f"{path} line {number}: a tweet without a numeric id")
            tweets[str(tweet["id"])] = (tweet, users)
        for ref in refs:
            if isinstance(ref, dict) and str(ref.get("id") or "").isdigit() and "text" in ref:
                included[str(ref["id"])] = (ref, users)
    if not tweets:
        raise ImportFileError(f"{path}: no tweets found")
    everything = {**included, **tweets}  # a tweet in `data` wins over its copy in `includes`
    retweets = {i for i, (tweet, _) in everything.items() if is_retweet(tweet)}

    def conversation(tweet_id: str) -> str | None:
        found = everything.get(tweet_id, (None, None))[0]
        return str(found["conversation_id"]) if found and found.get("conversation_id") else None

    rows: list[dict] = []
    roots: dict[str, Post] = {}
    quoting_roots: dict[str, Post] = {}  # a quote post that starts a conversation of its own: also its question
    for tweet_id, (tweet, users) in everything.items():
        if tweet_id in retweets:
            continue
        post = tolerant(lambda raw: normalise_tweet(raw, users), tweet, platform="x", id_key="id")
        conv = str(tweet.get("conversation_id") or tweet_id)
        if post is None or post.status == MALFORMED:  # one tweet not shaped as the API documents costs only itself
            kept = post is not None and conv != tweet_id  # a reply in a known conversation: kept, marked malformed
            if kept:
                rows.append(post.reply_row(conv, f"file:{path.name}", __version__))
            skipped.append(f"tweet {tweet_id} is not shaped as the X API documents: "
                           + ("stored as malformed, with its raw JSON" if kept else "left out"))
            continue
        if post.kind == QUOTE and conv == tweet_id:
            thread = conversation(post.parent_id) or post.parent_id
            question = normalise_tweet(tweet, users)
            question.kind, question.parent_id = ROOT, None
            quoting_roots[tweet_id] = question
        elif conv == tweet_id:
            post.kind, post.parent_id = ROOT, None
            roots[tweet_id] = post
            continue
        else:
            thread = conv
        rows.append(post.reply_row(thread, f"file:{path.name}", __version__))
    thread_ids = {r["thread_id"] for r in rows} | set(roots)
    with database.atomic():
        for thread_id in thread_ids:
            root = roots.get(thread_id) or quoting_roots.get(thread_id) or Post(
                platform="x", id=thread_id, kind=ROOT, url=f"https://x.com/i/web/status/{thread_id}")
            exists = database.execute("select 1 from threads where platform='x' and id=?", [thread_id]).fetchone()
            if thread_id in roots or thread_id in quoting_roots or not exists:
                db.upsert_thread(database, root.thread_row())
        counts = db.store_replies(database, rows)
    return ImportResult(len(everything) - len(retweets), counts.new, counts.updated, len(thread_ids),
                        len(retweets), skipped)
