"""One harvest at a time per database: an advisory lock file beside it.

The lock is an flock on `<database>.lock`, so the kernel releases it when the
holder dies, however it dies; the file also records the holder's pid and start
time, so a run that finds a dead holder's details knows it is taking over.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from .errors import DatabaseError
from .times import utc_now


class LockHeld(DatabaseError):
    """Another harvest holds the lock on this database."""


class HarvestLock:
    def __init__(self, db_path: str | os.PathLike):
        self.path = Path(str(db_path) + ".lock")
        self.handle = None
        self.stale: dict | None = None  # the dead holder's details, when the lock was taken over

    def __enter__(self) -> "HarvestLock":
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(handle)
            handle.close()
            since = f" since {holder['started_at']}" if holder.get("started_at") else ""
            raise LockHeld(f"another harvest (pid {holder.get('pid', '?')}{since}) is running on this database;"
                           f" this one stops (the lock is {self.path})") from None
        previous = _read(handle)
        if previous.get("pid") and not _alive(previous["pid"]):
            self.stale = previous
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "started_at": utc_now()}))
        handle.flush()
        self.handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self.handle:
            self.handle.seek(0)
            self.handle.truncate()  # an empty file: released cleanly, nothing stale to report
            self.handle.flush()
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def _read(handle) -> dict:
    handle.seek(0)
    try:
        return json.loads(handle.read() or "{}")
    except ValueError:
        return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
