"""Parse payloads (dict, JSON, JSONL, OpenAI batch lines) and locate every video part in them.

Positions are computed lazily from the original text, only for the pointers a diagnostic names, by
walking the JSON with the C decoder skipping every value off the path: parsing stays one ``json.loads``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

from .rules import Diagnostic

__all__ = ["Payload", "VideoPart", "escape", "find_video_parts", "load_text", "locate", "read_path"]

VIDEO_KEYS = ("video_url", "videoUrl")
VIDEO_TYPES = ("video_url", "input_video", "videoUrl")
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True, slots=True)
class VideoPart:
    """One video content part: where it sits and what it points at (``url`` None when malformed)."""

    pointer: str  # the part object, e.g. /messages/0/content/1
    key: str  # the key holding {url: ...}: video_url or videoUrl
    url: str | None

    @property
    def url_pointer(self) -> str:
        return f"{self.pointer}/{self.key}/url"


@dataclass(slots=True)
class Payload:
    """One request as read from somewhere, with enough context to put line numbers on diagnostics."""

    request: Any  # the chat-completion object (None when the text was not JSON)
    file: str | None = None
    text: str | None = None  # the JSON text this request was parsed from (one line for JSONL)
    line_offset: int = 0  # lines before ``text`` in the file (JSONL)
    prefix: str = ""  # pointer of the request inside the document (``/body`` for batch lines)
    problems: list[Diagnostic] = field(default_factory=list)

    def place(self, diagnostic: Diagnostic) -> Diagnostic:
        """Fill in file, line and column for a diagnostic whose pointer is relative to the request."""
        diagnostic.file = self.file
        diagnostic.pointer = self.prefix + diagnostic.pointer
        if self.text is not None and diagnostic.line is None:
            offset = locate(self.text, diagnostic.pointer)
            diagnostic.line = self.text.count("\n", 0, offset) + 1 + self.line_offset
            diagnostic.column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return diagnostic


def locate(text: str, pointer: str) -> int:
    """Character offset of the value at ``pointer`` (or of its deepest existing ancestor)."""
    idx = _WS.match(text, 0).end()  # type: ignore[union-attr]
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]] if pointer else []
    for token in tokens:
        opener = text[idx : idx + 1]
        if opener not in ("{", "["):
            return idx
        start, idx, position = idx, idx + 1, 0
        found = False
        while True:
            idx = _WS.match(text, idx).end()  # type: ignore[union-attr]
            if text[idx : idx + 1] in ("}", "]", ""):
                break
            if opener == "{":
                key, idx = scanstring(text, idx + 1)
                idx = _WS.match(text, idx).end() + 1  # type: ignore[union-attr]  # past ':'
                idx = _WS.match(text, idx).end()  # type: ignore[union-attr]
                hit = key == token
            else:
                hit = str(position) == token
                position += 1
            if hit:
                found = True
                break
            try:
                _, idx = _DECODER.raw_decode(text, idx)
            except json.JSONDecodeError:
                return start
            idx = _WS.match(text, idx).end()  # type: ignore[union-attr]
            if text[idx : idx + 1] == ",":
                idx += 1
        if not found:
            return start
    return idx


def _json_error(exc: json.JSONDecodeError, file: str | None, line_offset: int = 0) -> Diagnostic:
    return Diagnostic(
        "invalid-json", f"not valid JSON: {exc.msg}", file=file, line=exc.lineno + line_offset, column=exc.colno
    )


def load_text(text: str, file: str | None = None, *, jsonl: bool | None = None) -> list[Payload]:
    """Parse JSON or JSONL text into payloads; syntax errors become ``invalid-json`` payloads."""
    if jsonl is None:
        jsonl = file is not None and file.endswith(".jsonl")
    if not jsonl:
        try:
            return [_payload(json.loads(text), file, text, 0)]
        except json.JSONDecodeError as exc:
            return [Payload(None, file, text, problems=[_json_error(exc, file)])]
    payloads = []
    # Split on "\n" only: str.splitlines() would also split on U+2028 inside a valid JSON string.
    for number, line in enumerate(text.split("\n")):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            payloads.append(_payload(json.loads(line), file, line, number))
        except json.JSONDecodeError as exc:
            payloads.append(Payload(None, file, line, number, problems=[_json_error(exc, file, number)]))
    return payloads


def _payload(obj: Any, file: str | None, text: str | None, line_offset: int) -> Payload:
    # OpenAI batch lines carry the request under `body` next to `custom_id`, `method` and `url`.
    if isinstance(obj, Mapping) and "messages" not in obj and isinstance(obj.get("body"), Mapping):
        return Payload(obj["body"], file, text, line_offset, "/body")
    return Payload(obj, file, text, line_offset)


def read_path(path: Path) -> list[Payload]:
    """Read a .json or .jsonl file (``-`` is stdin); I/O errors propagate as OSError for the CLI."""
    text = path.read_text(encoding="utf-8-sig")
    return load_text(text, str(path), jsonl=path.suffix == ".jsonl")


def find_video_parts(request: Mapping[str, Any], problems: list[Diagnostic]) -> Iterator[VideoPart]:
    """Yield every video part; structural problems go to ``problems`` as ``invalid-request``."""
    messages = request.get("messages")
    if not isinstance(messages, list):
        problems.append(Diagnostic("invalid-request", "the request has no `messages` list", pointer=""))
        return
    for m, message in enumerate(messages):
        if not isinstance(message, Mapping):
            problems.append(Diagnostic("invalid-request", "a message must be an object", pointer=f"/messages/{m}"))
            continue
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            problems.append(
                Diagnostic(
                    "invalid-request", "`content` must be a string or a list of parts", pointer=f"/messages/{m}/content"
                )
            )
            continue
        for p, part in enumerate(content):
            pointer = f"/messages/{m}/content/{p}"
            if not isinstance(part, Mapping):
                problems.append(Diagnostic("invalid-request", "a content part must be an object", pointer=pointer))
                continue
            key = next((k for k in VIDEO_KEYS if k in part), None)
            if part.get("type") not in VIDEO_TYPES and key is None:
                continue
            if key is None:
                problems.append(
                    Diagnostic(
                        "invalid-request",
                        f"a `{part.get('type')}` part has no `video_url` object",
                        pointer=pointer,
                        fix='Add `"video_url": {"url": ...}` to the part.',
                    )
                )
                continue
            holder = part[key]
            url = holder.get("url") if isinstance(holder, Mapping) else None
            if not isinstance(url, str):
                problems.append(
                    Diagnostic(
                        "invalid-request",
                        f"`{key}` must be an object with a string `url`",
                        pointer=f"{pointer}/{key}",
                        fix=f'Write `"{key}": {{"url": "https://..."}}`.',
                    )
                )
                continue
            yield VideoPart(pointer, key, url)
