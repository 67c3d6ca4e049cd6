"""replies: ask a question on social media, then turn the replies into evidence.

Every part of the project lives under this one import namespace, so a user's environment gains no generic
top-level names: `replies.platforms` (each platform's declaration, and the registry plugins join),
`replies.harvester`, `replies.classifier`, `replies.db`, `replies.estimate`, `replies.export`,
`replies.report`, `replies.review`, `replies.web`, `replies.cli`, `replies.emulator`, and the shared layers
`replies.net`, `replies.codebook`, `replies.errors` (pyproject.toml maps each top-level folder to its place).

`replies.__version__` is read from the installed metadata when first asked for (finding it costs a scan of the
import path, which a command that never prints the version should not pay).
"""

from __future__ import annotations

import functools


@functools.cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("replies")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'replies' has no attribute {name!r}")
