"""replies: ask a question on social media, then turn the replies into evidence.

Every part of the project lives under this one import namespace, so a user's environment gains no
generic top-level names: `replies.harvester`, `replies.classifier`, `replies.db`, `replies.export`,
`replies.report`, `replies.review` and `replies.cli` (pyproject.toml maps each to its folder).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("replies")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
