"""Errors the storage layer raises; the CLI turns them into one-line messages."""

from replies.errors import RepliesError


class DatabaseError(RepliesError):
    """Base class for storage errors a user can act on."""


class SchemaTooNew(DatabaseError):
    """The database was written by a newer version of replies."""


class UnknownThread(DatabaseError):
    """A thread reference that matches no tracked thread."""


class QueryError(DatabaseError):
    """SQL from the user that cannot run: a write on the read-only connection, or a syntax error."""
