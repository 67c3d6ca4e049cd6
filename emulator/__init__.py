"""A local emulator of the X API v2, the Bluesky AppView, the Mastodon REST API, Reddit's OAuth API, the
YouTube Data API v3, the Threads API, and an OpenAI-compatible chat-completions server.

Written from the platforms' public documentation for tests, benchmarks and the
demo: real HTTP on 127.0.0.1 with the documented JSON shapes, pagination,
rate-limit headers, caps and failure modes, plus fault injection. It imports
nothing from the harvester, so it checks the harvester rather than mirroring it.
"""

from .server import Emulator, Fault
from .world import World

__all__ = ["Emulator", "Fault", "World"]
