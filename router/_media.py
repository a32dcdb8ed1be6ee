"""What a video URL is, what a data URL holds, and what container a run of bytes really is.

Pure functions, no I/O and no DNS: the checker, the fetcher and the rewriter all ask this module.
"""

from __future__ import annotations

import binascii
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Literal, Protocol
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

from ._ssrf import host_refusal

__all__ = [
    "DataUrl",
    "DataUrlError",
    "UrlInfo",
    "canonical_mime",
    "classify_url",
    "compatible",
    "damage",
    "extension_mime",
    "mime_alias",
    "mp4_duration",
    "parse_data_url",
    "reader",
    "sniff",
]

Kind = Literal["youtube", "https", "http", "gs", "data", "file", "other", "invalid"]

_YT_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YT_HOSTS = {
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "music.youtube.com",
    "youtube-nocookie.com",
    "www.youtube-nocookie.com",
}
_YT_PATH = re.compile(r"^/(?:shorts|embed|live|v|e)/([^/?#]+)")
# Containers that are the same thing to a provider; compared after canonical_mime().
_FAMILIES = ({"video/mp4", "video/mov", "video/3gpp"}, {"video/mpeg", "video/mp2t"})
_ALIASES = {
    "video/quicktime": "video/mov",
    "video/mpg": "video/mpeg",
    "video/x-m4v": "video/mp4",
    "video/mpeg4": "video/mp4",
    "video/x-matroska": "video/x-matroska",
    "video/mkv": "video/x-matroska",
}


@dataclass(frozen=True, slots=True)
class UrlInfo:
    kind: Kind
    host: str = ""
    youtube_id: str | None = None
    blocked: str | None = None  # why the URL is not fetched by default (private or metadata literal, local name)

    @property
    def canonical_youtube(self) -> str | None:
        return f"https://www.youtube.com/watch?v={self.youtube_id}" if self.youtube_id else None


def canonical_mime(mime: str) -> str:
    base = mime.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def mime_alias(declared: str, accepted: Iterable[str]) -> str | None:
    """The accepted name for a declared type that means it under another spelling (``video/quicktime`` ->
    ``video/mov``, ``VIDEO/MP4`` -> ``video/mp4``); None when the spelling is already right or names nothing
    accepted. The upstream is only ever sent one of the names OpenRouter documents."""
    name = canonical_mime(declared)
    return name if name in set(accepted) and declared.strip() != name else None


def compatible(declared: str, sniffed: str) -> bool:
    a, b = canonical_mime(declared), canonical_mime(sniffed)
    return a == b or any(a in fam and b in fam for fam in _FAMILIES)


def _youtube_id(host: str, path: str, query: str) -> str | None:
    if host == "youtu.be":
        candidate = path.lstrip("/").split("/", 1)[0]
    elif host in _YT_HOSTS:
        if path in ("/watch", "/watch/"):
            candidate = (parse_qs(query).get("v") or [""])[0]
        elif m := _YT_PATH.match(path):
            candidate = m.group(1)
        else:
            return None
    else:
        return None
    # `embed/videoseries?list=...` is a playlist player, not a video, although the word is eleven letters long.
    return candidate if _YT_ID.match(candidate) and candidate != "videoseries" else None


def classify_url(url: str) -> UrlInfo:
    """Tell what kind of video URL this is, offline."""
    url = url.strip()
    if url[:5].lower() == "data:":
        return UrlInfo("data")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")  # `www.youtube.com.` is the same host
    except ValueError:
        return UrlInfo("invalid")
    scheme = parts.scheme.lower()
    if scheme == "file":
        return UrlInfo("file", host, blocked="a local file path")
    if scheme in ("http", "https"):
        if not host:
            return UrlInfo("invalid")
        yt = _youtube_id(host, parts.path, parts.query)
        if yt or host in _YT_HOSTS or host == "youtu.be":
            return UrlInfo("youtube", host, youtube_id=yt)
        refusal = host_refusal(host)
        return UrlInfo(scheme, host, blocked=refusal.reason if refusal else None)  # type: ignore[arg-type]
    if scheme == "gs":
        return UrlInfo("gs", host)
    if not scheme:
        return UrlInfo("invalid")
    return UrlInfo("other", host)


def extension_mime(url: str) -> str | None:
    """MIME type from the URL's extension, query string and fragment stripped first (signed URLs)."""
    path = urlsplit(url).path.lower()
    ext = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    return {
        "mp4": "video/mp4",
        "m4v": "video/mp4",
        "mov": "video/mov",
        "qt": "video/mov",
        "webm": "video/webm",
        "mpeg": "video/mpeg",
        "mpg": "video/mpeg",
        "ts": "video/mp2t",
        "mkv": "video/x-matroska",
        "avi": "video/x-msvideo",
        "3gp": "video/3gpp",
        "flv": "video/x-flv",
        "wmv": "video/x-ms-wmv",
    }.get(ext)


class Text(Protocol):
    """What a data URL is read through: a ``str``, or a string that stays in a request body (``HoleText``)."""

    def __len__(self) -> int: ...

    def __getitem__(self, key: slice, /) -> str: ...


@dataclass(frozen=True, slots=True)
class DataUrl:
    mime: str  # as declared, lower-cased, no parameters ("" when absent)
    base64: bool
    source: Text  # the whole URL
    start: int  # where the payload (the text after the comma) starts in ``source``
    declared: str = ""  # the media type exactly as written (case kept), for messages and fixes

    @property
    def encoded_size(self) -> int:
        """Characters of payload: what the data URL adds to a request."""
        return len(self.source) - self.start

    def payload(self, begin: int = 0, end: int | None = None) -> str:
        stop = len(self.source) if end is None else self.start + end
        return self.source[self.start + begin : stop]

    @property
    def decoded_size(self) -> int:
        n = self.encoded_size
        if not self.base64:
            return len(unquote_to_bytes(self.payload()))
        return n * 3 // 4 - self.payload(max(0, n - 2)).count("=")

    def read(self, offset: int, size: int) -> bytes:
        """Decode only the bytes asked for: random access into a huge base64 payload without copying it."""
        if not self.base64:
            return unquote_to_bytes(self.payload())[offset : offset + size]
        begin = offset // 3 * 4
        stop = min(-(-(offset + size) // 3) * 4, self.encoded_size)
        try:
            raw = binascii.a2b_base64(self.payload(begin, stop))
        except binascii.Error:
            return b""
        skip = offset - begin // 4 * 3
        return raw[skip : skip + size]

    def head(self, size: int = 4096) -> bytes:
        return self.read(0, size)


class DataUrlError(ValueError):
    """Why a data URL is malformed, in words a user can act on."""


_DATA = re.compile(r"^data:([^,]*?),", re.IGNORECASE | re.DOTALL)
_B64_CHUNK = 4 * 1024 * 1024  # characters validated per step: flat memory on 100 MB payloads
_HEADER_MAX = 1024  # characters searched for the comma that ends a data URL's header


def parse_data_url(url: Text, *, validate: bool = True) -> DataUrl:
    """Split a data URL; with ``validate`` the whole base64 payload is checked in bounded chunks."""
    m = _DATA.match(url[:_HEADER_MAX])
    if not m:
        raise DataUrlError("no comma after the media type (expected `data:video/mp4;base64,<payload>`)")
    params = [p.strip() for p in m.group(1).split(";")]
    is_b64 = any(p.lower() == "base64" for p in params[1:])
    data = DataUrl(params[0].lower(), is_b64, url, m.end(), params[0])
    if validate and is_b64:
        _check_base64(data)
    return data


def _check_base64(data: DataUrl) -> None:
    total = data.encoded_size
    if not total:
        raise DataUrlError("the base64 payload is empty")
    if total % 4:
        raise DataUrlError(f"the base64 payload length ({total}) is not a multiple of 4 (truncated?)")
    for start in range(0, total, _B64_CHUNK):
        chunk = data.payload(start, min(start + _B64_CHUNK, total))
        try:
            binascii.a2b_base64(chunk, strict_mode=True)
        except (binascii.Error, ValueError) as exc:
            bad = next((i for i, c in enumerate(chunk) if not (c.isalnum() or c in "+/=")), None)
            where = f" at character {start + bad}" if bad is not None else ""
            raise DataUrlError(f"the payload is not valid base64{where} ({exc})") from None


_BMFF_BRANDS = {
    b"qt  ": "video/mov",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
    b"3gp6": "video/3gpp",
    b"3g2a": "video/3gpp",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"avif": "image/avif",
    b"crx ": "image/x-canon-cr3",
}
_PLAIN = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "application/ogg"),
    (b"FLV\x01", "video/x-flv"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x00\x00\x01\xba", "video/mpeg"),
    (b"\x00\x00\x01\xb3", "video/mpeg"),
    (b"\x1f\x8b", "application/gzip"),
)


def sniff(head: bytes) -> str | None:
    """The real container of a file from its first bytes (4 KiB is plenty); None when unknown."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _BMFF_BRANDS.get(head[8:12], "video/mp4")
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "video/mov"  # classic QuickTime files start without an ftyp box
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"AVI ": "video/x-msvideo", b"WAVE": "audio/wav", b"WEBP": "image/webp"}.get(head[8:12])
    if len(head) >= 377 and head[0] == head[188] == head[376] == 0x47:
        return "video/mp2t"
    for magic, mime in _PLAIN:
        if head.startswith(magic):
            return mime
    text = head[:512].lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "text/html"
    if text.startswith((b"<?xml", b"<")):
        return "text/xml"
    if text.startswith((b"{", b"[")):
        return "application/json"
    return None


def reader(fh: IO[bytes]) -> Callable[[int, int], bytes]:
    """Random access into an open file, in the shape ``mp4_duration`` reads."""

    def read(offset: int, size: int) -> bytes:
        fh.seek(offset)
        return fh.read(size)

    return read


def mp4_duration(read: Callable[[int, int], bytes]) -> float | None:
    """Duration in seconds from an ISO-BMFF ``moov/mvhd`` box, reading box headers only.

    ``read(offset, size)`` gives random access (a file or a base64 payload); None when not found.
    """
    offset, end = 0, None
    while end is None or offset < end:
        hdr = read(offset, 16)
        if len(hdr) < 8:
            return None
        size, box = struct.unpack(">I4s", hdr[:8])
        header = 8
        if size == 1 and len(hdr) >= 16:
            size, header = struct.unpack(">Q", hdr[8:16])[0], 16
        if box == b"moov":
            offset, end = offset + header, offset + size
            continue
        if box == b"mvhd":
            body = read(offset + header, 32)
            if body[:1] == b"\x01" and len(body) >= 32:
                scale, dur = struct.unpack(">IQ", body[20:32])
            elif len(body) >= 20:
                scale, dur = struct.unpack(">II", body[12:20])
            else:
                return None
            return dur / scale if scale else None
        if size < header:
            return None
        offset += size
    return None


Read = Callable[[int, int], bytes]


def damage(read: Read, size: int, mime: str) -> str | None:
    """Why a video's container is broken (truncated, no ``moov``, sizes that do not add up), or None.

    Structure only, no decoder: box and element headers are read where they sit, so a 100 MB file costs a
    few dozen small reads. What it cannot see (flipped bits inside the media data) passes.
    """
    family = canonical_mime(mime)
    if family in ("video/mp4", "video/mov", "video/3gpp"):
        return _bmff_damage(read, size)
    if family in ("video/webm", "video/x-matroska"):
        return _ebml_damage(read, size)
    if family == "video/mpeg":
        return _mpeg_ps_damage(read, size)
    return None


def _boxes(read: Read, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, offset, header length, size) of each ISO-BMFF box in ``[start, end)``; raises on overflow."""
    offset = start
    while end - offset >= 8:
        hdr = read(offset, 16)
        size, box = struct.unpack(">I4s", hdr[:8])
        header = 8
        if size == 1:
            if len(hdr) < 16:
                raise _Broken(f"the `{_name(box)}` box header is cut off")
            size, header = struct.unpack(">Q", hdr[8:16])[0], 16
        elif size == 0:  # runs to the end of the file
            size = end - offset
        if size < header:
            raise _Broken(f"the `{_name(box)}` box at byte {offset:,} has an impossible size ({size})")
        if offset + size > end:
            raise _Broken(
                f"the `{_name(box)}` box at byte {offset:,} needs {size:,} bytes but only {end - offset:,} are there"
            )
        yield box, offset, header, size
        offset += size


class _Broken(Exception):
    pass


def _name(box: bytes) -> str:
    return box.decode("latin-1") if box.isascii() and box.isalnum() else box.hex()


def _bmff_damage(read: Read, size: int) -> str | None:
    try:
        top = {box: (offset, header, length) for box, offset, header, length in _boxes(read, 0, size)}
        if b"moov" not in top:
            return "truncated or incomplete: it has no `moov` box (the index every player needs)"
        offset, header, length = top[b"moov"]
        chunk_end = _last_chunk_offset(read, offset + header, offset + length)
    except _Broken as exc:
        return f"truncated or damaged: {exc}"
    if chunk_end is not None and chunk_end > size:
        return f"truncated: its index points at media data up to byte {chunk_end:,}, but the file ends at {size:,}"
    return None


_TRACK_PATH = (b"trak", b"mdia", b"minf", b"stbl")


def _last_chunk_offset(read: Read, start: int, end: int) -> int | None:
    """The largest chunk offset any track's ``stco``/``co64`` table names (the media data must reach it)."""
    last: int | None = None

    def walk(begin: int, stop: int, depth: int) -> None:
        nonlocal last
        for box, offset, header, length in _boxes(read, begin, stop):
            if depth < len(_TRACK_PATH) and box == _TRACK_PATH[depth]:
                walk(offset + header, offset + length, depth + 1)
            elif depth == len(_TRACK_PATH) and box in (b"stco", b"co64"):
                count = struct.unpack(">I", read(offset + header + 4, 4).rjust(4, b"\0"))[0]
                width = 8 if box == b"co64" else 4
                if count and header + 8 + count * width <= length:
                    raw = read(offset + header + 8 + (count - 1) * width, width)
                    value = int.from_bytes(raw, "big") if len(raw) == width else 0
                    last = value if last is None else max(last, value)

    walk(start, end, 0)
    return last


def _vint(read: Read, offset: int, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``offset``: (value, length); None when unreadable."""
    first = read(offset, 1)
    if not first or first[0] == 0:
        return None
    length = 9 - first[0].bit_length()
    raw = read(offset, length)
    if len(raw) < length:
        return None
    value = int.from_bytes(raw, "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, length


def _ebml_damage(read: Read, size: int) -> str | None:
    offset = 0
    seen_segment = False
    while offset < size:
        element = _vint(read, offset, keep_marker=True)
        length = _vint(read, offset + element[1], keep_marker=False) if element else None
        if element is None or length is None:
            return f"damaged: unreadable element header at byte {offset:,}"
        ident, value = element[0], length[0]
        header = element[1] + length[1]
        if value == (1 << (7 * length[1])) - 1:  # unknown size (live streams): runs to the end
            return None if ident == 0x18538067 else f"damaged: element {ident:#x} of unknown size at byte {offset:,}"
        end = offset + header + value
        if end > size:
            what = "the Segment" if ident == 0x18538067 else f"element {ident:#x}"
            return f"truncated: {what} at byte {offset:,} needs {end:,} bytes but the file has {size:,}"
        if offset == 0 and ident != 0x1A45DFA3:
            return "damaged: it does not start with an EBML header"
        seen_segment = seen_segment or ident == 0x18538067
        offset = end
    return None if seen_segment else "truncated or incomplete: no Segment element after the EBML header"


_PACK = b"\x00\x00\x01\xba"
_TAIL = 256 * 1024


def _pack_header_length(head: bytes) -> int | None:
    if len(head) < 14:
        return None
    if head[4] & 0xC0 == 0x40:  # MPEG-2: 14 bytes and up to 7 bytes of stuffing
        return 14 + (head[13] & 0x07)
    if head[4] & 0xF0 == 0x20:  # MPEG-1: 12 bytes
        return 12
    return None


def _mpeg_ps_damage(read: Read, size: int) -> str | None:
    head = read(0, 14)
    if not head.startswith(_PACK):
        return None  # an elementary video stream (sequence header first): no packets to check
    if _pack_header_length(head) is None:
        return "damaged: the first MPEG pack header is malformed"
    tail_start = max(0, size - _TAIL)
    tail = read(tail_start, size - tail_start)
    at = tail.rfind(_PACK)
    if at < 0:
        return None
    offset = tail_start + at
    while offset < size:
        code = read(offset, 4)
        if len(code) < 4:
            return f"truncated: the stream ends inside a packet header at byte {offset:,}"
        if code[:3] != b"\x00\x00\x01":
            return f"damaged: no start code at byte {offset:,}"
        if code[3] == 0xB9:  # program end
            return None
        if code[3] == 0xBA:
            length = _pack_header_length(read(offset, 14))
            if length is None:
                return f"damaged: malformed MPEG pack header at byte {offset:,}"
        else:
            raw = read(offset + 4, 2)
            if len(raw) < 2:
                return f"truncated: the stream ends inside a packet header at byte {offset:,}"
            length = 6 + int.from_bytes(raw, "big")
        if offset + length > size:
            return f"truncated: the packet at byte {offset:,} needs {length:,} bytes; the file ends at {size:,}"
        offset += length
    return None
