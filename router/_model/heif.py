"""What an ISO-BMFF still image (HEIF, HEIC, AVIF) says in its ``meta`` box, without a decoder.

The type comes from the ``ftyp`` brands; the size from the primary item's ``ispe`` property and the orientation
from its ``irot``/``imir`` (a phone's grid image has tiles and a thumbnail with sizes of their own, so the
primary item is found through ``pitm`` and ``ipma``). Boxes are read where they sit, as ``container`` reads them.
"""

from __future__ import annotations

import struct

from .container import Read, _boxes, _Broken

__all__ = ["heif_damage", "heif_header"]

_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"hevc": "image/heic",
    b"hevx": "image/heic",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"miaf": "image/heif",
}
# Orientation as the map (x, y) -> (a x + b y, c x + d y), y pointing down: EXIF's eight values.
_ORIENTATIONS = {
    (1, 0, 0, 1): 1,
    (-1, 0, 0, 1): 2,
    (-1, 0, 0, -1): 3,
    (1, 0, 0, -1): 4,
    (0, 1, 1, 0): 5,
    (0, -1, 1, 0): 6,
    (0, -1, -1, 0): 7,
    (0, 1, -1, 0): 8,
}
_QUARTER_ANTICLOCKWISE = (0, 1, -1, 0)
_MIRRORS = ((-1, 0, 0, 1), (1, 0, 0, -1))  # imir axis 0: about the vertical axis; 1: the horizontal one


def _heif_mime(brands: bytes) -> str | None:
    """The type from the major brand; a generic one (``mif1``) defers to a specific compatible brand."""
    major = _BRANDS.get(brands[:4])
    compatible = [_BRANDS.get(brands[i : i + 4]) for i in range(8, len(brands) - 3, 4)]
    specific = next((m for m in compatible if m in ("image/avif", "image/heic")), None)
    return specific if major == "image/heif" and specific else major or specific


def _children(read: Read, offset: int, header: int, size: int, full: bool = False) -> dict[bytes, tuple[int, int]]:
    """The boxes inside one box: type -> (payload offset, payload length); ``full``: a FullBox (4 bytes more)."""
    start = offset + header + (4 if full else 0)
    return {box: (at + head, length - head) for box, at, head, length in _boxes(read, start, offset + size)}


def heif_header(read: Read, size: int) -> tuple[str, int, int, int | None] | None:
    """(type, width, height, EXIF-style orientation or None) of the primary image; None when there is none.

    Raises ``struct.error``, ``IndexError`` or ``container``'s box error on bytes cut short.
    """
    head = read(0, 8)
    ftyp = struct.unpack(">I", head[:4])[0]
    mime = _heif_mime(read(8, min(max(ftyp - 8, 8), 256)))
    meta = next((box for box in _boxes(read, 0, size) if box[0] == b"meta"), None)
    if mime is None or meta is None:
        return None
    inside = _children(read, *meta[1:], full=True)
    if b"iprp" not in inside or b"pitm" not in inside:
        return None
    pitm = read(*inside[b"pitm"])
    primary = struct.unpack(">H", pitm[4:6])[0] if pitm[0] == 0 else struct.unpack(">I", pitm[4:8])[0]
    iprp = inside[b"iprp"]
    props: list[tuple[bytes, int, int]] = []
    associations: dict[int, list[int]] = {}
    for box, at, header, length in _boxes(read, iprp[0], iprp[0] + iprp[1]):
        if box == b"ipco":
            props = [(kind, a + h, n - h) for kind, a, h, n in _boxes(read, at + header, at + length)]
        elif box == b"ipma":
            associations.update(_ipma(read(at + header, length - header)))
    width = height = 0
    matrix = (1, 0, 0, 1)
    for index in associations.get(primary, []):
        if not 0 < index <= len(props):
            continue
        kind, at, length = props[index - 1]
        if kind == b"ispe":
            width, height = struct.unpack(">II", read(at + 4, 8))
        elif kind in (b"irot", b"imir"):
            value = read(at, 1)[0]
            turns = [_QUARTER_ANTICLOCKWISE] * (value & 3) if kind == b"irot" else [_MIRRORS[value & 1]]
            for a, b, c, d in turns:
                w, x, y, z = matrix
                matrix = (a * w + b * y, a * x + b * z, c * w + d * y, c * x + d * z)
    orientation = _ORIENTATIONS[matrix]
    return mime, width, height, None if orientation == 1 else orientation


def _ipma(data: bytes) -> dict[int, list[int]]:
    """Item id -> the 1-based indices of its properties in ``ipco``, in order."""
    version, wide = data[0], data[3] & 1
    count = struct.unpack(">I", data[4:8])[0]
    offset, out = 8, dict[int, list[int]]()
    for _ in range(count):
        if version < 1:
            item, offset = struct.unpack(">H", data[offset : offset + 2])[0], offset + 2
        else:
            item, offset = struct.unpack(">I", data[offset : offset + 4])[0], offset + 4
        n, offset = data[offset], offset + 1
        indices = []
        for _ in range(n):
            if wide:
                indices.append(struct.unpack(">H", data[offset : offset + 2])[0] & 0x7FFF)
                offset += 2
            else:
                indices.append(data[offset] & 0x7F)
                offset += 1
        out[item] = indices
    return out


def heif_damage(read: Read, size: int) -> str | None:
    try:
        top = [box for box, *_ in _boxes(read, 0, size)]
    except _Broken as exc:
        return f"truncated or damaged: {exc}"
    return None if b"meta" in top else "damaged: it has no `meta` box (which says what the image is)"
