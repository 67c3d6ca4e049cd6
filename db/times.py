"""Timestamps: every time stored is ISO-8601 UTC with a trailing Z."""

from __future__ import annotations

import re
from datetime import datetime, timezone


def utc_now() -> str:
    """The current time as stored in the database."""
    return to_iso(datetime.now(timezone.utc))


def to_iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(value: str) -> datetime:
    """Parse the ISO-8601 forms the platforms send (Z or offset, any fraction)."""
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    # Python 3.11 accepts most ISO forms but not over-long fractions.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = re.match(r"[0-9]*", rest).group()  # the fraction only: an offset's digits follow it
        tail = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def normalise_iso(value: str | None) -> str | None:
    """Any platform timestamp as stored: ISO-8601 UTC, milliseconds, Z."""
    if not value:
        return None
    return to_iso(parse_iso(value))


def untrusted_iso(value) -> str | None:
    """A timestamp from a server, as stored; None when it is not a time at all (the raw JSON keeps it)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return normalise_iso(value)
    except (ValueError, OverflowError):
        return None


def untrusted_epoch(value) -> str | None:
    """Epoch seconds from a server (Reddit's `created_utc`), as stored; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 253402300800:
        return None
    return to_iso(datetime.fromtimestamp(value, timezone.utc))
