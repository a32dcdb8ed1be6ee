"""A request body held once: in memory while it is small, in an anonymous temporary file past a threshold.

The proxy and the transports collect a client's body into a ``Body`` (bounded by ``max_bytes``); the parser
reads it by random access and the rewrite copies untouched regions out of it, so a video a client inlined
itself is never held whole as a Python string. The file is anonymous (``O_TMPFILE`` on Linux, unlinked at
once elsewhere): it disappears on every exit path, ``SIGKILL`` included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from .._base.errors import BodyTooLarge

__all__ = ["CHUNK", "MEMORY_LIMIT", "Body"]

MEMORY_LIMIT = 1 << 20  # bytes kept in memory before the body moves to a temporary file
CHUNK = 1 << 20  # bytes per piece when a region is streamed out


class Body:
    """Bytes written once, then read by offset. Thread-safe reads (``os.pread``); one writer."""

    def __init__(
        self, *, max_bytes: int | None = None, memory_limit: int = MEMORY_LIMIT, directory: str | None = None
    ) -> None:
        self.max_bytes = max_bytes
        self._memory_limit = memory_limit
        self._directory = directory
        self._buffer: bytearray | bytes = bytearray()
        self._file: BinaryIO | None = None
        self.size = 0
        self.closed = False

    @classmethod
    def of(cls, data: bytes) -> Body:
        """A body that is already in memory (a client's ``request.read()``): wrapped, not copied."""
        body = cls()
        body._buffer = data
        body.size = len(data)
        return body

    @property
    def in_memory(self) -> bool:
        return self._file is None

    def write(self, data: bytes) -> None:
        """Append ``data``; ``BodyTooLarge`` as soon as the total passes ``max_bytes`` (nothing is kept past it)."""
        if self.closed:
            raise ValueError("the body is closed")
        if self.max_bytes is not None and self.size + len(data) > self.max_bytes:
            raise BodyTooLarge(self.max_bytes)
        if self._file is None and self.size + len(data) > self._memory_limit:
            import tempfile  # only big bodies spill to disk: `import router` stays light

            self._file = tempfile.TemporaryFile(prefix="router-body-", dir=self._directory)  # noqa: SIM115
            self._file.write(self._buffer)
            self._buffer = b""
        if self._file is not None:
            self._file.write(data)
        else:
            assert isinstance(self._buffer, bytearray), "a body made by Body.of() takes no writes"
            self._buffer += data
        self.size += len(data)

    def finish(self) -> Body:
        """Flush what was written so that reads see all of it."""
        if self._file is not None:
            self._file.flush()
        return self

    def read(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes from ``offset`` (fewer only at the end)."""
        size = max(0, min(size, self.size - offset))
        if self._file is None:
            return bytes(self._buffer[offset : offset + size])
        return os.pread(self._file.fileno(), size, offset)

    def getvalue(self) -> bytes:
        """The whole body as one ``bytes`` (a copy when it lives in a file: for small bodies only)."""
        if self._file is None:
            return bytes(self._buffer) if isinstance(self._buffer, bytearray) else self._buffer
        return self.read(0, self.size)

    def iter_bytes(self, start: int = 0, stop: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
        """The bytes of ``[start, stop)`` in pieces of at most ``chunk``."""
        stop = self.size if stop is None else min(stop, self.size)
        while start < stop:
            piece = self.read(start, min(chunk, stop - start))
            if not piece:
                return
            yield piece
            start += len(piece)

    def close(self) -> None:
        self.closed = True
        self._buffer = b""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
