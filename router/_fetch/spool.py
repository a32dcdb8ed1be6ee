"""A download landing on disk: the spooled file, its running sha256 and byte cap, and what its bytes say.

The body is judged by what arrives, never by the server's headers: the cap counts bytes as they are written,
the type comes from the bytes (``identify``, as for a data URL of the same file), and media that says it is
incomplete is refused, so a partial download never becomes a ``Media``.
"""

from __future__ import annotations

import binascii
import hashlib
import os
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeAlias

from .._base.errors import MediaTooLarge, NotAVideo, NotTheMedia
from .._base.kinds import Kind
from .._base.redact import redacted, short_url
from .._model.container import reader
from .._model.content import HEAD, Content, NotTheContent, identify, refused_early
from .._model.media import DataUrl, canonical_mime

__all__ = ["Media", "Progress", "Spool", "adopt", "spool_data_url"]

Progress: TypeAlias = Callable[[int, int | None], None]

_DECODE_STEP = 4 * 1024 * 1024  # base64 characters decoded per step (a multiple of 4)


@redacted(url=short_url)
@dataclass(frozen=True, slots=True, weakref_slot=True)
class Media:
    """A downloaded file (a video, a recording, an image, a document), or one router made by fitting one.

    ``path`` is a spooled file owned by the fetcher: it stays on disk while this object or the cache holds it
    (so a rewrite can stream it after later downloads evicted it), and is removed when both let go, on
    ``Fetcher.close()`` or at exit. Never delete it yourself.
    """

    url: str  # the URL asked for (may carry a signature or credentials): shown through ``shorten``
    path: Path
    size: int
    mime: str  # from the bytes alone (the server's Content-Type and the URL only colour error messages)
    sha256: str
    duration: float | None = None  # seconds, from the header where it records one (MP4, MOV, WAV, FLAC, ...)
    content: Content | None = None  # what the bytes hold (kind, pixels, pages, an audio format)

    def open(self) -> BinaryIO:
        return self.path.open("rb")


class Spool:
    """Temp file, running sha256 and byte cap: the body is judged by what arrives, never by its headers."""

    def __init__(
        self, directory: Path, cap: int | None, on_progress: Progress | None, label: str, kind: Kind = "video"
    ) -> None:
        self._directory = directory
        self._kind = kind
        self._cap = cap
        self._on_progress = on_progress
        self._label = label
        self._hash = hashlib.sha256()
        self._file: BinaryIO | None = None
        self.path: Path | None = None
        self.size = 0
        self.total: int | None = None  # what Content-Length declared, for messages
        self.declared: str | None = None  # what Content-Type said, for messages
        self.head = bytearray()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._cap is not None and self.size > self._cap:
            raise MediaTooLarge(
                f"{self._label} is over the {self._cap:,}-byte cap (stopped after {self.size:,} bytes "
                f"while streaming{_declared(self.total)})",
            )
        if self._file is None:  # created lazily: refused URLs never touch the disk
            fd, name = tempfile.mkstemp(dir=self._directory, suffix=".part")
            self._file, self.path = os.fdopen(fd, "wb"), Path(name)
        self._file.write(chunk)
        self._hash.update(chunk)
        if len(self.head) < HEAD:
            self.head += chunk[: HEAD - len(self.head)]
            if len(self.head) >= HEAD:  # refuse a big HTML page early, not after 100 MB of it
                self._refuse_early()
        if self._on_progress is not None:
            self._on_progress(self.size, self.total)

    def _not(self, message: str) -> NotTheMedia:
        return NotAVideo(message) if self._kind == "video" else NotTheMedia(message)

    def _refuse_early(self) -> None:
        why = refused_early(self._kind, bytes(self.head))
        if why is not None:
            said = f"; the server said {canonical_mime(self.declared)}" if self.declared else ""
            raise self._not(f"{self._label} is not {_A[self._kind]}: {why}{said}")

    def media(self, url: str) -> Media:
        """The download, once the body has ended: judged by its bytes alone (the server's word is only a hint
        for the message, and a file part's type where the bytes cannot tell), and whole, or ``NotTheMedia``
        (``NotAVideo`` for a video)."""
        if self.size == 0:
            raise self._not(f"{self._label}: the server sent an empty body")
        assert self._file is not None
        assert self.path is not None
        self._file.close()
        self._refuse_early()
        # The media must be whole: a server that stops early, or declares a shorter Content-Length than the
        # file, hands over a truncated file that would otherwise be uploaded as if it were complete.
        declared = canonical_mime(self.declared) if self.declared and self._kind == "file" else None
        try:
            with self.path.open("rb") as fh:
                content = identify(self._kind, reader(fh), self.size, declared=declared)
        except NotTheContent as exc:
            said = f"; the server said {canonical_mime(self.declared)}" if self.declared and not exc.damaged else ""
            raise self._not(f"{self._label}: {exc}{said}") from None
        media = Media(url, self.path, self.size, content.mime, self._hash.hexdigest(), content.duration, content)
        weakref.finalize(media, _unlink, self.path)
        return media

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def spool_data_url(data: DataUrl, directory: Path, label: str, kind: Kind = "video") -> Media:
    """Inline data decoded into a spooled file (in bounded steps), for work that needs a file."""
    spool = Spool(directory, None, None, label, kind)
    try:
        for start in range(0, data.encoded_size, _DECODE_STEP):
            spool.write(binascii.a2b_base64(data.payload(start, min(start + _DECODE_STEP, data.encoded_size))))
        return spool.media(label)
    except BaseException:
        spool.discard()
        raise


def adopt(path: Path, url: str, kind: Kind, declared: str | None = None) -> Media:
    """A file router made (fitted media) as a ``Media``, judged by its bytes like a download, removed from disk
    when nothing holds it any more."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
        content = identify(kind, reader(fh), path.stat().st_size, declared=declared)
    media = Media(url, path, path.stat().st_size, content.mime, digest.hexdigest(), content.duration, content)
    weakref.finalize(media, _unlink, path)
    return media


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _declared(total: int | None) -> str:
    return f"; the server declared {total:,}" if total is not None else ""


_A = {"video": "a video", "audio": "audio", "image": "an image", "file": "a file"}
