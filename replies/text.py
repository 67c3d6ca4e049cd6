"""Shortening text for one line of a screen or a chart label."""

from __future__ import annotations


def clip(text: str | None, width: int, *, one_line: bool = False) -> str:
    """`text` cut to `width` characters with an ellipsis; `one_line` also collapses whitespace and newlines."""
    text = " ".join((text or "").split()) if one_line else (text or "")
    return text if len(text) <= width else text[: width - 1] + "…"
