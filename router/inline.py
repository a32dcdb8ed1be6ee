"""A local video file -> a ``data:video/...;base64,`` URL, for providers that take no video URLs (Vertex).

The type comes from the bytes (``media.sniff``), never from the file name, and anything that is not a
video is refused: a data URL with the wrong type fails upstream after a long upload. The encoding streams
in 3-byte-aligned chunks through the rewriter's encoder, so writing a 1 GB file's data URL to disk keeps
memory flat; only ``data_url_from_file``, which returns a ``str``, holds the whole thing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from .errors import NotAVideo
from .media import canonical_mime, compatible, sniff
from .rewrite import encode_file, encoded_size

__all__ = ["data_url_from_file", "data_url_size", "iter_data_url", "video_mime"]

_HEAD = 4096


def video_mime(path: str | os.PathLike[str], declared: str | None = None) -> str:
    """The MIME type to put in the data URL; ``NotAVideo`` when the bytes are not a video.

    ``declared`` overrides what the bytes say, but only within the same container family (``video/mov``
    for an MP4 is fine, ``video/webm`` for an MP4 is not), and names the type when the bytes are unknown.
    """
    with open(path, "rb") as fh:
        head = fh.read(_HEAD)
    found = sniff(head)
    where = os.fspath(path)
    if declared is not None:
        declared = declared.strip().lower()
        if not declared.startswith("video/"):
            raise NotAVideo(f"{where}: --mime must be a video type, not {declared!r}", url=where)
        if found is not None and not compatible(declared, found):
            raise NotAVideo(f"{where}: the bytes are {found}, not {declared}", url=where)
        return declared
    if found is None:
        raise NotAVideo(f"{where}: not a recognised video container (pass --mime to name its type)", url=where)
    if not canonical_mime(found).startswith("video/"):
        raise NotAVideo(f"{where}: the file is {found}, not a video", url=where)
    return found


def data_url_size(path: str | os.PathLike[str], mime: str) -> int:
    """Length of the data URL in bytes, known before encoding (its ``Content-Length``)."""
    return len(f"data:{mime};base64,") + encoded_size(os.path.getsize(path))


def iter_data_url(path: str | os.PathLike[str], mime: str | None = None) -> Iterator[bytes]:
    """The data URL as ASCII chunks (the header first); the type is checked before the first chunk."""
    mime = video_mime(path, mime)
    return _chunks(Path(path), mime)


def _chunks(path: Path, mime: str) -> Iterator[bytes]:
    yield f"data:{mime};base64,".encode()
    with path.open("rb") as fh:
        yield from encode_file(fh)


def data_url_from_file(path: str | os.PathLike[str], mime: str | None = None) -> str:
    """``data:video/...;base64,...`` for a local video file; ``NotAVideo`` when it is not one."""
    return b"".join(iter_data_url(path, mime)).decode("ascii")
