"""JSON text as the caller wrote it: find values by JSON pointer, and set big strings aside.

The rewrite edits the request's own text at the spans it changes and copies everything else byte for byte:
number text (``1e400``, ``1.0``), key order, escapes and spacing reach the upstream as written. Walking the
text never decodes the values it skips, so an 80 MB data URL beside the pointer costs no copy.

A body from the wire can hold videos a client inlined itself; ``skeleton`` replaces every string literal of
``BIG`` bytes or more with a short token, so ``json.loads`` builds the request without them, and each token
names the span of the body it stands for (a ``Hole``). A hole is read from the body when it is asked for, also
through the escapes base64 picks up on its way into JSON (``\\/``, ``\\n`` of a wrapped payload).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING

from .textview import Filtered

if TYPE_CHECKING:
    from .body import Body

__all__ = ["BIG", "Hole", "HoleText", "key_spans", "locate", "skeleton", "skip_value", "value_span"]

BIG = 64 * 1024  # bytes: string literals from this size up are set aside by ``skeleton``
_WS = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_SCALAR = re.compile(r"[^\s,:\]}\[{\"]+")


def _ws(text: str, idx: int) -> int:
    return _WS.match(text, idx).end()  # type: ignore[union-attr]


def skip_value(text: str, idx: int) -> int:
    """The offset just past the JSON value that starts at ``idx``, without decoding it (no copies)."""
    depth = 0
    while True:
        idx = _ws(text, idx)
        c = text[idx : idx + 1]
        if c == '"':
            m = _STRING.match(text, idx)
            if m is None:
                raise ValueError(f"unterminated string at {idx}")
            idx = m.end()
        elif c in ("{", "["):
            depth += 1
            idx += 1
            continue
        elif c in ("}", "]"):
            depth -= 1
            idx += 1
        elif c in (",", ":") and depth:
            idx += 1
            continue
        elif c == "":
            raise ValueError("unexpected end of text")
        else:
            m = _SCALAR.match(text, idx)
            if m is None:
                raise ValueError(f"unexpected {c!r} at {idx}")
            idx = m.end()
        if depth == 0:
            return idx


def _members(text: str, start: int) -> Iterator[tuple[str | int, int, int]]:
    """(key or index, key offset, value offset) of each member of the object or array opening at ``start``."""
    opener = text[start]
    idx, position = start + 1, 0
    while True:
        idx = _ws(text, idx)
        if text[idx : idx + 1] in ("}", "]", ""):
            return
        if opener == "{":
            key_at = idx
            key, idx = scanstring(text, idx + 1)
            idx = _ws(text, _ws(text, idx) + 1)  # past ':'
            yield key, key_at, idx
        else:
            yield position, idx, idx
            position += 1
        idx = _ws(text, skip_value(text, idx))
        if text[idx : idx + 1] == ",":
            idx += 1


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]] if pointer else []


def _find(text: str, pointer: str) -> tuple[int, bool]:
    """Offset of the value at ``pointer`` (or of its deepest existing ancestor), and whether it was found."""
    idx = _ws(text, 0)
    for token in _tokens(pointer):
        if text[idx : idx + 1] not in ("{", "["):
            return idx, False
        found = None
        try:
            for key, _, at in _members(text, idx):
                if str(key) == token:
                    found = at  # and read on: the parser keeps the last of duplicate keys
                    if text[idx] == "[":
                        break
        except (ValueError, IndexError):
            pass
        if found is None:
            return idx, False
        idx = found
    return idx, True


def locate(text: str, pointer: str) -> int:
    """Character offset of the value at ``pointer`` (or of its deepest existing ancestor)."""
    return _find(text, pointer)[0]


def value_span(text: str, pointer: str) -> tuple[int, int]:
    """``(start, end)`` of the value at ``pointer``; ``LookupError`` when it is not there."""
    start, found = _find(text, pointer)
    if not found:
        raise LookupError(pointer)
    return start, skip_value(text, start)


def key_spans(text: str, start: int, key: str) -> list[tuple[int, int]]:
    """Spans of the string literals naming ``key`` in the object that opens at ``start`` (duplicates too)."""
    spans = []
    for name, key_at, _ in _members(text, start):
        if name == key:
            spans.append((key_at, _STRING.match(text, key_at).end()))  # type: ignore[union-attr]
    return spans


# -- big strings set aside -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hole:
    """A string literal of the body, ``[start, end)`` in bytes, quotes included."""

    body: Body
    start: int
    end: int
    escaped: bool  # holds a backslash escape: its text must be decoded to be read

    def text(self) -> HoleText | Filtered | str:
        """The string's value, read lazily from the body: through its escapes when it is ASCII (a data URL with
        ``\\/`` or the ``\\n`` of wrapped base64 is never decoded whole), else decoded whole."""
        raw = HoleText(self.body, self.start + 1, self.end - 1)
        if not self.escaped:
            return raw
        try:
            return Filtered(raw, _unescape, split=_whole_escapes)
        except ValueError:  # UTF-8 text: its bytes are not its characters
            value: str = json.loads(self.body.read(self.start, self.end - self.start))
            return value


def _unescape(run: str) -> str:
    """A run of a JSON string's ASCII text, decoded by the json module's own (C) string scanner."""
    if not run.isascii():
        raise ValueError("not ASCII")
    value, end = scanstring(run + '"', 0)
    if end != len(run) + 1:
        raise ValueError("a quote inside the string")
    return value  # type: ignore[no-any-return]


def _whole_escapes(block: str) -> int:
    """How much of a block ends between escapes: none is cut in two (``\\n``, ``\\\\``, ``\\u00e9``; blocks of six
    characters or more)."""
    last = block.rfind("\\", len(block) - 6)
    if last < 0:
        return len(block)
    run = 1
    while run <= last and block[last - run] == "\\":
        run += 1
    if run % 2 == 0:  # the last backslash ends a `\\` pair: no escape is open
        return len(block)
    length = 6 if block[last + 1 : last + 2] == "u" else 2
    return len(block) if last + length <= len(block) else last


class HoleText:
    """A string value that lives in a body: ``len`` and slicing, as ``str`` offers them, read on demand.

    Bytes map to characters one to one (latin-1): an unescaped string of ASCII, such as a base64 data URL,
    reads exactly; anything else shows up as characters no base64 alphabet has.
    """

    __slots__ = ("body", "start", "stop")

    def __init__(self, body: Body, start: int, stop: int) -> None:
        self.body, self.start, self.stop = body, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, key: slice, /) -> str:
        begin, end, step = key.indices(len(self))
        if step != 1:
            raise ValueError("HoleText takes contiguous slices only")
        return self.body.read(self.start + begin, max(0, end - begin)).decode("latin-1")

    def region(self, begin: int, end: int) -> tuple[int, int]:
        """Body offsets of the characters ``[begin, end)``."""
        return self.start + begin, self.start + end


_WINDOW = 1 << 20


class _Cursor:
    """Sequential reading through a body with a window, finding the next byte of a set."""

    def __init__(self, body: Body) -> None:
        self.body = body
        self.base = 0
        self.window = b""

    def _load(self, at: int) -> bool:
        if at >= self.body.size:
            return False
        self.base, self.window = at, self.body.read(at, _WINDOW)
        return True

    def byte(self, at: int) -> int:
        if not (self.base <= at < self.base + len(self.window)):
            self._load(at)
        return self.window[at - self.base]

    def find(self, at: int, needles: re.Pattern[bytes]) -> int:
        """Offset of the first byte matching ``needles`` at or after ``at`` (-1: none)."""
        while True:
            if not (self.base <= at < self.base + len(self.window)) and not self._load(at):
                return -1
            m = needles.search(self.window, at - self.base)
            if m is not None:
                return self.base + m.start()
            at = self.base + len(self.window)
            if not self._load(at):
                return -1


_QUOTE = re.compile(rb'"')
_BACKSLASH = re.compile(rb"\\")


def skeleton(body: Body, big: int = BIG) -> tuple[bytes, dict[str, Hole]]:
    """The body with every string literal of ``big`` bytes or more replaced by a token, and the tokens.

    Only quotes are looked for (one escaped when an odd run of backslashes stands before it), and backslashes
    by a second cursor that only ever moves forward, so a body of a few large strings costs a few window
    reads, however many escapes they hold (base64 wrapped in lines has one every 77 characters). Text that is
    not JSON comes back as it is, for the parser to report.
    """
    import secrets  # only bodies with big strings get here: `import router` stays light

    nonce = secrets.token_hex(6)
    cursor, slashes = _Cursor(body), _Cursor(body)
    pieces: list[bytes] = []
    holes: dict[str, Hole] = {}
    copied = at = 0
    backslash = 0  # the first backslash at or after the string being read (-1: there is none)
    while (start := cursor.find(at, _QUOTE)) >= 0:
        end = start + 1
        while True:
            end = cursor.find(end, _QUOTE)
            if end < 0:  # unterminated: leave the rest to the parser
                pieces.append(body.read(copied, body.size - copied))
                return b"".join(pieces), holes
            run = 0
            while end - run - 1 > start and cursor.byte(end - run - 1) == 0x5C:
                run += 1
            end += 1
            if run % 2 == 0:
                break
        if 0 <= backslash <= start:
            backslash = slashes.find(start + 1, _BACKSLASH)
        if end - start >= big:
            token = f"@@router-hole-{len(holes)}-{nonce}@@"
            pieces += [body.read(copied, start - copied), f'"{token}"'.encode()]
            holes[token] = Hole(body, start, end, start < backslash < end)
            copied = end
        at = end
    pieces.append(body.read(copied, body.size - copied))
    return b"".join(pieces), holes
