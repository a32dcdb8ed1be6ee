"""What a video container's structure says, read without a decoder: its duration, and whether it is whole.

Box and element headers are read where they sit (``read(offset, size)``: a file, or a base64 payload decoded
on demand), so a 100 MB video costs a few dozen small reads. The checker asks it about data URLs and the
fetcher about downloads: a truncated or damaged video is refused wherever it comes from.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import IO

from .media import canonical_mime

__all__ = ["Read", "damage", "mp4_duration", "reader"]

Read = Callable[[int, int], bytes]


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
