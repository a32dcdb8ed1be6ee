"""A download landing on disk: the spooled file, its running sha256 and byte cap, and what its bytes say.

The body is judged by what arrives, never by the server's headers: the cap counts bytes as they are written,
the type comes from the bytes (``sniff``), and a container that says it is incomplete (``damage``) is refused,
so a partial download never becomes a ``Media``.
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

from .._base.errors import MediaTooLarge, NotAVideo
from .._base.redact import redacted, short_url
from .._model.container import damage, mp4_duration, reader
from .._model.media import DataUrl, canonical_mime, sniff

__all__ = ["Media", "Progress", "Spool", "adopt", "spool_data_url"]

Progress: TypeAlias = Callable[[int, int | None], None]

_DECODE_STEP = 4 * 1024 * 1024  # base64 characters decoded per step (a multiple of 4)
_SNIFF_BYTES = 4096  # enough for every container sniff() knows, and an early NotAVideo on a big HTML page
_LOOKS_LIKE = {
    "text/html": "an HTML page",
    "text/xml": "an XML document",
    "application/json": "JSON",
    "application/pdf": "a PDF document",
    "application/zip": "a ZIP archive",
    "application/gzip": "gzip data",
}


@redacted(url=short_url)
@dataclass(frozen=True, slots=True, weakref_slot=True)
class Media:
    """A downloaded video.

    ``path`` is a spooled file owned by the fetcher: it stays on disk while this object or the cache holds it
    (so a rewrite can stream it after later downloads evicted it), and is removed when both let go, on
    ``Fetcher.close()`` or at exit. Never delete it yourself.
    """

    url: str  # the URL asked for (may carry a signature or credentials): shown through ``shorten``
    path: Path
    size: int
    mime: str  # from the bytes alone (the server's Content-Type and the URL only colour error messages)
    sha256: str
    duration: float | None = None  # seconds, from the container's header where it records one (MP4, MOV)

    def open(self) -> BinaryIO:
        return self.path.open("rb")


class Spool:
    """Temp file, running sha256 and byte cap: the body is judged by what arrives, never by its headers."""

    def __init__(self, directory: Path, cap: int | None, on_progress: Progress | None, label: str) -> None:
        self._directory = directory
        self._cap = cap
        self._on_progress = on_progress
        self._label = label
        self._hash = hashlib.sha256()
        self._file: BinaryIO | None = None
        self.path: Path | None = None
        self.size = 0
        self.total: int | None = None  # what Content-Length declared, for messages
        self.declared: str | None = None  # what Content-Type said, for messages
        self.mime: str | None = None  # from the bytes, once enough of them arrived
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
        if len(self.head) < _SNIFF_BYTES:
            self.head += chunk[: _SNIFF_BYTES - len(self.head)]
            if len(self.head) >= _SNIFF_BYTES:  # refuse a big HTML page early, not after 100 MB of it
                self.mime = _identify(bytes(self.head), self.declared, self._label)
        if self._on_progress is not None:
            self._on_progress(self.size, self.total)

    def media(self, url: str) -> Media:
        """The download, once the body has ended: judged by its bytes alone (the server's word is only a hint
        for the message), and whole, or ``NotAVideo``."""
        if self.size == 0:
            raise NotAVideo(f"{self._label}: the server sent an empty body")
        mime = self.mime or _identify(bytes(self.head), self.declared, self._label)
        assert self._file is not None
        assert self.path is not None
        self._file.close()
        # The container must be whole: a server that stops early, or declares a shorter Content-Length than
        # the file, hands over a truncated video that would otherwise be uploaded as if it were complete.
        with self.path.open("rb") as fh:
            broken = damage(reader(fh), self.size, mime)
            duration = mp4_duration(reader(fh)) if mime in ("video/mp4", "video/mov", "video/3gpp") else None
        if broken:
            raise NotAVideo(f"{self._label}: the {mime} video is {broken}")
        media = Media(url, self.path, self.size, mime, self._hash.hexdigest(), duration)
        weakref.finalize(media, _unlink, self.path)
        return media

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def spool_data_url(data: DataUrl, directory: Path, label: str) -> Media:
    """A data URL's video decoded into a spooled file (in bounded steps), for work that needs a file."""
    spool = Spool(directory, None, None, label)
    try:
        for start in range(0, data.encoded_size, _DECODE_STEP):
            spool.write(binascii.a2b_base64(data.payload(start, min(start + _DECODE_STEP, data.encoded_size))))
        return spool.media(label)
    except BaseException:
        spool.discard()
        raise


def adopt(path: Path, url: str, mime: str, duration: float | None) -> Media:
    """A file router made (a fitted video) as a ``Media``, removed from disk when nothing holds it any more."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    media = Media(url, path, path.stat().st_size, mime, digest.hexdigest(), duration)
    weakref.finalize(media, _unlink, path)
    return media


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _declared(total: int | None) -> str:
    return f"; the server declared {total:,}" if total is not None else ""


def _identify(head: bytes, declared: str | None, where: str) -> str:
    """The container from the bytes alone, as the checker does for data URLs: every format a provider takes is
    one ``sniff`` knows, so bytes it cannot place are not a video, whatever the server or the name says."""
    sniffed = sniff(head)
    if sniffed is not None and sniffed.startswith("video/"):
        return canonical_mime(sniffed)
    looks = "no video container router knows (corrupted?)" if sniffed is None else _looks_like(sniffed)
    said = f"; the server said {canonical_mime(declared)}" if declared else ""
    raise NotAVideo(f"{where} is not a video: the bytes look like {looks}{said}")


def _looks_like(mime: str) -> str:
    if mime in _LOOKS_LIKE:
        return _LOOKS_LIKE[mime]
    kind = mime.split("/", 1)[0]
    return f"an image ({mime})" if kind == "image" else f"audio ({mime})" if kind == "audio" else mime
