"""Route plan + downloaded media -> the outgoing request: the caller's own JSON text, edited where it must be.

Only the spans the plan changes are rewritten (a media URL, a key, a part's type, ``provider.only``: see
``edits.py``); every other byte goes out as the caller wrote it, so number text such as ``1e400``, key order and
escapes keep their meaning. Inlined media is never held as one big string: its base64 is produced from the spooled
file in 3-byte-aligned chunks, and what the client inlined itself is copied out of its body (``pieces.py``), so
memory stays flat and the ``Content-Length`` is known exactly before the first byte is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from .._base.redact import redacted, scrubbed, short_url
from .._base.rules import Diagnostic
from .._judgement.check import Checked
from .._judgement.plan import RoutePlan
from .._model.jsontext import value_span
from .._model.request import Payload
from .edits import Edit, part_edits, routing_edits
from .pieces import ASYNC_CHUNK, Copy, Inline, Piece

if TYPE_CHECKING:
    from .._fetch.fetcher import Media


__all__ = ["Inlined", "Note", "Outgoing", "Refitted", "Routed", "build_outgoing"]


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

    def __init__(self, pieces: Sequence[Piece]) -> None:
        self._pieces = [p for p in pieces if not isinstance(p, bytes) or p]
        self.notes: list[Note] = []  # what the rewrite did (rendered by output.describe), never on the wire
        self.diagnostics: list[Diagnostic] = []  # the warnings the rewrite fixed
        self.providers: list[str] | None = None  # provider.only as sent (None: routing left alone)

    def __repr__(self) -> str:
        """What was done and how big it is, never the body (it holds the request's videos and words)."""
        return f"Outgoing(content_length={self.content_length}, notes={self.notes!r}, providers={self.providers!r})"

    @property
    def inlined(self) -> list[Media]:
        return [p.media for p in self._pieces if isinstance(p, Inline)]

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


def _source(payload: Payload) -> str:
    """The JSON text the request was read from; a request given as a dict is written out once."""
    if payload.text is not None:
        return payload.text
    # ensure_ascii: a lone surrogate in a str (legal as a JSON escape) can only travel as a \u escape.
    return json.dumps(payload.request, separators=(",", ":"), allow_nan=False)


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
    edits: list[Edit] = []
    for facts in checked.parts:
        action = plan.actions.get(facts.part.pointer)
        if action is not None:
            edits += part_edits(text, prefix, facts, action, media)
    edits += routing_edits(text, prefix, checked.request, plan)
    edits.sort(key=lambda e: (e.start, e.end))
    start, end = value_span(text, prefix) if prefix else _whole(text)
    holes = _hole_finder(payload)
    pieces: list[Piece] = []
    for edit in edits:
        assert edit.start >= start, "edits never overlap"
        pieces += holes(text[start : edit.start])
        pieces += [p.encode() if isinstance(p, str) else p for p in edit.pieces]
        start = edit.end
    pieces += holes(text[start:end])
    return Outgoing(pieces)


def _whole(text: str) -> tuple[int, int]:
    """The span of the one JSON value a parsed text is, without walking it: only whitespace is around it."""
    return len(text) - len(text.lstrip(_JSON_SPACE)), len(text.rstrip(_JSON_SPACE))


_JSON_SPACE = " \t\n\r"


def _hole_finder(payload: Payload) -> Callable[[str], list[Piece]]:
    """Text to pieces, with each token of a string set aside by the parser replaced by the body's bytes."""
    if not payload.holes:
        return lambda text: [text.encode()]
    pattern = re.compile("|".join(re.escape(f'"{token}"') for token in payload.holes))

    def split(text: str) -> list[Piece]:
        pieces: list[Piece] = []
        at = 0
        for m in pattern.finditer(text):
            hole = payload.holes[m.group()[1:-1]]
            pieces += [text[at : m.start()].encode(), Copy(hole.body, hole.start, hole.end)]
            at = m.end()
        pieces.append(text[at:].encode())
        return pieces

    return split
