"""Compressed request bodies (``Content-Encoding: gzip``, ``deflate``, ``br``, ``zstd``), decoded with a bound.

A chat completion may arrive compressed; a router that cannot read it must not forward it unchecked. The
output is written into a ``Body`` capped at ``limit`` bytes, so a decompression bomb stops at the cap
(``BodyTooLarge``) after at most one bounded step past it. ``br`` and ``zstd`` need the ``compression``
extra (brotli, zstandard); without them such a body is refused, never passed through.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any

from .._base.errors import BodyTooLarge
from .body import Body

__all__ = ["MAX_DECODED", "MAX_RATIO", "RATIO_FLOOR", "CodingError", "decode_body", "encodings"]

MAX_DECODED = 512 * 2**20  # bytes a compressed body may expand to, at most
# Past this ratio a body is a bomb, not a request: base64 video barely compresses (4:3) and chatty JSON about
# 10:1. Bodies that expand to under the floor are never refused for their ratio.
MAX_RATIO = 100
RATIO_FLOOR = 16 * 2**20
_STEP = 1 << 20  # bytes of output per decompression step


class CodingError(ValueError):
    """The body cannot be decoded: an unknown or unavailable coding, or data that is not in that coding."""


def encodings(header: str | None) -> list[str]:
    """The codings applied, in the order they were applied (``identity`` dropped)."""
    names = [c.strip().lower() for c in (header or "").split(",")]
    return [n for n in names if n and n != "identity"]


def _zlib(chunks: Iterator[bytes], wbits: int) -> Iterator[bytes]:
    inflater = zlib.decompressobj(wbits)
    for chunk in chunks:
        data = chunk
        while data:
            yield inflater.decompress(data, _STEP)
            data = inflater.unconsumed_tail
            if inflater.eof and inflater.unused_data:  # a further gzip member
                data, inflater = inflater.unused_data, zlib.decompressobj(wbits)
    yield inflater.flush()
    if not inflater.eof:
        raise CodingError("the compressed body ends early (truncated)")


def _deflate(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """HTTP's ``deflate`` is zlib-wrapped (RFC 9110), but some clients send raw deflate: take both."""
    first = next(chunks, b"")
    raw = len(first) >= 2 and (first[0] & 0x0F != 8 or (first[0] << 8 | first[1]) % 31)

    def again() -> Iterator[bytes]:
        yield first
        yield from chunks

    return _zlib(again(), -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)


def _brotli(chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        import brotli  # type: ignore[import-untyped]  # ships no type hints
    except ImportError:
        raise CodingError("Content-Encoding br needs the brotli package: pip install 'router[compression]'") from None
    decoder = brotli.Decompressor()
    for chunk in chunks:
        yield decoder.process(chunk, output_buffer_limit=_STEP)
        while not decoder.can_accept_more_data():
            yield decoder.process(b"", output_buffer_limit=_STEP)
    if not decoder.is_finished():
        raise CodingError("the compressed body ends early (truncated)")


class _Reader:
    """A file-like ``read`` over an iterator of chunks (what zstandard's stream reader pulls from)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    def read(self, size: int = -1) -> bytes:
        if not self._rest:
            self._rest = next(self._chunks, b"")
        out, self._rest = (self._rest, b"") if size < 0 else (self._rest[:size], self._rest[size:])
        return out


def _zstd(chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        import zstandard
    except ImportError:
        raise CodingError(
            "Content-Encoding zstd needs the zstandard package: pip install 'router[compression]'"
        ) from None
    source: Any = _Reader(chunks)  # a file-like object: read() is all the stream reader calls
    with zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True) as reader:
        while piece := reader.read(_STEP):
            yield piece


_DECODERS: dict[str, Callable[[Iterator[bytes]], Iterator[bytes]]] = {
    "gzip": lambda chunks: _zlib(chunks, 16 + zlib.MAX_WBITS),
    "x-gzip": lambda chunks: _zlib(chunks, 16 + zlib.MAX_WBITS),
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}


def decode_body(body: Body, header: str | None, limit: int = MAX_DECODED) -> Body:
    """``body`` with its content codings undone, into a new ``Body`` of at most ``limit`` bytes (and at most
    ``MAX_RATIO`` times the compressed size, from ``RATIO_FLOOR`` up).

    Raises ``CodingError`` (unknown coding, bad data) or ``BodyTooLarge`` (past the limit: a bomb).
    """
    limit = min(limit, max(RATIO_FLOOR, MAX_RATIO * body.size))
    for coding in reversed(encodings(header)):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise CodingError(f"unknown Content-Encoding {coding!r} (router reads gzip, deflate, br and zstd)")
        out = Body(max_bytes=limit)
        try:
            for piece in decoder(body.iter_bytes()):
                out.write(piece)
        except (CodingError, BodyTooLarge):
            out.close()
            raise
        except Exception as exc:  # zlib.error, brotli.error, zstandard.ZstdError: the data is not in this coding
            out.close()
            raise CodingError(f"the body is not valid {coding} data ({exc})") from None
        body = out.finish()
    return body
