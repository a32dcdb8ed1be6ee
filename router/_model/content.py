"""What a part's bytes are, whatever carries them: a data URL the checker reads in place, or a download the fetcher
spooled. One function per question, so a data URL and a download of the same file can never be judged apart.

``identify(kind, read, size)`` reads the headers only (a few small random reads; no decoder): the real format,
and what limits are measured in (a video's or a recording's duration, an image's pixels, a PDF's pages). Bytes
that are not media of the part's kind, or that say they are cut short, raise :class:`NotTheContent` with words a
user can act on; a file part may carry any type (PDFs are read, the rest taken as they are).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._base.kinds import Kind
from .audio import AUDIO_MIME, audio_damage, audio_duration, audio_format
from .container import Read, damage, mp4_duration
from .image import image_damage, image_info
from .media import canonical_mime, sniff

__all__ = ["Content", "NotTheContent", "identify", "looks_like", "refused_early"]

HEAD = 4096  # bytes every sniffer needs from the start of a file
_MP4_FAMILY = ("video/mp4", "video/mov", "video/3gpp")
_LOOKS_LIKE = {
    "text/html": "an HTML page",
    "text/xml": "an XML document",
    "application/json": "JSON",
    "application/pdf": "a PDF document",
    "application/zip": "a ZIP archive",
    "application/gzip": "gzip data",
}
_TEXT = ("text/html", "text/xml", "application/json")
_A = {"video": "a video", "audio": "audio", "image": "an image", "file": "a file"}


@dataclass(frozen=True, slots=True)
class Content:
    """What the bytes hold: the format from the bytes alone, and what a provider's limits are measured in."""

    kind: Kind
    mime: str  # the canonical MIME type (a video's container, ``image/png``, ``audio/mpeg``, ``application/pdf``)
    duration: float | None = None  # seconds (video, audio), where the headers say
    width: int | None = None  # pixels as displayed (EXIF orientation applied)
    height: int | None = None
    frames: int | None = None  # an animation's frames, where counted
    pages: int | None = None  # a PDF's pages
    encrypted: bool = False  # a PDF with a password or permissions
    format: str | None = None  # audio: the `input_audio.format` name (wav, mp3, ...)

    @property
    def side(self) -> int | None:
        """An image's longer side, which pixel limits are about."""
        return max(self.width, self.height) if self.width is not None and self.height is not None else None


class NotTheContent(ValueError):
    """The bytes are not media of the part's kind, or are cut short (``damaged``); the message says which."""

    def __init__(self, message: str, *, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


_KNOWS = {"video": "video container", "audio": "audio format", "image": "image format", "file": "file format"}


def looks_like(head: bytes, kind: Kind = "video") -> str:
    """What a run of bytes looks like, for a message: ``an HTML page``, ``an image (image/png)``, ..."""
    mime = sniff(head)
    if mime is None:
        return f"no {_KNOWS[kind]} router knows (corrupted?)"
    if mime in _LOOKS_LIKE:
        return _LOOKS_LIKE[mime]
    family = mime.split("/", 1)[0]
    return {"video": "a video", "image": "an image", "audio": "audio"}.get(family, "data") + f" ({mime})"


def refused_early(kind: Kind, head: bytes) -> str | None:
    """Why the first bytes of a download already show it is not media of ``kind`` (a sign-in page, an error in
    JSON), so a big one is not read to its end; None when only the whole file can tell."""
    mime = sniff(head)
    wrong = not (mime or "").startswith("video/") if kind == "video" else kind != "file" and mime in _TEXT
    return f"the bytes look like {looks_like(head, kind)}" if wrong else None


def identify(kind: Kind, read: Read, size: int, *, declared: str | None = None) -> Content:
    """What ``size`` bytes, read through ``read(offset, n)``, hold as media of ``kind``; raises NotTheContent.

    ``declared`` is the format the request names, used only where bytes cannot tell (raw ``pcm16`` audio) and for
    a file part that is not a PDF.
    """
    if size == 0:
        raise NotTheContent("there are no bytes")
    head = read(0, HEAD)
    if kind == "video":
        return _video(read, size, head)
    if kind == "image":
        return _image(read, size, head)
    if kind == "audio":
        return _audio(read, size, head, declared)
    return _file(read, size, head, declared)


def _not(kind: Kind, head: bytes) -> NotTheContent:
    return NotTheContent(f"the bytes are not {_A[kind]}: they look like {looks_like(head, kind)}")


def _video(read: Read, size: int, head: bytes) -> Content:
    sniffed = sniff(head)
    if sniffed is None or not sniffed.startswith("video/"):
        raise _not("video", head)
    mime = canonical_mime(sniffed)
    if broken := damage(read, size, mime):
        raise NotTheContent(f"the {mime} video is {broken}", damaged=True)
    return Content("video", mime, duration=mp4_duration(read) if mime in _MP4_FAMILY else None)


def _image(read: Read, size: int, head: bytes) -> Content:
    info = image_info(read, size)
    if info is None:
        raise _not("image", head)
    if broken := image_damage(read, size, info):
        raise NotTheContent(f"the {info.mime} image is {broken}", damaged=True)
    width, height = info.display_size
    return Content("image", info.mime, width=width, height=height, frames=info.frames)


def _audio(read: Read, size: int, head: bytes, declared: str | None) -> Content:
    fmt = audio_format(head, read)
    if fmt is None:
        if declared in ("pcm16", "pcm24"):  # raw samples carry no header: the declared format is all there is
            return Content("audio", AUDIO_MIME[declared], format=declared)
        raise _not("audio", head)
    if broken := audio_damage(read, size, fmt):
        raise NotTheContent(f"the {fmt} audio is {broken}", damaged=True)
    return Content("audio", AUDIO_MIME[fmt], duration=audio_duration(read, size, fmt), format=fmt)


def _file(read: Read, size: int, head: bytes, declared: str | None) -> Content:
    if not head.startswith(b"%PDF-"):
        if declared == "application/pdf":
            raise NotTheContent(f"the bytes are not a PDF: they look like {looks_like(head, 'file')}")
        return Content("file", declared or sniff(head) or "application/octet-stream")
    from .pdf import pdf_info  # deferred: pypdf loads on the first PDF

    info = pdf_info(read, size)
    if info.damage:
        raise NotTheContent(f"the PDF is {info.damage}", damaged=True)
    return Content("file", "application/pdf", pages=info.pages, encrypted=info.encrypted)
