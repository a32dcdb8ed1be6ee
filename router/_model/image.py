"""What an image is, from its bytes: the real format, the pixel size and orientation its header states, and the
damage that is cheap to see (a PNG, JPEG, GIF or WebP cut short).

No decoder and no third-party import (the core install has no Pillow). ``read(offset, size)`` gives random
access (a file, or a base64 payload decoded on demand), so a 20 MB photo costs a few small reads: a JPEG's EXIF
block is skipped by its length, never read through; a HEIF's size comes from its ``meta`` box wherever it sits.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .container import Read, _Broken
from .heif import heif_damage, heif_header

__all__ = ["IMAGE_MIMES", "ImageInfo", "canonical_image_mime", "image_damage", "image_info"]

IMAGE_MIMES = tuple(f"image/{name}" for name in ("png", "jpeg", "gif", "webp", "heic", "heif", "avif", "tiff", "bmp"))
_ALIASES = {
    **dict.fromkeys(("image/jpg", "image/pjpeg", "image/jpe"), "image/jpeg"),
    **dict.fromkeys(("image/x-png", "image/apng"), "image/png"),
    **dict.fromkeys(("image/x-ms-bmp", "image/x-bmp", "image/ms-bmp"), "image/bmp"),
    **dict.fromkeys(("image/tif", "image/x-tiff"), "image/tiff"),
    "image/heic-sequence": "image/heic",
    "image/heif-sequence": "image/heif",
    "image/x-webp": "image/webp",
}


def canonical_image_mime(declared: str) -> str:
    """The one name of an image type (``image/jpg`` -> ``image/jpeg``); other types come back lower-cased."""
    base = declared.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """An image's format and its stored pixel size, as its header says.

    ``frames``: how many pictures an animation holds (GIF, APNG, WebP; 1 for a still one), None where not counted.
    ``orientation``: the EXIF orientation 1-8 (for HEIF/AVIF, from its ``irot``/``imir`` properties), None when
    the file does not say; 5-8 mean the image is displayed turned by a quarter, width and height swapped.
    """

    mime: str
    width: int
    height: int
    frames: int | None = None
    orientation: int | None = None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown, once the orientation is applied."""
        turned = self.orientation in (5, 6, 7, 8)
        return (self.height, self.width) if turned else (self.width, self.height)

    @property
    def animated(self) -> bool:
        return (self.frames or 1) > 1


class _Short(Exception):
    """The bytes ran out where a header should be."""


def _exact(read: Read, offset: int, size: int) -> bytes:
    data = read(offset, size)
    if len(data) < size:
        raise _Short
    return data


def image_info(read: Read, size: int) -> ImageInfo | None:
    """The format and pixel size from the header; None when the bytes are no image this knows or the header is cut."""
    head = read(0, 32)
    parse = _parser(head)
    if parse is None:
        return None
    try:
        info = parse(read, size, head)
    except (_Short, _Broken, struct.error, IndexError):
        return None
    return info if info is not None and info.width > 0 and info.height > 0 else None


def image_damage(read: Read, size: int, info: ImageInfo) -> str | None:
    """Why an image is cut short or broken, from its structure only; None when it looks whole (or cannot tell).

    Bytes after a whole image are tolerated (phones append a video to a JPEG, tools pad files): only an image
    whose own data runs past the end of the file is refused.
    """
    check = _DAMAGE.get(info.mime)
    try:
        return check(read, size) if check else None
    except (_Short, struct.error):
        return "truncated: the file ends inside a header"


def _parser(head: bytes) -> Callable[[Read, int, bytes], ImageInfo | None] | None:
    if head.startswith(_PNG):
        return _png
    if head.startswith(b"\xff\xd8\xff"):
        return _jpeg
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _gif
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp
    if head[:2] == b"BM":
        return _bmp
    if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return _tiff
    if head[4:8] == b"ftyp":
        return _heif
    return None


def _heif(read: Read, size: int, head: bytes) -> ImageInfo | None:
    found = heif_header(read, size)
    return ImageInfo(found[0], found[1], found[2], None, found[3]) if found else None


# -- PNG --------------------------------------------------------------------------------------------------------

_PNG = b"\x89PNG\r\n\x1a\n"
_IEND = b"\0\0\0\0IEND\xaeB`\x82"


def _png_chunks(read: Read, size: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset, data length) of each chunk after the signature, up to and with IEND or the end of the file."""
    offset = len(_PNG)
    while offset + 8 <= size:
        length, kind = struct.unpack(">I4s", _exact(read, offset, 8))
        yield kind, offset, length
        if kind == b"IEND":
            return
        offset += 12 + length


def _png(read: Read, size: int, head: bytes) -> ImageInfo | None:
    if head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    frames = 1
    for kind, offset, _ in _png_chunks(read, size):  # acTL (animation control) comes before the first IDAT
        if kind == b"acTL":
            frames = struct.unpack(">I", _exact(read, offset + 8, 4))[0]
        if kind in (b"IDAT", b"acTL"):
            break
    return ImageInfo("image/png", width, height, frames)


def _png_damage(read: Read, size: int) -> str | None:
    if read(max(0, size - len(_IEND)), len(_IEND)) == _IEND:
        return None
    for kind, offset, length in _png_chunks(read, size):
        if not kind.isalpha():
            return f"damaged: no PNG chunk at byte {offset:,}"
        if kind == b"IEND":
            return None  # bytes after it are not the image's
        if offset + 12 + length > size:
            return f"truncated: the `{kind.decode()}` chunk at byte {offset:,} runs past the end at {size:,}"
    return "truncated: it has no `IEND` chunk (the end every PNG has)"


# -- JPEG -------------------------------------------------------------------------------------------------------

_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})
_SOS, _EOI = 0xDA, b"\xff\xd9"
_SCAN_CHUNK = 1 << 20


def _jpeg_segments(read: Read, size: int) -> Iterator[tuple[int, int]]:
    """(marker, offset) of each segment from the start up to the first scan (SOS, included)."""
    offset = 2
    while offset + 4 <= size:
        hdr = _exact(read, offset, 4)
        if hdr[0] != 0xFF:
            return
        marker = hdr[1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker == 0xD9:  # the end, before any scan
            return
        if marker in _STANDALONE:
            offset += 2
            continue
        yield marker, offset
        if marker == _SOS:
            return
        offset += 2 + struct.unpack(">H", hdr[2:])[0]


def _jpeg(read: Read, size: int, head: bytes) -> ImageInfo | None:
    orientation = None
    for marker, offset in _jpeg_segments(read, size):
        if marker == 0xE1 and orientation is None and read(offset + 4, 6) == b"Exif\0\0":
            orientation = _tiff_orientation(read, offset + 10)
        elif marker in _SOF:
            height, width = struct.unpack(">HH", _exact(read, offset + 5, 4))
            return ImageInfo("image/jpeg", width, height, None, orientation)
    return None


def _jpeg_damage(read: Read, size: int) -> str | None:
    """No end-of-image marker after the first scan: the picture data was cut off."""
    tail = max(0, size - 4096)
    if _EOI in read(tail, size - tail):
        return None
    scan = next((offset for marker, offset in _jpeg_segments(read, size) if marker == _SOS), None)
    if scan is None:
        return "truncated: it has no image data (no start-of-scan marker)"
    for at in range(scan, size, _SCAN_CHUNK):  # a trailer after the image (a phone's video): the marker is inside
        if _EOI in read(at, _SCAN_CHUNK + 1):
            return None
    return "truncated: its image data has no end-of-image marker (FF D9)"


# -- GIF --------------------------------------------------------------------------------------------------------


class _Buffered:
    """Byte-by-byte walking in 64 KiB reads (a GIF's data comes in blocks of at most 255 bytes)."""

    def __init__(self, read: Read) -> None:
        self.read, self.start, self.data = read, 0, b""

    def at(self, offset: int, size: int = 1) -> bytes:
        if not self.start <= offset <= offset + size <= self.start + len(self.data):
            self.start, self.data = offset, self.read(offset, max(size, 1 << 16))
        return self.data[offset - self.start : offset - self.start + size]


def _gif_walk(read: Read, head: bytes) -> tuple[int, str | None]:
    """Frames counted and, when the data stops inside one, why; a missing trailer (0x3B) is tolerated."""
    flags = head[10]
    offset = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    buf, frames = _Buffered(read), 0
    while True:
        block = buf.at(offset)
        if block == b"\x21":
            offset += 2
        elif block == b"\x2c":
            desc = buf.at(offset, 10)
            if len(desc) < 10:
                return frames, f"truncated: frame {frames + 1} is cut off at byte {offset:,}"
            offset += 11 + (3 << ((desc[9] & 7) + 1) if desc[9] & 0x80 else 0)  # + table, + LZW code size
            frames += 1
        else:
            return frames, None if frames else "truncated: it has no frame"
        while (count := buf.at(offset)) != b"\0":  # data sub-blocks up to the empty one
            if not count:
                return frames, f"truncated: frame {max(frames, 1)} is cut off at byte {offset:,}"
            offset += 1 + count[0]
        offset += 1


def _gif(read: Read, size: int, head: bytes) -> ImageInfo:
    width, height = struct.unpack("<HH", head[6:10])
    return ImageInfo("image/gif", width, height, _gif_walk(read, head)[0] or None)


def _gif_damage(read: Read, size: int) -> str | None:
    return _gif_walk(read, _exact(read, 0, 13))[1]


# -- WebP -------------------------------------------------------------------------------------------------------


def _webp(read: Read, size: int, head: bytes) -> ImageInfo | None:
    kind = head[12:16]
    data = _exact(read, 20, 10)
    if kind == b"VP8 " and data[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[6:10])
        return ImageInfo("image/webp", width & 0x3FFF, height & 0x3FFF, 1)
    if kind == b"VP8L" and data[0] == 0x2F:
        bits = int.from_bytes(data[1:5], "little")
        return ImageInfo("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 1)
    if kind != b"VP8X":
        return None
    width, height = int.from_bytes(data[4:7], "little") + 1, int.from_bytes(data[7:10], "little") + 1
    frames, orientation, offset = 0, None, 12
    while data[0] & 0x0A and offset + 8 <= size:  # animation or EXIF flag: walk the chunks
        kind, length = struct.unpack("<4sI", _exact(read, offset, 8))
        frames += kind == b"ANMF"
        if kind == b"EXIF":
            exif = offset + 8 + (6 if read(offset + 8, 6) == b"Exif\0\0" else 0)
            orientation = _tiff_orientation(read, exif)
        offset += 8 + length + (length & 1)
    return ImageInfo("image/webp", width, height, frames or 1, orientation)


def _webp_damage(read: Read, size: int) -> str | None:
    riff = struct.unpack("<I", _exact(read, 4, 4))[0] + 8
    return f"truncated: its RIFF header says {riff:,} bytes, the file has {size:,}" if riff > size else None


# -- BMP --------------------------------------------------------------------------------------------------------


def _bmp_header(read: Read) -> tuple[int, int, int, int, int]:
    """(pixel data offset, width, height, bits per pixel, compression)."""
    data = _exact(read, 10, 26)
    offset, dib = struct.unpack("<II", data[:8])
    if dib not in (12, 16, 40, 52, 56, 64, 108, 124):  # the header sizes Windows and OS/2 wrote
        raise _Short
    if dib == 12:  # OS/2 BITMAPCOREHEADER
        width, height, _, bits = struct.unpack("<HHHH", data[8:16])
        return offset, width, height, bits, 0
    width, height, _, bits, compression = struct.unpack("<iiHHI", data[8:24])
    return offset, width, abs(height), bits, compression  # a negative height: rows stored top-down


def _bmp(read: Read, size: int, head: bytes) -> ImageInfo:
    _, width, height, _, _ = _bmp_header(read)
    return ImageInfo("image/bmp", width, height)


def _bmp_damage(read: Read, size: int) -> str | None:
    offset, width, height, bits, compression = _bmp_header(read)
    if compression not in (0, 3, 6):  # run-length or embedded JPEG/PNG: the length is not known ahead
        return None
    row = (bits * width + 31) // 32 * 4
    need = offset + row * (height - 1) + -(-bits * width // 8)  # the last row's padding may be missing
    return f"truncated: its pixels need {need:,} bytes, the file has {size:,}" if height and need > size else None


# -- TIFF (and the EXIF inside JPEG and WebP) -------------------------------------------------------------------

_TYPE_SIZES = {1: 1, 3: 2, 4: 4, 16: 8}  # BYTE, SHORT, LONG, LONG8


class _Ifd:
    """The first image file directory of a TIFF structure starting at ``base``: tag -> (type, count, value)."""

    def __init__(self, read: Read, base: int) -> None:
        head = _exact(read, base, 16)
        order = {b"II": "<", b"MM": ">"}.get(head[:2])
        if order is None:
            raise _Short
        big = struct.unpack(order + "H", head[2:4])[0] == 43  # BigTIFF: 64-bit offsets and counts
        self.read, self.base, self.order, self.offset = read, base, order, order + ("Q" if big else "I")
        first = struct.unpack(self.offset, head[8:16] if big else head[4:8])[0]
        count_size, entry, value = (8, 20, 12) if big else (2, 12, 8)  # value: where an entry's value starts
        count = min(struct.unpack(order + ("Q" if big else "H"), _exact(read, base + first, count_size))[0], 4096)
        table = _exact(read, base + first + count_size, count * entry)
        self.tags: dict[int, tuple[int, int, bytes]] = {}
        for i in range(0, len(table), entry):
            tag, kind = struct.unpack(order + "HH", table[i : i + 4])
            number = struct.unpack(self.offset, table[i + 4 : i + value])[0]
            self.tags[tag] = (kind, number, table[i + value : i + entry])

    def values(self, tag: int) -> list[int]:
        """The integers a tag holds (read from where they sit when they do not fit in the entry)."""
        if tag not in self.tags:
            return []
        kind, count, inline = self.tags[tag]
        width = _TYPE_SIZES.get(kind)
        if width is None:
            return []
        count = min(count, 1 << 20)
        data = inline
        if count * width > len(inline):
            where = struct.unpack(self.offset, inline)[0]
            data = _exact(self.read, self.base + where, count * width)
        code = {1: "B", 2: "H", 4: "I", 8: "Q"}[width]
        return list(struct.unpack(f"{self.order}{count}{code}", data[: count * width]))

    def orientation(self) -> int | None:
        value = self.values(274)
        return value[0] if value and 1 <= value[0] <= 8 else None


def _tiff_orientation(read: Read, base: int) -> int | None:
    """The Orientation tag of an EXIF block; None when absent or unreadable (the image is still usable)."""
    try:
        return _Ifd(read, base).orientation()
    except (_Short, struct.error):
        return None


def _tiff(read: Read, size: int, head: bytes) -> ImageInfo | None:
    ifd = _Ifd(read, 0)
    width, height = ifd.values(256), ifd.values(257)
    return ImageInfo("image/tiff", width[0], height[0], None, ifd.orientation()) if width and height else None


def _tiff_damage(read: Read, size: int) -> str | None:
    ifd = _Ifd(read, 0)
    for offsets, counts in ((273, 279), (324, 325)):  # strips, tiles
        ends = [o + c for o, c in zip(ifd.values(offsets), ifd.values(counts), strict=False)]
        if ends and max(ends) > size:
            return f"truncated: its image data runs to byte {max(ends):,}, the file has {size:,}"
    return None


_DAMAGE: dict[str, Callable[[Read, int], str | None]] = {
    "image/png": _png_damage,
    "image/jpeg": _jpeg_damage,
    "image/gif": _gif_damage,
    "image/webp": _webp_damage,
    "image/bmp": _bmp_damage,
    "image/tiff": _tiff_damage,
    "image/heic": heif_damage,
    "image/heif": heif_damage,
    "image/avif": heif_damage,
}
