"""What a video URL is, what a data URL holds, and what container a run of bytes really is.

Pure functions, no I/O and no DNS: the checker, the fetcher and the rewriter all ask this module.
"""

from __future__ import annotations

import binascii
import ipaddress
import re
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Literal
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

__all__ = [
    "DataUrl",
    "DataUrlError",
    "UrlInfo",
    "canonical_mime",
    "classify_url",
    "compatible",
    "extension_mime",
    "host_block_reason",
    "ip_block_reason",
    "literal_ip",
    "metadata_block_reason",
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
_METADATA_HOSTS = {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "localhost"}
_METADATA_IPS = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
    ipaddress.ip_address("169.254.170.2"),
}

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
    blocked: str | None = None  # why the URL is never fetched (literal private IP, local name, file:)

    @property
    def canonical_youtube(self) -> str | None:
        return f"https://www.youtube.com/watch?v={self.youtube_id}" if self.youtube_id else None


def canonical_mime(mime: str) -> str:
    base = mime.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def compatible(declared: str, sniffed: str) -> bool:
    a, b = canonical_mime(declared), canonical_mime(sniffed)
    return a == b or any(a in fam and b in fam for fam in _FAMILIES)


def ip_block_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is off limits to the fetcher (None when it is a public unicast address)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA_IPS:
        return "a cloud metadata address"
    for attr, why in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "an unspecified address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(ip, attr):
            return why
    if not ip.is_global:
        return "a non-public address"
    return None


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    # inet_aton reads the forms resolvers also accept (127.1, 0x7f.0.0.1, 2130706433) without any DNS.
    if host and not re.search(r"[g-wyzG-WYZ_]", host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def host_block_reason(host: str) -> str | None:
    """Offline verdict on a host name or literal: never resolves anything."""
    host = host.lower().rstrip(".")
    if host in _METADATA_HOSTS or host.endswith((".localhost", ".internal", ".local")):
        return "a local or metadata host name"
    ip = _literal_ip(host)
    return ip_block_reason(ip) if ip is not None else None


def literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host literal stands for, in every spelling resolvers accept (127.1, 2130706433); no DNS."""
    return _literal_ip(host.lower().rstrip("."))


def metadata_block_reason(host: str) -> str | None:
    """Why a host (name or address literal) is off limits even with ``allow_private_urls``.

    Cloud metadata endpoints hand out credentials, and they live on link-local addresses: a local development
    switch must never open them.
    """
    host = host.lower().rstrip(".")
    if host in _METADATA_HOSTS - {"localhost"}:
        return "a cloud metadata host name"
    ip = _literal_ip(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA_IPS:
        return "a cloud metadata address"
    if ip is not None and ip.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    return None


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
    return candidate if _YT_ID.match(candidate) else None


def classify_url(url: str) -> UrlInfo:
    """Tell what kind of video URL this is, offline."""
    url = url.strip()
    if url[:5].lower() == "data:":
        return UrlInfo("data")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
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
        return UrlInfo(scheme, host, blocked=host_block_reason(host))  # type: ignore[arg-type]
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


@dataclass(frozen=True, slots=True)
class DataUrl:
    mime: str  # as declared, lower-cased, no parameters ("" when absent)
    base64: bool
    payload: str  # the text after the comma, untouched

    @property
    def decoded_size(self) -> int:
        n = len(self.payload)
        return n * 3 // 4 - self.payload[-2:].count("=") if self.base64 else len(unquote_to_bytes(self.payload))

    def read(self, offset: int, size: int) -> bytes:
        """Decode only the bytes asked for: random access into a huge base64 payload without copying it."""
        if not self.base64:
            return unquote_to_bytes(self.payload)[offset : offset + size]
        start = offset // 3 * 4
        stop = -(-(offset + size) // 3) * 4
        raw = binascii.a2b_base64(self.payload[start:stop])
        skip = offset - start // 4 * 3
        return raw[skip : skip + size]

    def head(self, size: int = 4096) -> bytes:
        return self.read(0, size)


class DataUrlError(ValueError):
    """Why a data URL is malformed, in words a user can act on."""


_DATA = re.compile(r"^data:([^,]*?),", re.IGNORECASE | re.DOTALL)
_B64_CHUNK = 4 * 1024 * 1024  # characters validated per step: flat memory on 100 MB payloads


def parse_data_url(url: str, *, validate: bool = True) -> DataUrl:
    """Split a data URL; with ``validate`` the whole base64 payload is checked in bounded chunks."""
    m = _DATA.match(url)
    if not m:
        raise DataUrlError("no comma after the media type (expected `data:video/mp4;base64,<payload>`)")
    params = [p.strip() for p in m.group(1).split(";")]
    mime = params[0].lower()
    is_b64 = any(p.lower() == "base64" for p in params[1:])
    payload = url[m.end() :]
    if validate and is_b64:
        _check_base64(payload)
    return DataUrl(mime, is_b64, payload)


def _check_base64(payload: str) -> None:
    if not payload:
        raise DataUrlError("the base64 payload is empty")
    if len(payload) % 4:
        raise DataUrlError(f"the base64 payload length ({len(payload)}) is not a multiple of 4 (truncated?)")
    for start in range(0, len(payload), _B64_CHUNK):
        chunk = payload[start : start + _B64_CHUNK]
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
