"""``router check --fix``: targeted text edits for the rules whose fix needs no network.

Edits replace only the located token (a key's string literal, a data URL's type name), so indentation, key
order, escapes and line endings of the rest of the file survive; every edit is verified against the parsed
document first.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._base.redact import redacted, sized
from .._base.rules import RULES, Diagnostic
from .._model.audio import canonical_format
from .._model.image import canonical_image_mime
from .._model.jsontext import key_spans, locate, value_span
from .._model.media import canonical_mime
from .._model.parts import CAMEL

__all__ = ["FIXABLE", "Edit", "apply_fixes", "unified_diff"]

# A line break in a JSON string (``\n``, ``\r``, ``\u000a``...) goes; any other escape (group 1) stays as written.
_LINE_BREAK = re.compile(r"(\\[^nru]|\\u(?!000[aAdD]))|\\(?:[nr]|u000[aAdD])")
FIXABLE = frozenset(name for name, rule in RULES.items() if "fix" in rule.fixed_by)

_DECODER = json.JSONDecoder()
_LINES = re.compile(r"[^\n]*\n|[^\n]+$")  # split on \n only: U+2028 inside a JSON string is not a line break


@redacted(text=sized)
@dataclass(frozen=True, slots=True)
class Edit:
    start: int
    end: int
    text: str


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _resolve(doc: Any, pointer: str) -> Any:
    for token in (_unescape(t) for t in pointer.split("/")[1:]) if pointer else ():
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            raise LookupError(pointer)
    return doc


def _rename(text: str, doc: Any, d: Diagnostic) -> list[Edit] | None:
    """``videoUrl`` -> ``video_url`` (``imageUrl``, ``inputAudio`` likewise): the key's string literal only."""
    parent, _, last = d.pointer.rpartition("/")
    old = _unescape(last)
    if old not in CAMEL:
        return None
    new = CAMEL[old]
    try:
        holder = _resolve(doc, parent)
        offset = locate(text, parent)
        placed, _ = _DECODER.raw_decode(text, offset)
    except (LookupError, json.JSONDecodeError):
        return None
    # locate() falls back to an ancestor when a step is missing: insist it found this very object.
    if not isinstance(holder, dict) or placed != holder or new in holder:
        return None
    return [Edit(s, e, json.dumps(new)) for s, e in key_spans(text, offset, old)]


def _data_url(text: str, doc: Any, d: Diagnostic) -> tuple[str, int, int, int] | None:
    """The data URL the pointer names, and where its string literal starts, has its first comma, and ends."""
    try:
        value = _resolve(doc, d.pointer)
        start, end = value_span(text, d.pointer)
    except LookupError:
        return None
    comma = text.find(",", start, end)
    if not isinstance(value, str) or "," not in value or comma < 0:
        return None
    return value, start, comma, end


def _header(text: str, doc: Any, d: Diagnostic) -> list[Edit] | None:
    """``data:video/quicktime;codecs="hvc1";base64,`` -> ``data:video/mov;base64,``: only the header changes (an
    audio ``format`` spelt otherwise, ``audio/wav`` or ``WAV``, is written ``wav``)."""
    if d.kind == "audio":
        return _format(text, doc, d)
    found = _data_url(text, doc, d)
    if found is None:
        return None
    value, start, comma, _ = found
    header = value.split(",", 1)[0]
    # The literal's text up to its first comma must be this very header (no escaped comma before it).
    if json.loads(text[start:comma] + '"') != header:
        return None
    name = canonical_image_mime(header[5:]) if d.kind == "image" else canonical_mime(header[5:])
    return [Edit(start + 1, comma, f"data:{name};base64")]


def _format(text: str, doc: Any, d: Diagnostic) -> list[Edit] | None:
    try:
        value = _resolve(doc, d.pointer)
        start, end = value_span(text, d.pointer)
    except LookupError:
        return None
    name = canonical_format(value) if isinstance(value, str) else None
    if name is None or json.loads(text[start:end]) != value:
        return None
    return [Edit(start, end, json.dumps(name))]


def _unwrap(text: str, doc: Any, d: Diagnostic) -> list[Edit] | None:
    """The base64 of a data URL (or an audio part's bare base64) on one line: its line-break escapes go, every other
    character stays."""
    try:
        value = _resolve(doc, d.pointer)
        start, end = value_span(text, d.pointer)
    except LookupError:
        return None
    if not isinstance(value, str):
        return None
    comma = text.find(",", start, end) if value[:5].lower() == "data:" else start
    if comma < 0:
        return None
    payload = _LINE_BREAK.sub(r"\1", text[comma + 1 : end - 1])
    bare = value.split(",", 1)[1] if comma != start else value
    if json.loads(f'"{payload}"') != bare.replace("\n", "").replace("\r", ""):
        return None
    return [Edit(comma + 1, end - 1, payload)]


def _part_type(text: str, doc: Any, d: Diagnostic) -> list[Edit] | None:
    """``"type": "input_video"`` -> ``"type": "video_url"`` in a chat content part."""
    try:
        value = _resolve(doc, d.pointer)
        start, end = value_span(text, d.pointer)
    except LookupError:
        return None
    if value != "input_video" or json.loads(text[start:end]) != value:
        return None
    return [Edit(start, end, '"video_url"')]


_FIXERS = {"camelcase-key": _rename, "mime-alias": _header, "legacy-video-part": _part_type, "wrapped-base64": _unwrap}
assert set(_FIXERS) == FIXABLE, "every rule fixed by `--fix` has a fixer"


def _edits(text: str, diagnostics: Iterable[Diagnostic]) -> tuple[list[Edit], int] | None:
    """Edits for the fixable diagnostics of one JSON document, or None when one cannot be placed safely."""
    wanted = [d for d in diagnostics if d.rule in FIXABLE]
    if not wanted:
        return [], 0
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None
    edits: dict[int, Edit] = {}
    for d in wanted:
        found = _FIXERS[d.rule](text, doc, d)
        if found is None:
            return None
        edits.update((e.start, e) for e in found)
    return sorted(edits.values(), key=lambda e: e.start), len(wanted)


def _apply(text: str, edits: Sequence[Edit]) -> str:
    for edit in reversed(edits):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def apply_fixes(text: str, diagnostics: Sequence[Diagnostic], *, jsonl: bool) -> tuple[str, int] | None:
    """``text`` (the file as read, line endings intact) with the fixable diagnostics fixed, and how many.

    None when a fix cannot be placed with certainty; the caller then leaves the file alone and says so.
    JSONL diagnostics carry their line number, and each line is edited on its own.
    """
    if not jsonl:
        found = _edits(text, diagnostics)
        return None if found is None else (_apply(text, found[0]), found[1])
    lines = text.split("\n")
    by_line: dict[int, list[Diagnostic]] = {}
    for d in diagnostics:
        if d.rule in FIXABLE and d.line is not None:
            by_line.setdefault(d.line - 1, []).append(d)
    fixed = 0
    for number, diags in by_line.items():
        if number >= len(lines):
            return None
        found = _edits(lines[number], diags)
        if found is None:
            return None
        lines[number] = _apply(lines[number], found[0])
        fixed += found[1]
    return "\n".join(lines), fixed


def unified_diff(name: str, before: str, after: str) -> str:
    """A ``diff -u`` of one file, with git's marker where a file lacks its final newline."""
    lines = difflib.unified_diff(_LINES.findall(before), _LINES.findall(after), fromfile=name, tofile=name)
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
