"""Parse payloads (dict, JSON, JSONL, OpenAI batch lines, a body from the wire) into located requests.

Positions are computed lazily from the original text, only for the pointers a diagnostic names
(``jsontext.locate``): parsing stays one ``json.loads``. The text is kept, because the rewrite edits it in
place rather than serialising the request again. Where the media parts sit is ``parts.py``'s job.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._base.redact import redacted, sized
from .._base.rules import Diagnostic
from .jsontext import BIG, Hole, locate, skeleton
from .parts import Api, escape

if TYPE_CHECKING:
    from .body import Body

PayloadLike = Mapping[str, Any] | str | bytes | os.PathLike[str]

__all__ = [
    "STDIN",
    "Payload",
    "PayloadLike",
    "decode",
    "load_body",
    "load_bytes",
    "load_text",
    "read_path",
    "read_payloads",
    "universal_newlines",
    "unjsonable",
]

STDIN = "<stdin>"  # how standard input is named in diagnostics


@redacted(request=sized, text=sized)
@dataclass(slots=True)
class Payload:
    """One request as read from somewhere, with enough context to put line numbers on diagnostics."""

    request: Any  # the chat-completion object (None when the text was not JSON)
    file: str | None = None
    text: str | None = None  # the JSON text this request was parsed from (one line for JSONL)
    line_offset: int = 0  # lines before ``text`` in the file (JSONL)
    prefix: str = ""  # pointer of the request inside the document (``/body`` for batch lines)
    problems: list[Diagnostic] = field(default_factory=list)
    holes: dict[str, Hole] = field(default_factory=dict)  # tokens in ``text`` for big strings left in a body
    api: Api | None = None  # which API the request is for (None: tell by its shape, `messages` or `input`)

    def place(self, diagnostic: Diagnostic) -> Diagnostic:
        """A copy of a diagnostic whose pointer is relative to the request, with file, line and column.

        Positions need the text as written: with big strings set aside (``holes``) columns would be wrong, so
        such a body gets pointers only.
        """
        pointer = self.prefix + diagnostic.pointer
        line = column = None
        if self.text is not None and not self.holes:
            offset = locate(self.text, pointer)
            line = self.text.count("\n", 0, offset) + 1 + self.line_offset
            column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return dataclasses.replace(diagnostic, file=self.file, pointer=pointer, line=line, column=column)


class _NotJSON(ValueError):
    """Python's parser takes ``NaN`` and ``Infinity``; JSON (and the upstream) does not."""


def _no_constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not a JSON value")


# The first match of the group outside a string: where a bad token or number sits, for the error's position.
_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')
_LONG_NUMBER = re.compile(r'"(?:[^"\\]|\\.)*"|(\d{4301,})')


def _invalid(message: str, text: str, offset: int, file: str | None, line_offset: int) -> Diagnostic:
    line = text.count("\n", 0, offset) + 1 + line_offset
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Diagnostic("invalid-json", f"not valid JSON: {message}", file=file, line=line, column=column)


def _first(pattern: re.Pattern[str], text: str) -> int:
    return next((m.start(1) for m in pattern.finditer(text) if m.group(1)), 0)


def _parse(text: str, file: str | None, line_offset: int) -> Any:
    """``json.loads`` that turns every way a text can fail into an ``invalid-json`` diagnostic (returned)."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return _invalid(exc.msg, text, exc.pos, file, line_offset)
    except _NotJSON as exc:
        return _invalid(str(exc), text, _first(_CONSTANT, text), file, line_offset)
    except RecursionError:
        return _invalid("nested too deeply", text, 0, file, line_offset)
    except ValueError:  # Python's cap on integer digits (CVE-2020-10735)
        return _invalid("a number with more than 4300 digits", text, _first(_LONG_NUMBER, text), file, line_offset)


def _several_lines(text: str, problem: Diagnostic) -> bool:
    """A text that is JSON up to the end of a line and goes on with more: JSONL given without a name."""
    return problem.message.endswith("Extra data") and problem.column == 1 and (problem.line or 0) > 1


def load_text(text: str, file: str | None = None, *, jsonl: bool | None = None) -> list[Payload]:
    """Parse JSON or JSONL text into payloads; syntax errors become ``invalid-json`` payloads.

    ``jsonl`` None: by the file's suffix, and for text without one (stdin) by its shape.
    """
    named = file is not None and file.endswith((".json", ".jsonl"))
    if jsonl is None and named:
        jsonl = file is not None and file.endswith(".jsonl")
    if not jsonl:
        parsed = _parse(text, file, 0)
        if not isinstance(parsed, Diagnostic):
            return [_payload(parsed, file, text, 0)]
        if jsonl is not None or not _several_lines(text, parsed):
            return [Payload(None, file, text, problems=[parsed])]
    payloads = []
    # Split on "\n" only: str.splitlines() would also split on U+2028 inside a valid JSON string.
    for number, line in enumerate(text.split("\n")):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        parsed = _parse(line, file, number)
        if isinstance(parsed, Diagnostic):
            payloads.append(Payload(None, file, line, number, problems=[parsed]))
        else:
            payloads.append(_payload(parsed, file, line, number))
    return payloads


def _payload(obj: Any, file: str | None, text: str | None, line_offset: int) -> Payload:
    # OpenAI batch lines carry the request under `body` next to `custom_id`, `method` and `url`.
    if isinstance(obj, Mapping) and "messages" not in obj and isinstance(obj.get("body"), Mapping):
        url = obj.get("url")
        api: Api | None = None
        if isinstance(url, str):
            api = "responses" if url.rstrip("/").endswith("/responses") else "chat" if "completions" in url else None
        return Payload(obj["body"], file, text, line_offset, "/body", api=api)
    return Payload(obj, file, text, line_offset)


def decode(data: bytes, file: str | None) -> str | Diagnostic:
    """UTF-8 text without its BOM, or ``invalid-json`` saying where the first bad byte is."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        return Diagnostic(
            "invalid-json",
            f"not UTF-8 text: {exc.reason} at byte {exc.start}",
            file=file,
            line=data.count(b"\n", 0, exc.start) + 1,
            column=exc.start - line_start + 1,
        )


def load_bytes(data: bytes, file: str | None = None, *, jsonl: bool | None = None) -> list[Payload]:
    """Bytes from a file, stdin or the wire: UTF-8 (BOM skipped) or an ``invalid-json`` payload, then parsed."""
    text = decode(data, file)
    if isinstance(text, Diagnostic):
        return [Payload(None, file, problems=[text])]
    return load_text(universal_newlines(text), file, jsonl=jsonl)


def load_body(body: Body, *, big: int = BIG) -> Payload:
    """One request from the wire, its text kept as sent (no newline translation, no batch unwrapping).

    String literals of ``big`` bytes or more (videos a client inlined) stay in the body: the parsed request
    holds a token for each (``Payload.holes``), so none is copied into memory.
    """
    holes: dict[str, Hole] = {}
    if body.in_memory and body.size < 16 * big:
        data = body.getvalue()
    else:
        data, holes = skeleton(body, big)
    text = decode(data, None)
    if isinstance(text, Diagnostic):
        return Payload(None, problems=[text])
    parsed = _parse(text, None, 0)
    if isinstance(parsed, Diagnostic):
        problem = dataclasses.replace(parsed, line=None, column=None) if holes else parsed
        return Payload(None, text=text, problems=[problem])
    return Payload(parsed, text=text, holes=holes)


def unjsonable(obj: Any, pointer: str = "") -> str | None:
    """The pointer of the first value a request dict holds that JSON cannot carry (NaN, inf, a set, ...)."""
    stack = [(obj, pointer)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, Mapping):
            if any(not isinstance(k, str) for k in node):
                return at
            stack += [(v, f"{at}/{escape(k)}") for k, v in node.items()]
        elif isinstance(node, list | tuple):
            stack += [(v, f"{at}/{i}") for i, v in enumerate(node)]
        elif isinstance(node, float):
            if not math.isfinite(node):
                return at
        elif not (node is None or isinstance(node, str | int | bool)):
            return at
    return None


def read_path(path: Path) -> list[Payload]:
    """Read a .json or .jsonl file; I/O errors propagate as OSError for the CLI."""
    return load_bytes(path.read_bytes(), str(path), jsonl=path.suffix == ".jsonl")


def universal_newlines(text: str) -> str:
    """What text-mode reading gives, so positions agree however the file was read."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text  # one scan when clean


def _named_file(text: str) -> Path | None:
    """A ``str`` payload that names an existing ``.json``/``.jsonl`` file rather than holding JSON text."""
    name = text.strip()
    if name[:1] in ("{", "[") or "\n" in name or len(name) > 4096 or not name.endswith((".json", ".jsonl")):
        return None
    path = Path(name)
    return path if path.is_file() else None


def read_payloads(payload: PayloadLike) -> list[Payload]:
    """Read any accepted payload form into located requests (JSONL files give one per line).

    A ``str`` is JSON text, unless it names an existing ``.json``/``.jsonl`` file (then it is read).
    """
    if isinstance(payload, bytes | bytearray):
        return load_bytes(bytes(payload))
    if isinstance(payload, os.PathLike):
        return read_path(Path(payload))
    if isinstance(payload, str):
        if (path := _named_file(payload)) is not None:
            return read_path(path)
        items = load_text(payload)
        if payload.strip().endswith((".json", ".jsonl")) and items and items[0].problems:
            hint = (
                f"not JSON text, and no file {payload.strip()!r} exists "
                "(a str is read as JSON text unless it names an existing .json or .jsonl file)"
            )
            items[0].problems = [Diagnostic("invalid-json", hint)]
        return items
    if isinstance(payload, Mapping) and (where := unjsonable(payload)) is not None:
        problem = Diagnostic(
            "invalid-request",
            "the request holds a value JSON cannot carry (NaN, Infinity, or a non-JSON type)",
            pointer=where,
            fix="Send finite numbers, strings, lists and objects only.",
        )
        return [Payload(payload, problems=[problem])]
    return [Payload(payload)]  # already parsed: a dict, or anything else the checker will refuse
