"""The headers of audio files, read where they sit: ID3 tags, MPEG frame headers, Ogg pages, RIFF and IFF chunks,
and what each format's header says about the whole file (its duration, whether it is cut). ``router._model.audio``
is the face: it asks ``header_facts``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple

from .container import Read

__all__ = ["MAX_CHUNKS", "Broken", "Facts", "Read", "byte_reader", "header_facts", "id3_size", "mp3_frame", "ogg_page"]

MAX_CHUNKS = 256  # chunks or boxes looked at per level: a file with more is not worth reading this way


def byte_reader(data: bytes) -> Read:
    """Random access into bytes in memory, in the shape the readers take."""
    return lambda offset, size: data[offset : offset + size]


def id3_size(head: bytes) -> int | None:
    """Bytes of an ID3v2 tag at the start (header, body and footer); None when the header is malformed."""
    if len(head) < 10 or any(b & 0x80 for b in head[6:10]):
        return None
    body = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    return 10 + body + (10 if head[5] & 0x10 else 0)


_MP3_KBPS = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 (and 2.5, version 0)
}
_MP3_RATES = {3: (44_100, 48_000, 32_000), 2: (22_050, 24_000, 16_000), 0: (11_025, 12_000, 8_000)}


def mp3_frame(data: bytes, follow: bool = True) -> tuple[int, int, int, int] | None:
    """(version bits, frame bytes, sample rate, channels) of the Layer III frame header at the start of ``data``;
    with ``follow``, the next frame's header too when ``data`` reaches it (two in a row rule out a chance 0xFFE)."""
    if len(data) < 4 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return None
    version, layer = (data[1] >> 3) & 3, (data[1] >> 1) & 3
    bitrate, rate_index = data[2] >> 4, (data[2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate in (0, 15) or rate_index == 3:
        return None
    kbps = _MP3_KBPS[3 if version == 3 else 2][bitrate]
    rate = _MP3_RATES[version][rate_index]
    length = (144 if version == 3 else 72) * kbps * 1000 // rate + ((data[2] >> 1) & 1)
    channels = 1 if data[3] >> 6 == 3 else 2
    if follow and len(data) >= length + 4 and mp3_frame(data[length:], follow=False) is None:
        return None
    return version, length, rate, channels


def ogg_page(read: Read, offset: int) -> tuple[int, int, int, int, int] | None:
    """(header type, granule, serial, body offset, page end) of the Ogg page at ``offset``; None if not one."""
    hdr = read(offset, 27)
    if len(hdr) < 27 or hdr[:4] != b"OggS" or hdr[4] != 0:
        return None
    flags, granule, serial = hdr[5], *struct.unpack("<qI", hdr[6:18])
    segments = read(offset + 27, hdr[26])
    if len(segments) < hdr[26]:
        return None
    body = offset + 27 + hdr[26]
    return flags, granule, serial, body, body + sum(segments)


class Broken(Exception):
    """A header too damaged to read on (its text is the damage)."""


class Facts(NamedTuple):
    seconds: float | None = None
    damage: str | None = None


def _chunks(read: Read, start: int, size: int, big: bool) -> list[tuple[bytes, int, int]]:
    """(id, body offset, declared body size) of the RIFF/IFF chunks from ``start``, up to and including the
    first whose body does not end inside the file (the audio data, when cut)."""
    found: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= size and len(found) < MAX_CHUNKS:
        hdr = read(offset, 8)
        if len(hdr) < 8:
            break
        kind, length = hdr[:4], struct.unpack(">I" if big else "<I", hdr[4:])[0]
        found.append((kind, offset + 8, length))
        offset += 8 + length + (length & 1)
    return found


def _wav(read: Read, size: int) -> Facts:
    chunks = _chunks(read, 12, size, big=False)
    kinds = {kind: (body, length) for kind, body, length in reversed(chunks)}  # the first of each kind
    if b"fmt " not in kinds:
        raise Broken("truncated or damaged: it has no `fmt ` chunk (the header every player needs)")
    fmt_body, fmt_length = kinds[b"fmt "]
    raw = read(fmt_body, 16)
    if fmt_length < 16 or len(raw) < 16:
        raise Broken("truncated: the `fmt ` chunk is cut off")
    codec, _channels, rate, byte_rate = struct.unpack("<HHII", raw[:12])
    if b"data" not in kinds:
        raise Broken("truncated: the file ends before its `data` chunk")
    body, length = kinds[b"data"]
    if b"ds64" in kinds and length == 0xFFFFFFFF:  # RF64: the real size is in the ds64 chunk
        ds64 = read(kinds[b"ds64"][0] + 8, 8)
        length = struct.unpack("<Q", ds64)[0] if len(ds64) == 8 else length
    have = size - body
    damaged = None
    if length == 0xFFFFFFFF or (length == 0 and have > 0):  # written to a pipe: the data runs to the end
        length = have
    elif length > have:
        damaged = f"truncated: its `data` chunk holds {length:,} bytes but the file has {have:,} after its header"
    fact = read(kinds[b"fact"][0], 4) if b"fact" in kinds else b""
    if codec not in (1, 3, 0xFFFE) and len(fact) == 4 and rate:  # compressed: the sample count is exact
        seconds = struct.unpack("<I", fact)[0] / rate
    else:
        seconds = min(length, have) / byte_rate if byte_rate else None
    return Facts(seconds, damaged)


def _flac(read: Read, size: int) -> Facts:
    if read(0, 4) != b"fLaC":
        raise Broken("damaged: it does not start with `fLaC`")
    offset, seconds, first = 4, None, True
    while True:
        hdr = read(offset, 4)
        if len(hdr) < 4:
            raise Broken("truncated: the file ends inside its metadata")
        last, kind, length = hdr[0] & 0x80, hdr[0] & 0x7F, int.from_bytes(hdr[1:], "big")
        if first and (kind != 0 or length != 34):
            raise Broken("damaged: its first metadata block is not STREAMINFO")
        if offset + 4 + length > size:
            raise Broken(f"truncated: a metadata block at byte {offset:,} runs past the end of the file ({size:,})")
        if first:
            info = read(offset + 4 + 10, 8)
            rate = info[0] << 12 | info[1] << 4 | info[2] >> 4
            samples = (info[3] & 0x0F) << 32 | int.from_bytes(info[4:8], "big")
            seconds = samples / rate if rate and samples else None
        first = False
        offset += 4 + length
        if last:
            break
    sync = read(offset, 2)
    if len(sync) < 2 or sync[0] != 0xFF or sync[1] & 0xFE != 0xF8:
        return Facts(seconds, "truncated or damaged: no audio frame follows its metadata")
    return Facts(seconds)


_AIFC_PCM = {b"NONE", b"none", b"sowt", b"twos", b"raw ", b"fl32", b"FL32", b"fl64", b"FL64", b"in24", b"in32"}


def _aiff(read: Read, size: int) -> Facts:
    form = read(8, 4)
    kinds = {kind: (body, length) for kind, body, length in reversed(_chunks(read, 12, size, big=True))}
    if b"COMM" not in kinds:
        raise Broken("truncated or damaged: it has no `COMM` chunk (the header every player needs)")
    body, length = kinds[b"COMM"]
    comm = read(body, 22)
    if length < 18 or len(comm) < 18 or body + length > size:
        raise Broken("truncated: the `COMM` chunk is cut off")
    _channels, frames, _bits = struct.unpack(">hIh", comm[:8])
    exponent, mantissa = struct.unpack(">HQ", comm[8:18])
    rate = mantissa * 2.0 ** ((exponent & 0x7FFF) - 16383 - 63) if mantissa else 0.0
    pcm = form == b"AIFF" or comm[18:22] in _AIFC_PCM  # compressed AIFC counts packets, not frames
    seconds = frames / rate if rate and pcm else None
    if b"SSND" not in kinds:
        return Facts(seconds, None if frames == 0 else "truncated: the file ends before its `SSND` chunk")
    body, length = kinds[b"SSND"]
    if body + length > size:
        have = size - body
        return Facts(seconds, f"truncated: its `SSND` chunk holds {length:,} bytes but the file has {have:,}")
    return Facts(seconds)


def _mp3(read: Read, size: int) -> Facts:
    head = read(0, 10)
    start = (id3_size(head) or 0) if head.startswith(b"ID3") else 0
    if start > size:
        raise Broken(f"truncated: its ID3 tag claims {start:,} bytes but the file has {size:,}")
    frame = read(start, 4 + 32 + 200)
    parsed = mp3_frame(frame, follow=False)
    if parsed is None:
        return Facts()
    version, _length, rate, channels = parsed
    per_frame = 1152 if version == 3 else 576
    side = (32 if channels == 2 else 17) if version == 3 else (17 if channels == 2 else 9)
    frames = stream = None
    if frame[4 + side : 8 + side] in (b"Xing", b"Info"):
        at = 8 + side
        flags = struct.unpack(">I", frame[at : at + 4])[0]
        at += 4
        if flags & 1:
            frames = struct.unpack(">I", frame[at : at + 4])[0]
            at += 4
        if flags & 2:
            stream = struct.unpack(">I", frame[at : at + 4])[0]
            at += 4
        at += (100 if flags & 4 else 0) + (4 if flags & 8 else 0)
        gap = 0
        if frame[at : at + 4] in (b"LAME", b"Lavf", b"Lavc") and len(frame) >= at + 24:  # encoder delay, padding
            delays = int.from_bytes(frame[at + 21 : at + 24], "big")
            gap = (delays >> 12) + (delays & 0xFFF)
        samples = frames * per_frame - gap if frames else None
    elif frame[36:40] == b"VBRI":
        stream, frames = struct.unpack(">II", frame[46:54])
        samples = frames * per_frame
    else:
        return Facts()
    damaged = None
    if stream is not None and stream > size:  # counted from the frame (FFmpeg) or the file's start (LAME)
        damaged = f"truncated: its Xing header counts {stream:,} bytes of audio but the file has {size:,}"
    return Facts(samples / rate if samples and samples > 0 else None, damaged)


_OGG_TAIL = 65_536 + 27 + 255  # the largest page, so the last page's header is in the tail


def _ogg(read: Read, size: int) -> Facts:
    first = ogg_page(read, 0)
    if first is None:
        raise Broken("truncated or damaged: its first Ogg page is not whole")
    packet = read(first[3], 20)
    if packet.startswith(b"OpusHead"):
        rate, skip = 48_000, struct.unpack("<H", packet[10:12])[0]  # granules count 48 kHz samples, pre-skip too
    elif packet.startswith(b"\x01vorbis"):
        rate, skip = struct.unpack("<I", packet[12:16])[0], 0
    else:
        return Facts()
    begin = max(0, size - _OGG_TAIL)
    tail = read(begin, size - begin)
    at = tail.rfind(b"OggS")
    last = ogg_page(byte_reader(tail), at) if at >= 0 else None
    if last is None or last[4] > len(tail):
        return Facts(None, f"truncated: the last Ogg page (at byte {begin + max(at, 0):,}) is cut off")
    while last is not None and (last[2] != first[2] or last[1] < 0):  # another stream's page, or no granule
        at = tail.rfind(b"OggS", 0, at)
        last = ogg_page(byte_reader(tail), at) if at >= 0 else None
    seconds = (last[1] - skip) / rate if last is not None and rate else None
    return Facts(seconds if seconds is not None and seconds > 0 else None)


_PARSERS: dict[str, Callable[[Read, int], Facts]] = {
    "wav": _wav,
    "flac": _flac,
    "aiff": _aiff,
    "mp3": _mp3,
    "ogg": _ogg,
}


def header_facts(read: Read, size: int, fmt: str) -> Facts:
    """What the headers of a ``fmt`` file say (wav, flac, aiff, mp3, ogg; nothing for the others). Raises
    :class:`Broken` when they are too damaged to read on."""
    parse = _PARSERS.get(fmt)
    return parse(read, size) if parse else Facts()
