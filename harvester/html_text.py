"""Mastodon's HTML content as faithful plain text (BeautifulSoup does the parsing).

Paragraphs become blank-line separated, <br> a newline, mentions and hashtags
keep their visible text, and links show their full address rather than
Mastodon's shortened display form.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, NavigableString, Tag

BLOCKS = {"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"}


def html_to_text(html: str | None, *, drop_quote_fallback: bool = False) -> str:
    """Plain text of a status's `content`. With `drop_quote_fallback`, the "RE: <link>" paragraph that
    Mastodon adds for clients unaware of quotes (class `quote-inline`) is left out, as quote-aware
    clients do: the quote itself is kept as the post's `quote_of`."""
    if not html:
        return ""
    soup = BeautifulSoup(html, "html.parser")
    if drop_quote_fallback:
        for fallback in soup.find_all(class_="quote-inline"):
            fallback.decompose()
    blocks: list[str] = []
    loose: list[str] = []
    for node in soup.contents:
        if isinstance(node, Tag) and node.name in BLOCKS:
            if loose:
                blocks.append("".join(loose))
                loose = []
            blocks.append(_block(node))
        else:
            loose.append(_inline(node))
    if loose:
        blocks.append("".join(loose))
    return "\n\n".join(b.strip("\n") for b in blocks if b.strip())


def _block(tag: Tag) -> str:
    if tag.name in ("ul", "ol"):
        items = [li for li in tag.find_all("li", recursive=False)]
        return "\n".join(
            (f"{i}. " if tag.name == "ol" else "- ") + _inline_children(li)
            for i, li in enumerate(items, start=1)
        )
    text = _inline_children(tag)
    if tag.name == "blockquote":
        return "\n".join("> " + line for line in text.split("\n"))
    return text


def _inline_children(tag: Tag) -> str:
    parts = []
    for child in tag.children:
        if isinstance(child, Tag) and child.name in BLOCKS:
            parts.append("\n" + _block(child) + "\n")
        else:
            parts.append(_inline(child))
    return "".join(parts)


def _inline(node) -> str:
    if isinstance(node, NavigableString):
        return str(node)
    if not isinstance(node, Tag):
        return ""
    if node.name == "br":
        return "\n"
    if node.name == "a":
        return _link(node)
    return _inline_children(node)


def _link(tag: Tag) -> str:
    classes = set(tag.get("class") or [])
    shown = tag.get_text()
    href = tag.get("href") or ""
    if classes & {"mention", "hashtag"} or not href:
        return shown
    # Mastodon hides the scheme and the tail of long links in invisible spans;
    # the visible text alone ("example.org/long…") is not the address.
    if tag.find(class_=("invisible", "ellipsis")) or shown.strip() == href or href.endswith(shown.strip()):
        return href
    return f"{shown} ({href})"
