"""A compressed answer decoded as it arrives, never to more than a limit: a few KB of gzip can inflate to
gigabytes, and a limit checked after the whole body is inflated holds nothing.

The project asks for `gzip, deflate` only (Accept-Encoding) and reads those, stacked in any order and depth
(`Content-Encoding: gzip, gzip`), with zlib's `max_length`, so that no single step produces more than a chunk;
the decoded bytes are counted as they come out and the answer is refused the moment they pass the limit. An
encoding it did not ask for and cannot bound (br, zstd, anything else) is refused rather than read unbounded.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

CHUNK = 1 << 16  # the most one decompression step may produce
READ = ("gzip", "x-gzip", "deflate", "identity")
ACCEPT = "gzip, deflate"


class DecodeError(Exception):
    """The answer cannot be decoded: an encoding not asked for, a broken stream, or more than the limit."""

    def __init__(self, message: str, *, too_big: bool = False):
        super().__init__(message)
        self.too_big = too_big


def encodings(header: str | None) -> list[str]:
    """The codings of a Content-Encoding header, in the order they were applied ('' and identity dropped)."""
    found = [part.strip().lower() for part in (header or "").split(",")]
    return [coding for coding in found if coding and coding != "identity"]


class _Inflate:
    """One gzip or deflate layer, bounded by CHUNK a step. Deflate is zlib-wrapped by the standard, raw by some
    servers: the first bytes decide, as browsers and httpx do."""

    def __init__(self, coding: str):
        self.raw_fallback = coding == "deflate"
        self.stream = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS)
        self.started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self.stream.decompress(data, CHUNK)
        except zlib.error:
            if not (self.raw_fallback and not self.started):
                raise
            self.stream = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self.stream.decompress(data, CHUNK)
        self.started = True
        while True:
            if out:
                yield out
            if self.stream.unconsumed_tail:
                out = self.stream.decompress(self.stream.unconsumed_tail, CHUNK)
            elif len(out) == CHUNK:  # the output was cut at the chunk: more may be waiting inside zlib
                out = self.stream.decompress(b"", CHUNK)
            else:
                return

    def finish(self) -> Iterator[bytes]:
        yield from self.feed(b"")
        rest = self.stream.flush(CHUNK)
        if rest:
            yield rest


class BoundedDecoder:
    """Decodes a body of Content-Encoding `header`, raising DecodeError once more than `limit` decoded bytes
    have come out (or an encoding it does not read is named)."""

    def __init__(self, header: str | None, limit: int):
        codings = encodings(header)
        unread = [c for c in codings if c not in READ]
        if unread:
            raise DecodeError(f"answer compressed with {', '.join(unread)}, which replies did not ask for and does "
                              f"not read (it asks for {ACCEPT})")
        self.layers = [_Inflate(c) for c in reversed(codings)]  # the last coding applied is undone first
        self.limit = limit
        self.size = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes `data` (the next raw bytes of the body) gives, a chunk at a time."""
        yield from self._through(0, data)

    def finish(self) -> Iterator[bytes]:
        """What the layers still hold once the body has ended, outermost first."""
        for index, layer in enumerate(self.layers):
            pieces = layer.finish()
            while True:
                try:
                    piece = next(pieces)
                except StopIteration:
                    break
                except zlib.error as exc:
                    raise DecodeError(f"answer's compressed body is broken ({exc})") from None
                yield from self._through(index + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self.layers):
            self.size += len(data)
            if self.size > self.limit:
                raise DecodeError(f"answer larger than {self.limit // 2**20} MB once decompressed", too_big=True)
            if data:
                yield data
            return
        pieces = self.layers[index].feed(data)
        while True:  # each piece is counted by the layers below before the next is inflated
            try:
                piece = next(pieces)
            except StopIteration:
                return
            except zlib.error as exc:
                raise DecodeError(f"answer's compressed body is broken ({exc})") from None
            yield from self._through(index + 1, piece)
