"""The database schema as named, append-only migrations.

Never edit a migration that has shipped: add a new one below it. A database
made by any earlier version is brought up to date by `migrate()`.
"""

from sqlite_utils import Database, Migrations

migrations = Migrations("replies")


@migrations()
def m001_initial(db: Database) -> None:
    db["threads"].create(
        {
            "platform": str,
            "id": str,
            "url": str,
            "author_id": str,
            "author_handle": str,
            "text": str,
            "html": str,
            "created_at": str,
            "lang": str,
            "like_count": int,
            "repost_count": int,
            "reply_count": int,
            "quote_count": int,
            "raw": str,
            "added_at": str,
            "last_harvest_at": str,
        },
        pk=("platform", "id"),
        not_null={"platform", "id"},
    )
    db["replies"].create(
        {
            "platform": str,
            "id": str,
            "thread_id": str,
            "parent_id": str,
            "kind": str,
            "status": str,
            "author_id": str,
            "author_handle": str,
            "text": str,
            "html": str,
            "created_at": str,
            "url": str,
            "lang": str,
            "like_count": int,
            "repost_count": int,
            "reply_count": int,
            "quote_count": int,
            "raw": str,
            "source_url": str,
            "tool_version": str,
            "first_seen": str,
            "last_seen": str,
        },
        pk=("platform", "id"),
        not_null={"platform", "id", "thread_id", "kind", "status"},
    )
    db["replies"].create_index(["platform", "thread_id"])
    db["replies"].enable_fts(["text"], create_triggers=True, tokenize="unicode61")
    db["harvest_runs"].create(
        {
            "id": int,
            "platform": str,
            "thread_id": str,
            "started_at": str,
            "ended_at": str,
            "new_count": int,
            "updated_count": int,
            "requests": int,
            "outcome": str,
            "error": str,
            "tool_version": str,
        },
        pk="id",
    )
    db["harvest_runs"].create_index(["platform", "thread_id"])
    # Pagination checkpoints: written in the same transaction as the page they
    # follow, so a killed run resumes exactly where its last commit left off.
    db["cursors"].create(
        {"platform": str, "thread_id": str, "name": str, "value": str, "updated_at": str},
        pk=("platform", "thread_id", "name"),
    )


def migrate(db: Database) -> None:
    """Apply every pending migration."""
    migrations.apply(db)


def known_migrations() -> list[str]:
    """Names of every migration this version of the code knows, in order."""
    return [m.name for m in migrations.pending(Database(memory=True))]


@migrations()
def m002_classification(db: Database) -> None:
    # Sentence vectors keyed by model and text hash, so reclassifying does no model work.
    db["embeddings"].create(
        {"model": str, "text_hash": str, "dim": int, "vector": bytes},
        pk=("model", "text_hash"), not_null={"model", "text_hash", "vector"},
    )
    # One row per reply, codebook version and category: the score and whether it passed the
    # threshold, with the method, model and threshold that produced it.
    db["predictions"].create(
        {"platform": str, "id": str, "codebook": str, "codebook_hash": str, "category": str, "score": float,
         "predicted": int, "threshold": float, "method": str, "model": str, "created_at": str},
        pk=("platform", "id", "codebook_hash", "category"),
        not_null={"platform", "id", "codebook_hash", "category"},
    )
    db["predictions"].create_index(["codebook", "category"])
    # Human (gold) labels: one row per reply, reviewer and codebook; `labels` is a JSON list of ids.
    db["gold_labels"].create(
        {"platform": str, "id": str, "codebook": str, "reviewer": str, "labels": str, "note": str,
         "created_at": str},
        pk=("platform", "id", "codebook", "reviewer"),
        not_null={"platform", "id", "codebook", "reviewer", "labels"},
    )
    db["classify_runs"].create(
        {"id": int, "started_at": str, "ended_at": str, "codebook": str, "codebook_hash": str, "method": str,
         "model": str, "thresholds": str, "replies": int, "embedded": int, "gold": int,
         "cv_zero_shot": float, "cv_few_shot": float, "tool_version": str},
        pk="id",
    )
