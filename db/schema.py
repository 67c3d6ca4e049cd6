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
