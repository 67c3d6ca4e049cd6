"""Writing a file or folder so that it appears only when complete: a failed write leaves nothing behind.

Used by every part that writes beside the database or where the user asked (exports, reports, draft codebooks,
fine-tuned models), so it sits at the root of the namespace, below all of them. Each caller names the error
its users see (`error=`); the default is `WriteError`."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from replies.errors import RepliesError


class WriteError(RepliesError):
    """A file or folder that cannot be written where asked (the message says why and what to do)."""

    exit_code = 1


Error = Callable[[str], Exception]


@contextmanager
def atomic_file(out: str | os.PathLike, mode: str = "w", *, error: Error = WriteError):
    """A temporary file beside `out`, renamed onto it only if the block completes."""
    target = Path(out)
    _check_parent(target, error)
    if target.is_dir():
        raise error(f"cannot write {target}: it is a folder")
    _refuse_special(target, error)
    try:
        handle = tempfile.NamedTemporaryFile(mode, dir=target.parent, delete=False, suffix=".part",
                                             prefix=f".{target.name}.", **({"encoding": "utf-8", "newline": ""}
                                                                           if "b" not in mode else {}))
    except OSError as exc:
        raise error(f"cannot write {target}: {exc.strerror} in {target.parent}") from None
    try:
        os.chmod(handle.name, 0o666 & ~_umask())
        with handle:
            yield handle
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(out: str | os.PathLike, *, error: Error = WriteError):
    """A temporary folder beside `out`, renamed onto it only if the block completes."""
    target = Path(out)
    _check_parent(target, error)
    _refuse_special(target, error)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise error(f"cannot write {target}: it exists and is not an empty folder")
    try:
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    except OSError as exc:
        raise error(f"cannot write {target}: {exc.strerror} in {target.parent}") from None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _check_parent(target: Path, error: Error) -> None:
    if not target.parent.exists():
        raise error(f"cannot write {target}: folder {target.parent} does not exist")
    if not target.parent.is_dir():
        raise error(f"cannot write {target}: {target.parent} is not a folder")


def _refuse_special(target: Path, error: Error) -> None:
    """A write replaces a regular file only: never a link (it would write where the link points, or cut
    it), a device such as /dev/null, a FIFO or a socket."""
    try:
        mode = os.lstat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else None)
    if kind:
        raise error(f"will not replace {target}: it is {kind}; give the path of a regular file")


def _umask() -> int:
    """The process umask (read by setting it, then put back): temporary files get 0600, what is written should not."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
