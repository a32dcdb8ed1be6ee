"""The pieces an outgoing body streams: bytes, a spooled file sent as base64, and spans copied from the request.

None is ever held whole: a spooled file is encoded in 3-byte-aligned chunks (so the chunks' encodings concatenate
into one valid encoding), and a span of a body or of a string is read a chunk at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from .._base.redact import redacted, sized
from .._model.body import Body
from .._model.jsontext import HoleText

if TYPE_CHECKING:
    from .._fetch.spool import Media
    from .._model.textview import Text

__all__ = ["ASYNC_CHUNK", "CHUNK", "Copy", "Inline", "Piece", "copy_of", "encode_file", "encoded_size"]


def _pick_encoder() -> Callable[[bytes], bytes]:
    """pybase64 (the `fast` extra) is a SIMD encoder, several times faster than the standard library's."""
    try:
        import pybase64
    except ImportError:  # pragma: no cover - depends on the environment
        import base64

        return base64.b64encode
    return pybase64.b64encode


_b64encode = _pick_encoder()
CHUNK = 3 * 256 * 1024  # bytes read per step; a multiple of 3 so chunk encodings concatenate cleanly
# On an event loop many bodies stream at once (a proxy): smaller steps keep each stream's buffers small.
ASYNC_CHUNK = 3 * 64 * 1024


def encoded_size(size: int) -> int:
    return -(-size // 3) * 4


@dataclass(frozen=True, slots=True)
class Inline:
    """A downloaded (or fitted) file, sent as base64 from its spool."""

    media: Media

    @property
    def size(self) -> int:
        return encoded_size(self.media.size)

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        with self.media.open() as fh:
            yield from encode_file(fh, size)


@redacted(source=sized)
@dataclass(frozen=True, slots=True)
class Copy:
    """A span copied as it is: bytes of a request body (a string literal the parser set aside), or the ASCII
    characters of a string (a data URL's base64 payload), in chunks."""

    source: Body | Text
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        for at in range(self.start, self.end, size):
            stop = min(at + size, self.end)
            if isinstance(self.source, Body):
                yield self.source.read(at, stop - at)
            else:
                yield self.source[at:stop].encode("latin-1")


Piece = bytes | Inline | Copy


def encode_file(fh: IO[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """Base64 of a file in 3-byte-aligned chunks (``size`` a multiple of 3): the pieces concatenate into one
    valid encoding."""
    while chunk := fh.read(size):
        yield _b64encode(chunk)


def copy_of(source: Text, start: int) -> Piece:
    """The rest of a string from ``start`` (a data URL's payload), straight from the body's bytes when it stayed
    in the body."""
    if isinstance(source, HoleText):
        return Copy(source.body, *source.region(start, len(source)))
    return Copy(source, start, len(source))
