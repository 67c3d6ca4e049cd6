"""Opening the database: path resolution, WAL, busy timeout, migrations."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from .errors import DatabaseError, SchemaTooNew
from .schema import known_migrations, migrate, migrations

DEFAULT_DB = "replies.db"
# Databases are opened with execute_plugins=False: a sqlite-utils plugin installed in the same environment does
# not change replies' connections, and finding plugins (a scan of every installed package's entry points) is
# not paid by every command.
BUSY_TIMEOUT_MS = 10_000


class Store(Database):
    """sqlite-utils' Database whose transactions take the write lock when they begin (BEGIN IMMEDIATE).

    A deferred transaction that reads first and writes later cannot wait for a writer that committed in
    between: SQLite refuses it at once ("database is locked"), whatever the busy timeout. Taken at the start,
    the lock is waited for like any other, so a long import and a `replies label` in another process take turns
    instead of one failing. A read-only connection begins as usual."""

    readonly = False

    @contextmanager
    def atomic(self) -> Iterator["Store"]:
        if self.readonly or self.conn.in_transaction:  # a savepoint inside a transaction, as sqlite-utils does
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise


def resolve_path(path: str | os.PathLike | None = None) -> Path:
    """The database path: the argument, else $REPLIES_DB, else ./replies.db."""
    return Path(path or os.environ.get("REPLIES_DB") or DEFAULT_DB)


def open_db(path: str | os.PathLike | None = None, *, readonly: bool = False, reopen: bool = False,
            create: bool = True) -> Database:
    """Open (creating if needed, unless `create` is False) and migrate the database at `path`.

    WAL mode lets readers work while a harvest writes; the busy timeout makes
    a writer wait briefly for another instead of failing at once. `reopen`: this
    process opened (and so migrated) the database before; skip the schema check
    and migrations, which cost about 1 ms (a connection per web request).
    """
    target = resolve_path(path)
    if (readonly or not create) and not target.exists():
        raise DatabaseError(f"no database at {target}: run `replies harvest URL` first or pass --db")
    if readonly:
        conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        db = Store(conn, execute_plugins=False)
        db.readonly = True
        try:
            _check_not_newer(db)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"cannot open database {target}: {exc}") from None
        return db
    if target.parent and not target.parent.exists():
        raise DatabaseError(f"cannot create database {target}: folder {target.parent} does not exist")
    try:
        conn = sqlite3.connect(str(target), timeout=BUSY_TIMEOUT_MS / 1000)
        db = Store(conn, execute_plugins=False)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if reopen:
            db.execute("PRAGMA synchronous = NORMAL")
            return db
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        _check_not_newer(db)
        migrate(db)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"cannot open database {target}: {exc}") from exc
    return db


def _check_not_newer(db: Database) -> None:
    known = set(known_migrations())
    unknown = [m.name for m in migrations.applied(db) if m.name not in known]
    if unknown:
        raise SchemaTooNew(
            f"database was written by a newer version of replies (migration {unknown[0]!r}); "
            "upgrade replies to open it"
        )
