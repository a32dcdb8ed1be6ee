"""Route plan + downloaded media -> the outgoing request, as a dict or as a streamed JSON body.

Inlined videos are never held as one big string: the body is JSON text around each video, and the video's
base64 is produced from its spooled file in 3-byte-aligned chunks, so memory stays flat and the
``Content-Length`` is known exactly before the first byte is sent.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from .check import Checked
from .plan import RoutePlan
from .rules import Diagnostic

if TYPE_CHECKING:
    from .fetch import Media


def _pick_encoder() -> Callable[[bytes], bytes]:
    """pybase64 (the `fast` extra) is a SIMD encoder, several times faster than the standard library's."""
    try:
        import pybase64
    except ImportError:  # pragma: no cover - depends on the environment
        import base64

        return base64.b64encode
    return pybase64.b64encode


_b64encode = _pick_encoder()

__all__ = ["Outgoing", "build_outgoing", "encode_file", "encoded_size"]

CHUNK = 3 * 256 * 1024  # bytes read per step; a multiple of 3 so chunk encodings concatenate cleanly


def encoded_size(size: int) -> int:
    return -(-size // 3) * 4


@dataclass(frozen=True, slots=True)
class _Inline:
    token: str
    media: Media

    @property
    def header(self) -> bytes:
        return f"data:{self.media.mime};base64,".encode()

    def data_url(self) -> str:
        with self.media.open() as fh:
            return self.header.decode() + _b64encode(fh.read()).decode("ascii")


class Outgoing:
    """The rewritten request. ``to_dict`` materialises it; ``iter_bytes`` streams it with flat memory."""

    def __init__(self, request: dict[str, Any], inlines: Sequence[_Inline]) -> None:
        self._request = request
        self._inlines = list(inlines)
        self.notes: list[str] = []  # what the rewrite did, for people (CLI stderr), never for the wire
        self.diagnostics: list[Diagnostic] = []  # the warnings the rewrite fixed
        self.providers: list[str] | None = None  # provider.only as sent (None: routing left alone)
        try:
            text = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
        except UnicodeEncodeError:  # a lone surrogate (legal as a JSON escape): only \u escapes can carry it
            text = json.dumps(request, separators=(",", ":")).encode()
        self._pieces: list[bytes | _Inline] = []
        for inline in self._inlines:
            head, _, text = text.partition(inline.token.encode())
            self._pieces += [head, inline]
        self._pieces.append(text)

    @property
    def inlined(self) -> list[Media]:
        return [i.media for i in self._inlines]

    def to_dict(self) -> dict[str, Any]:
        if not self._inlines:
            return self._request
        urls = {i.token: i.data_url() for i in self._inlines}
        replaced: dict[str, Any] = _replace_tokens(self._request, urls)
        return replaced

    @property
    def content_length(self) -> int:
        return sum(len(p) if isinstance(p, bytes) else len(p.header) + encoded_size(p.media.size) for p in self._pieces)

    def iter_bytes(self) -> Iterator[bytes]:
        for piece in self._pieces:
            if isinstance(piece, bytes):
                if piece:
                    yield piece
                continue
            yield piece.header
            with piece.media.open() as fh:
                yield from encode_file(fh)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        # Chunks come from a local spooled file (page cache): a read never blocks the loop for long.
        for chunk in self.iter_bytes():
            yield chunk

    def write_to(self, fp: IO[bytes]) -> int:
        written = 0
        for chunk in self.iter_bytes():
            fp.write(chunk)
            written += len(chunk)
        return written


def encode_file(fh: IO[bytes]) -> Iterator[bytes]:
    """Base64 of a file in 3-byte-aligned chunks: the pieces concatenate into one valid encoding."""
    while chunk := fh.read(CHUNK):
        yield _b64encode(chunk)


def _replace_tokens(node: Any, urls: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _replace_tokens(v, urls) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_tokens(v, urls) for v in node]
    if isinstance(node, str) and node in urls:
        return urls[node]
    return node


def _copy_path(root: dict[str, Any], pointer: str) -> dict[str, Any]:
    """Copy the containers along ``pointer`` (and only those) so edits never reach the caller's object."""
    node: Any = root
    for token in pointer.split("/")[1:]:
        key: Any = int(token) if isinstance(node, list) else token
        child = node[key]
        node[key] = dict(child) if isinstance(child, Mapping) else list(child)
        node = node[key]
    assert isinstance(node, dict)
    return node


def build_outgoing(checked: Checked, plan: RoutePlan, media: Mapping[str, Media], *, dry_run: bool = False) -> Outgoing:
    """Apply the plan: inline downloaded parts, normalise keys and YouTube links, set ``provider.only``.

    ``dry_run`` leaves the URLs that would be inlined in place (nothing was downloaded).
    """
    assert checked.request is not None
    out: dict[str, Any] = dict(checked.request)
    inlines = []
    for facts in checked.parts:
        ptr = facts.part.pointer
        action = plan.actions.get(ptr)
        if action is None:
            continue
        part = _copy_path(out, ptr)
        holder = dict(part.pop(facts.part.key))
        part.setdefault("type", "video_url")
        part["video_url"] = holder
        if action == "inline" and dry_run:
            pass
        elif action == "inline":
            inline = _Inline(f"@@router-inline-{secrets.token_hex(8)}@@", media[ptr])
            holder["url"] = inline.token
            inlines.append(inline)
        elif facts.info.canonical_youtube:
            holder["url"] = facts.info.canonical_youtube
    if plan.providers is not None:
        prefs = out.get("provider")
        prefs = dict(prefs) if isinstance(prefs, Mapping) else {}
        prefs["only"] = list(plan.providers)
        if plan.order is not None:
            prefs["order"] = list(plan.order)
        out["provider"] = prefs
    return Outgoing(out, inlines)
