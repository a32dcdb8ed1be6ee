"""What an audio file is, read without a decoder: its OpenRouter ``input_audio.format``, duration and damage.

``format`` names are OpenRouter's (wav, mp3, aiff, aac, ogg, flac, m4a, pcm16, pcm24; webm and amr from other
providers' lists), never MIME types: OpenAI answers a MIME type in ``format`` with HTTP 400, and a wrong name may
not fail at all (m4a labelled ``audio/mp4`` reached Gemini and was ignored). Headers are read where they sit
(``read(offset, size)``: a file, or a base64 payload decoded on demand), so a long recording costs a few small
reads. Raw pcm16/pcm24 has no header: nothing here can recognise it, and the declared format is all there is.
"""

from __future__ import annotations

import struct

from .audioheaders import MAX_CHUNKS, Broken, Read, byte_reader, header_facts, id3_size, mp3_frame, ogg_page
from .container import _vint, damage, mp4_duration

__all__ = ["AUDIO_MIME", "audio_damage", "audio_duration", "audio_format", "canonical_format", "format_of_mime"]

# format -> the MIME type a data URL or a file server names it by
AUDIO_MIME: dict[str, str] = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "aiff": "audio/aiff",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
    "amr": "audio/amr",
    "pcm16": "audio/L16",
    "pcm24": "audio/L24",
}

# MIME spellings seen in the wild -> format (lower case, parameters dropped). ``audio/mpeg`` is MP3 here, as in
# the SDKs that map it (it could be MPEG Layer II too: ``audio_format`` tells from the bytes). ``audio/pcm`` is
# left out: it does not say 16 or 24 bits.
_MIME_FORMATS: dict[str, str] = {
    **{mime.lower(): fmt for fmt, mime in AUDIO_MIME.items()},
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/x-pn-wav": "wav",
    "audio/mp3": "mp3",
    "audio/x-mp3": "mp3",
    "audio/mpeg3": "mp3",
    "audio/x-mpeg": "mp3",
    "audio/x-mpeg-3": "mp3",
    "audio/mpga": "mp3",
    "audio/x-aac": "aac",
    "audio/aacp": "aac",
    "audio/x-hx-aac-adts": "aac",
    "audio/x-flac": "flac",
    "audio/x-ogg": "ogg",
    "audio/vorbis": "ogg",
    "audio/opus": "ogg",
    "application/ogg": "ogg",
    "audio/x-aiff": "aiff",
    "audio/aifc": "aiff",
    "audio/x-aifc": "aiff",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
    "audio/x-mp4": "m4a",
    "audio/amr-wb": "amr",
}

# Declared ``format`` spellings (lower case) -> format: what people write for the names OpenRouter documents.
_NAMES: dict[str, str] = {
    **{fmt: fmt for fmt in AUDIO_MIME},
    "wave": "wav",
    "mpeg": "mp3",
    "mpga": "mp3",
    "mpeg3": "mp3",
    "mp4": "m4a",
    "aif": "aiff",
    "aifc": "aiff",
    "oga": "ogg",
    "opus": "ogg",
    "vorbis": "ogg",
    "l16": "pcm16",
    "s16le": "pcm16",
    "pcm_s16le": "pcm16",
    "l24": "pcm24",
    "s24le": "pcm24",
    "pcm_s24le": "pcm24",
}


def format_of_mime(mime: str) -> str | None:
    """The format a MIME type names (``audio/x-wav`` -> wav, ``audio/mp4`` -> m4a, ``audio/L16`` -> pcm16)."""
    return _MIME_FORMATS.get(mime.split(";", 1)[0].strip().lower())


def canonical_format(declared: str) -> str | None:
    """The format a declared ``format`` string means (``WAV``, ``audio/wav``, ``mpeg`` -> mp3, ``mp4`` -> m4a),
    or None when it names no audio format."""
    name = declared.strip().lower()
    if "/" in name:
        return format_of_mime(name)
    return _NAMES.get(name.removeprefix("x-"))


# -- sniffing ---------------------------------------------------------------------------------------------------


def audio_format(head: bytes, read: Read | None = None) -> str | None:
    """The format of an audio file from its first bytes (4 KiB is plenty), or None when it is not audio or unknown.

    ISO-BMFF with a generic brand (``isom``, ``mp42``) and WebM are audio when every track is: their track
    headers are read through ``read`` when given (random access, a few small reads), else only from ``head``.
    An Ogg or MP4 file with a video track is None: it belongs to the video path.
    """
    at = read or byte_reader(head)
    if head.startswith(b"ID3"):
        tag = id3_size(head)
        rest = at(tag, 16) if tag is not None else b""
        return _frame_format(rest) if rest[:4] == b"fLaC" or _adts(rest) else "mp3"
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head.startswith(b"#!AMR"):
        return "amr"
    if head.startswith(b"OggS"):
        return "ogg" if _ogg_streams(head) == {"audio"} else None
    if len(head) >= 12 and head[4:8] == b"ftyp":
        if head[8:12] in (b"M4A ", b"M4B "):
            return "m4a"
        return "m4a" if _bmff_handlers(at) == {b"soun"} else None
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:64] and _webm_tracks(at) == {2} else None
    return _frame_format(head)


def _frame_format(data: bytes) -> str | None:
    """flac, mp3 (an MPEG Layer III frame) or aac (an ADTS frame) at the start of ``data``."""
    if data.startswith(b"fLaC"):
        return "flac"
    if mp3_frame(data) is not None:
        return "mp3"
    return "aac" if _adts(data) else None


def _adts(data: bytes) -> bool:
    """An ADTS (raw AAC) frame header at the start, and the next one when ``data`` reaches it."""
    if len(data) < 7 or data[0] != 0xFF or data[1] & 0xF6 != 0xF0 or (data[2] >> 2) & 0xF > 12:
        return False
    length = ((data[3] & 3) << 11) | (data[4] << 3) | (data[5] >> 5)
    if length < 7:
        return False
    nxt = data[length : length + 2]
    return len(nxt) < 2 or (nxt[0] == 0xFF and nxt[1] & 0xF6 == 0xF0)


# Ogg: the first packet of each logical stream (on its "beginning of stream" page) names its codec.
_OGG_AUDIO = (b"\x01vorbis", b"OpusHead")
_OGG_VIDEO = (b"\x80theora", b"OVP80", b"BBCD\x00")


def _ogg_streams(head: bytes) -> set[str]:
    """The kinds ("audio", "video", "other") of the logical streams whose first pages are in ``head``."""
    kinds: set[str] = set()
    offset = 0
    while (page := ogg_page(byte_reader(head), offset)) is not None and page[0] & 0x02:  # beginning-of-stream pages
        packet = head[page[3] : page[3] + 8]
        if packet.startswith(_OGG_AUDIO):
            kinds.add("audio")
        elif packet.startswith(_OGG_VIDEO):
            kinds.add("video")
        elif not packet.startswith(b"fishead\x00"):  # a skeleton stream describes the others
            kinds.add("other")
        offset = page[4]
    return kinds


def _bmff_handlers(read: Read) -> set[bytes] | None:
    """The handler types (``soun``, ``vide``...) of every track in an ISO-BMFF file; None when the track list
    cannot be read whole (no ``moov`` within reach)."""
    moov = _box(read, 0, None, b"moov")
    if moov is None:
        return None
    handlers: set[bytes] = set()
    for trak in _children(read, *moov, b"trak"):
        mdia = _box(read, trak[0], trak[1], b"mdia")
        hdlr = _box(read, mdia[0], mdia[1], b"hdlr") if mdia else None
        kind = read(hdlr[0] + 8, 4) if hdlr else b""
        if len(kind) < 4:
            return None
        handlers.add(kind)
    return handlers - {b"meta", b"hint", b"text", b"sbtl", b"subt", b"tmcd"} or None


def _children(read: Read, start: int, end: int | None, kind: bytes) -> list[tuple[int, int]]:
    """(body start, body end) of each ``kind`` box in ``[start, end)`` (``end`` None: up to where reads stop)."""
    found = []
    offset = start
    for _ in range(MAX_CHUNKS):
        if end is not None and offset + 8 > end:
            break
        hdr = read(offset, 16)
        if len(hdr) < 8:
            break
        size, box = struct.unpack(">I4s", hdr[:8])
        header = 8
        if size == 1 and len(hdr) == 16:
            size, header = struct.unpack(">Q", hdr[8:16])[0], 16
        elif size == 0 and end is not None:
            size = end - offset
        if size < header:
            break
        if box == kind:
            found.append((offset + header, offset + size))
        offset += size
    return found


def _box(read: Read, start: int, end: int | None, kind: bytes) -> tuple[int, int] | None:
    found = _children(read, start, end, kind)
    return found[0] if found else None


_SEGMENT, _TRACKS, _CLUSTER, _ENTRY, _TYPE = 0x18538067, 0x1654AE6B, 0x1F43B675, 0xAE, 0x83


def _webm_tracks(read: Read) -> set[int] | None:
    """The ``TrackType`` of each track of a WebM file (1 video, 2 audio); None when its Tracks cannot be read."""
    ebml = _element(read, 0)
    segment = _element(read, ebml[1]) if ebml else None
    if segment is None or segment[0] != _SEGMENT:
        return None
    offset = segment[2]
    for _ in range(MAX_CHUNKS):
        element = _element(read, offset)
        if element is None or element[0] == _CLUSTER:
            return None
        if element[0] == _TRACKS:
            types = set()
            entry = element[2]
            while entry < element[1] and (track := _element(read, entry)) is not None:
                field = track[2]
                while track[0] == _ENTRY and field < track[1] and (child := _element(read, field)) is not None:
                    if child[0] == _TYPE:
                        types.add(int.from_bytes(read(child[2], child[1] - child[2]), "big"))
                    field = child[1]
                entry = track[1]
            return types or None
        offset = element[1]
    return None


def _element(read: Read, offset: int) -> tuple[int, int, int] | None:
    """(id, end, body start) of the EBML element at ``offset``; None when unreadable. An element of unknown size
    (a live recording's Segment) runs to the end."""
    ident = _vint(read, offset, keep_marker=True)
    length = _vint(read, offset + ident[1], keep_marker=False) if ident else None
    if ident is None or length is None:
        return None
    body = offset + ident[1] + length[1]
    unknown = length[0] == (1 << (7 * length[1])) - 1
    return ident[0], (1 << 62) if unknown else body + length[0], body


# -- duration and damage ---------------------------------------------------------------------------------------


def audio_duration(read: Read, size: int, fmt: str) -> float | None:
    """Seconds of audio, where the headers say so exactly; None when they do not (or for other formats).

    wav: the ``data`` chunk over the byte rate (the ``fact`` sample count when compressed); flac: STREAMINFO;
    aiff: COMM; m4a: ``mvhd``; mp3: a Xing/Info or VBRI header only (a bare CBR stream is estimated, not known);
    ogg (Vorbis, Opus): the last page's granule position.
    """
    if fmt == "m4a":
        return mp4_duration(read)
    try:
        return header_facts(read, size, fmt).seconds
    except Broken:
        return None


def audio_damage(read: Read, size: int, fmt: str) -> str | None:
    """Why an audio file is cut or broken (a chunk that claims more bytes than the file has, a header that is not
    whole), or None when its structure looks whole. Structure only: what a decoder would find passes."""
    if size == 0:
        return "the file is empty"
    if fmt in ("m4a", "webm"):
        return damage(read, size, "video/mp4" if fmt == "m4a" else "video/webm")
    try:
        return header_facts(read, size, fmt).damage
    except Broken as exc:
        return str(exc)
