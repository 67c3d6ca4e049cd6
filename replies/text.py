"""Text for a screen or a page: shortened to a line, and with control characters made visible instead of
obeyed."""

from __future__ import annotations

import html
import re


def clip(text: str | None, width: int, *, one_line: bool = False) -> str:
    """`text` cut to `width` characters with an ellipsis; `one_line` also collapses whitespace and newlines."""
    text = " ".join((text or "").split()) if one_line else (text or "")
    return text if len(text) <= width else text[: width - 1] + "…"


# DEL, C1 controls (0x9b is a one-byte CSI) and the Unicode bidirectional overrides and isolates, which
# reorder what a terminal shows; with the C0 controls (ESC starts terminal escape sequences), what must
# never reach a screen as it is.
_BEYOND_C0 = "\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f{_BEYOND_C0}]")
_CONTROL_AND_LAYOUT = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
_BEYOND_JSON = re.compile(f"[{_BEYOND_C0}]")  # JSON itself escapes the C0 controls


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Text as it is stored: a lone surrogate (what JSON's "\\ud800" decodes to, never a character of its own,
    and not encodable as UTF-8) replaced by U+FFFD, the replacement character; the rest kept as it is. One rule,
    applied where text comes in, so that no later step (storage, a CSV, a page, a terminal) meets one."""
    return _SURROGATE.sub("\ufffd", text)


def json_storable(json_text: str) -> str:
    """JSON text (written with ensure_ascii=False) with each lone surrogate written back as its `\\uXXXX`
    escape: the same JSON, now encodable as UTF-8 (a server's raw answer is stored as it was sent)."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def visible(text: str, *, keep_newlines: bool = True) -> str:
    """`text` safe to print on a terminal: every control character (escape sequences that clear the screen,
    set the window title or write the clipboard) and bidirectional override shown as a `\\xNN` or `\\uNNNN`
    escape instead of acting. Newlines and tabs stay unless `keep_newlines` is False."""
    pattern = _CONTROL if keep_newlines else _CONTROL_AND_LAYOUT
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                       else f"\\u{ord(m.group()):04x}", text)


def json_visible(json_text: str) -> str:
    """JSON text with the characters `visible` shows as escapes written as JSON's own `\\uNNNN` escapes, so
    it still decodes to the same values."""
    return _BEYOND_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


# what XML 1.0 cannot hold at all, even escaped: C0 controls but tab, newline and return, surrogates, U+FFFE, U+FFFF
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """`text` as `visible` shows it, with every character XML cannot hold (U+FFFE, U+FFFF, a lone surrogate)
    shown as an escape too: for files that an XML parser must read (a GEXF or GraphML network)."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", visible(text))


def html_text(value) -> str:
    """Text for an HTML page: escaped, and with control characters and bidirectional overrides shown as escapes
    (a reply's ESC sequence must not act on whoever reads the file in a terminal)."""
    return html.escape(visible(str(value)))
