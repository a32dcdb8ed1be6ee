"""Route plan + downloaded media -> the outgoing request: the caller's own JSON text, edited where it must be.

Only the spans the plan changes are rewritten (a video URL, a key, a part's type, ``provider.only``); every
other byte goes out as the caller wrote it, so number text such as ``1e400``, key order and escapes keep their
meaning. Inlined videos are never held as one big string: their base64 is produced from the spooled file in
3-byte-aligned chunks, and a video the client inlined itself is copied out of its body, so memory stays flat
and the ``Content-Length`` is known exactly before the first byte is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from .._base.redact import redacted, scrubbed, short_url, sized
from .._base.rules import Diagnostic
from .._judgement.check import Checked, PartFacts
from .._judgement.plan import RoutePlan
from .._model.body import Body
from .._model.jsontext import HoleText, key_spans, locate, skip_value, value_span
from .._model.request import WIRE_TYPE, Api, Payload, escape

if TYPE_CHECKING:
    from .._fetch.fetcher import Media
    from .._model.textview import Text


def _pick_encoder() -> Callable[[bytes], bytes]:
    """pybase64 (the `fast` extra) is a SIMD encoder, several times faster than the standard library's."""
    try:
        import pybase64
    except ImportError:  # pragma: no cover - depends on the environment
        import base64

        return base64.b64encode
    return pybase64.b64encode


_b64encode = _pick_encoder()

__all__ = ["Inlined", "Note", "Outgoing", "Refitted", "Routed", "build_outgoing", "encode_file", "encoded_size"]

CHUNK = 3 * 256 * 1024  # bytes read per step; a multiple of 3 so chunk encodings concatenate cleanly
# On an event loop many bodies stream at once (a proxy): smaller steps keep each stream's buffers small.
ASYNC_CHUNK = 3 * 64 * 1024


def encoded_size(size: int) -> int:
    return -(-size // 3) * 4


@dataclass(frozen=True, slots=True)
class _Inline:
    """A downloaded video, sent as base64 from its spooled file."""

    media: Media

    @property
    def size(self) -> int:
        return encoded_size(self.media.size)

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        with self.media.open() as fh:
            yield from encode_file(fh, size)


@redacted(source=sized)
@dataclass(frozen=True, slots=True)
class _Copy:
    """A span copied as it is: bytes of a request body (a string literal the parser set aside), or the ASCII
    characters of a string (a data URL's base64 payload), in chunks."""

    source: Body | Text
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        for at in range(self.start, self.end, size):
            stop = min(at + size, self.end)
            if isinstance(self.source, Body):
                yield self.source.read(at, stop - at)
            else:
                yield self.source[at:stop].encode("latin-1")


_Piece = bytes | _Inline | _Copy


@redacted(url=short_url)
@dataclass(frozen=True, slots=True)
class Inlined:
    """A URL the rewrite downloaded and sent inline (or, in a dry run, would)."""

    pointer: str  # the part
    url: str  # as the caller wrote it (signatures, credentials): shown through ``shorten``
    size: int | None  # bytes of video sent; None in a dry run
    cap: int  # the most the download was allowed to be
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class Routed:
    """The providers the rewrite pinned in ``provider.only``."""

    providers: tuple[str, ...]


@redacted(text=scrubbed)
@dataclass(frozen=True, slots=True)
class Refitted:
    """What fitting did to one part's video, in the engine's words (``re-encoded 540p 15 fps ...: A -> B``)."""

    pointer: str
    text: str


Note = Inlined | Routed | Refitted  # what the rewrite did, as data: the CLI, the log and the proxy render it


class Outgoing:
    """The rewritten request. ``iter_bytes`` streams it with flat memory; ``to_dict`` materialises it."""

    def __init__(self, pieces: Sequence[_Piece]) -> None:
        self._pieces = [p for p in pieces if not isinstance(p, bytes) or p]
        self.notes: list[Note] = []  # what the rewrite did (rendered by output.describe), never on the wire
        self.diagnostics: list[Diagnostic] = []  # the warnings the rewrite fixed
        self.providers: list[str] | None = None  # provider.only as sent (None: routing left alone)

    def __repr__(self) -> str:
        """What was done and how big it is, never the body (it holds the request's videos and words)."""
        return f"Outgoing(content_length={self.content_length}, notes={self.notes!r}, providers={self.providers!r})"

    @property
    def inlined(self) -> list[Media]:
        return [p.media for p in self._pieces if isinstance(p, _Inline)]

    @property
    def content_length(self) -> int:
        return sum(len(p) if isinstance(p, bytes) else p.size for p in self._pieces)

    def iter_bytes(self) -> Iterator[bytes]:
        for piece in self._pieces:
            if isinstance(piece, bytes):
                yield piece
            else:
                yield from piece.chunks()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The same bytes for event loops: file reads and base64 run in a worker thread, chunk by chunk."""
        import asyncio  # only async callers pay for it: `import router` stays light

        for piece in self._pieces:
            if isinstance(piece, bytes):
                yield piece
                continue
            chunks = piece.chunks(ASYNC_CHUNK)
            while (chunk := await asyncio.to_thread(next, chunks, b"")) != b"":
                yield chunk

    def to_dict(self) -> dict[str, Any]:
        """A new request object, nothing shared with the caller's."""
        result: dict[str, Any] = json.loads(b"".join(self.iter_bytes()))
        return result

    def write_to(self, fp: IO[bytes]) -> int:
        written = 0
        for chunk in self.iter_bytes():
            fp.write(chunk)
            written += len(chunk)
        return written


def encode_file(fh: IO[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """Base64 of a file in 3-byte-aligned chunks (``size`` a multiple of 3): the pieces concatenate into one
    valid encoding."""
    while chunk := fh.read(size):
        yield _b64encode(chunk)


# -- edits ----------------------------------------------------------------------------------------------


@redacted(pieces=sized)
@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    pieces: tuple[str | _Piece, ...]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _source(payload: Payload) -> str:
    """The JSON text the request was read from; a request given as a dict is written out once."""
    if payload.text is not None:
        return payload.text
    # ensure_ascii: a lone surrogate in a str (legal as a JSON escape) can only travel as a \u escape.
    return json.dumps(payload.request, separators=(",", ":"), allow_nan=False)


def _part_edits(
    text: str, prefix: str, facts: PartFacts, action: str, media: Mapping[str, Sequence[Media]]
) -> list[_Edit]:
    part = facts.part
    at = locate(text, prefix + part.pointer)
    inline = action == "inline" and part.pointer in media  # a dry run inlines nothing it would download
    if inline and len(media[part.pointer]) > 1:  # split: one part becomes several
        return [_Edit(at, skip_value(text, at), _split_parts(part.api, media[part.pointer]))]
    edits = [_Edit(a, b, ('"video_url"',)) for a, b in key_spans(text, at, part.key)] if part.key != "video_url" else []
    wire_type = WIRE_TYPE[part.api]
    if part.type is None:
        edits.append(_Edit(at + 1, at + 1, (f'"type":"{wire_type}",',)))
    elif part.type != wire_type:
        edits.append(_Edit(*value_span(text, f"{prefix}{part.pointer}/type"), (f'"{wire_type}"',)))
    span = value_span(text, prefix + part.url_pointer)
    if inline:
        (got,) = media[part.pointer]
        edits.append(_Edit(*span, (f'"data:{got.mime};base64,', _Inline(got), '"')))
    elif facts.send_mime and facts.data is not None:
        data = facts.data
        edits.append(_Edit(*span, (f'"data:{facts.send_mime};base64,', _payload(data.source, data.start), '"')))
    elif (yt := facts.info.canonical_youtube) and yt != part.url:
        edits.append(_Edit(*span, (_dumps(yt),)))
    elif facts.url != part.url and part.source is None:
        edits.append(_Edit(*span, (_dumps(facts.url),)))
    return edits


def _split_parts(api: Api, videos: Sequence[Media]) -> tuple[str | _Piece, ...]:
    """Consecutive video parts in place of one (a video split to fit the route), in the API's own shape."""
    pieces: list[str | _Piece] = []
    for i, got in enumerate(videos):
        head = f'{"," if i else ""}{{"type":"{WIRE_TYPE[api]}","video_url":'
        pieces += [head + ('"' if api == "responses" else '{"url":"') + f"data:{got.mime};base64,", _Inline(got)]
        pieces.append('"}' if api == "responses" else '"}}')
    return tuple(pieces)


def _payload(source: Text, start: int) -> _Piece:
    if isinstance(source, HoleText):  # straight from the body's bytes
        return _Copy(source.body, *source.region(start, len(source)))
    return _Copy(source, start, len(source))


def _routing_edits(text: str, prefix: str, request: Mapping[str, Any], plan: RoutePlan) -> list[_Edit]:
    if plan.providers is None:
        return []
    wanted: dict[str, list[str]] = {"only": list(plan.providers)}
    if plan.order is not None:
        wanted["order"] = list(plan.order)
    prefs = request.get("provider")
    if not isinstance(prefs, Mapping):
        root = locate(text, prefix)
        return [_Edit(root + 1, root + 1, (f'"provider":{_dumps(wanted)},',))]
    edits, inserted = [], []
    for key, value in wanted.items():
        if key in prefs:
            edits.append(_Edit(*value_span(text, f"{prefix}/provider/{escape(key)}"), (_dumps(value),)))
        else:
            inserted.append(f"{_dumps(key)}:{_dumps(value)}")
    if inserted:
        opening = locate(text, f"{prefix}/provider") + 1
        edits.append(_Edit(opening, opening, (",".join(inserted) + ("," if prefs else ""),)))
    return edits


def build_outgoing(
    payload: Payload,
    checked: Checked,
    plan: RoutePlan,
    media: Mapping[str, Sequence[Media]],
) -> Outgoing:
    """Apply the plan to the request's text: inline the parts ``media`` holds videos for, normalise keys, types,
    MIME names and YouTube links, set ``provider.only``. A part planned inline without media (a dry run) stays
    as written."""
    assert checked.request is not None
    text, prefix = _source(payload), payload.prefix
    edits: list[_Edit] = []
    for facts in checked.parts:
        action = plan.actions.get(facts.part.pointer)
        if action is not None:
            edits += _part_edits(text, prefix, facts, action, media)
    edits += _routing_edits(text, prefix, checked.request, plan)
    edits.sort(key=lambda e: (e.start, e.end))
    start, end = value_span(text, prefix)
    holes = _hole_finder(payload)
    pieces: list[_Piece] = []
    for edit in edits:
        assert edit.start >= start, "edits never overlap"
        pieces += holes(text[start : edit.start])
        pieces += [p.encode() if isinstance(p, str) else p for p in edit.pieces]
        start = edit.end
    pieces += holes(text[start:end])
    return Outgoing(pieces)


def _hole_finder(payload: Payload) -> Callable[[str], list[_Piece]]:
    """Text to pieces, with each token of a string set aside by the parser replaced by the body's bytes."""
    if not payload.holes:
        return lambda text: [text.encode()]
    pattern = re.compile("|".join(re.escape(f'"{token}"') for token in payload.holes))

    def split(text: str) -> list[_Piece]:
        pieces: list[_Piece] = []
        at = 0
        for m in pattern.finditer(text):
            hole = payload.holes[m.group()[1:-1]]
            pieces += [text[at : m.start()].encode(), _Copy(hole.body, hole.start, hole.end)]
            at = m.end()
        pieces.append(text[at:].encode())
        return pieces

    return split
