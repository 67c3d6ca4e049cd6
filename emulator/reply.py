"""An answer the emulator sends: status, JSON (or text) body, headers."""

from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int
    body: object
    headers: dict = field(default_factory=dict)
