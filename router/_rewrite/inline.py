"""A local video file -> a ``data:video/...;base64,`` URL, for providers that take no video URLs (Vertex).

The type comes from the bytes (``media.sniff``), never from the file name, and anything that is not a
video is refused: a data URL with the wrong type fails upstream after a long upload. The encoding streams
in 3-byte-aligned chunks through the rewriter's encoder, so writing a 1 GB file's data URL to disk keeps
memory flat; only ``data_url_from_file``, which returns a ``str``, holds the whole thing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from .._base.errors import NotAVideo
from .._model.container import damage, reader
from .._model.media import canonical_mime, compatible, sniff
from .pieces import encode_file, encoded_size

__all__ = ["data_url_from_file", "data_url_size", "iter_data_url", "video_mime"]

_HEAD = 4096
# OpenRouter's documented list (``openrouter.mime_types`` in the capability table, which the CLI passes in).
OPENROUTER_TYPES = ("video/mp4", "video/mpeg", "video/mov", "video/webm")


def video_mime(
    path: str | os.PathLike[str], declared: str | None = None, accepted: Sequence[str] = OPENROUTER_TYPES
) -> str:
    """The MIME type to put in the data URL; ``NotAVideo`` when the file is not a video ``accepted`` takes.

    ``declared`` overrides what the bytes say, but only within the same container family (``video/mov``
    for an MP4 is fine, ``video/webm`` for an MP4 is not), and names the type when the bytes are unknown.
    Another spelling of an accepted type (``video/quicktime``) comes out under the documented name. An empty,
    truncated or damaged file is refused: its data URL would only fail upstream after a long upload.
    """
    where = os.fspath(path)
    size = os.path.getsize(path)
    if size == 0:
        raise NotAVideo(f"{where}: the file is empty", url=where)
    with open(path, "rb") as fh:
        head = fh.read(_HEAD)
        found = sniff(head)
        if found is not None and (broken := damage(reader(fh), size, found)):
            raise NotAVideo(f"{where}: the {found} video is {broken}", url=where)
    if declared is not None:
        declared = declared.strip().lower()
        if not declared.startswith("video/"):
            raise NotAVideo(f"{where}: --mime must be a video type, not {declared!r}", url=where)
        if found is not None and not compatible(declared, found):
            raise NotAVideo(f"{where}: the bytes are {found}, not {declared}", url=where)
        mime = declared
    elif found is None:
        raise NotAVideo(f"{where}: not a recognised video container (pass --mime to name its type)", url=where)
    elif not canonical_mime(found).startswith("video/"):
        raise NotAVideo(f"{where}: the file is {found}, not a video", url=where)
    else:
        mime = found
    if canonical_mime(mime) not in accepted:
        raise NotAVideo(
            f"{where}: {mime} is not a type OpenRouter takes ({', '.join(accepted)}); convert it first, "
            f"e.g. `ffmpeg -i {where} -c copy out.mp4` (or re-encode when the codecs do not fit mp4)",
            url=where,
        )
    return canonical_mime(mime)


def data_url_size(path: str | os.PathLike[str], mime: str) -> int:
    """Length of the data URL in bytes, known before encoding (its ``Content-Length``)."""
    return len(f"data:{mime};base64,") + encoded_size(os.path.getsize(path))


def iter_data_url(
    path: str | os.PathLike[str], mime: str | None = None, accepted: Sequence[str] = OPENROUTER_TYPES
) -> Iterator[bytes]:
    """The data URL as ASCII chunks (the header first); the type is checked before the first chunk."""
    mime = video_mime(path, mime, accepted)
    return _chunks(Path(path), mime)


def _chunks(path: Path, mime: str) -> Iterator[bytes]:
    yield f"data:{mime};base64,".encode()
    with path.open("rb") as fh:
        yield from encode_file(fh)


def data_url_from_file(path: str | os.PathLike[str], mime: str | None = None) -> str:
    """``data:video/...;base64,...`` for a local video file; ``NotAVideo`` when it is not one."""
    return b"".join(iter_data_url(path, mime)).decode("ascii")
