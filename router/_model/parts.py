"""Where a request carries media: every video, audio, image and file part, in chat completions and the Responses API.

Each part shape OpenRouter documents (and the spellings SDKs and older clients write) is one row of ``SHAPES``:
the part ``type`` that names it, the keys that may hold it, and where its URL or data sits inside. A part is
found by its ``type`` or by its key; the value is located by a JSON pointer the checker and the rewrite share.

=========================  =====  =============================================================================
chat completions            kind   the value
=========================  =====  =============================================================================
``video_url``               video  ``{"video_url": {"url": ...}}`` (also ``videoUrl``; legacy type ``input_video``)
``image_url``               image  ``{"image_url": {"url": ...}}`` (also ``imageUrl``, or a plain URL string)
``input_audio``             audio  ``{"input_audio": {"data": <base64>, "format": "wav"}}``
``audio_url``               audio  ``{"audio_url": {"url": ...}}``: not documented; sent as ``input_audio``
``file``                    file   ``{"file": {"filename": ..., "file_data": <URL or data URL>}}``
Responses API
``input_video``             video  ``{"video_url": "<url>"}``
``input_image``             image  ``{"image_url": "<url>"}``
``input_audio``             audio  ``{"input_audio": {"data": ..., "format": ...}}``
``input_file``              file   ``{"file_data": "<data URL>"}`` or ``{"file_url": "<url>"}``, with ``filename``
=========================  =====  =============================================================================

A file part that carries only a ``file_id`` (an upload the provider holds) has nothing router can check.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .._base.kinds import Kind
from .._base.redact import redacted, short_url
from .._base.rules import Diagnostic

if TYPE_CHECKING:
    from .jsontext import Hole
    from .textview import Text

__all__ = [
    "CAMEL",
    "MARKERS",
    "SHAPES",
    "Api",
    "MediaPart",
    "Shape",
    "api_of",
    "escape",
    "find_media_parts",
    "is_media_part",
]

Api = Literal["chat", "responses"]
# The SDKs' camelCase keys, and the snake_case the HTTP API reads.
CAMEL = {"videoUrl": "video_url", "imageUrl": "image_url", "inputAudio": "input_audio"}


def escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def api_of(request: Mapping[str, Any], endpoint: Api | None = None) -> Api:
    """The endpoint's API when known, else the request's shape: ``input`` without ``messages`` is Responses."""
    if endpoint is not None:
        return endpoint
    return "responses" if "input" in request and "messages" not in request else "chat"


@dataclass(frozen=True, slots=True)
class Shape:
    """One way a part is written. ``field`` is where the URL or data sits inside the key's object (None: the key
    holds the string itself). ``wire`` is the documented part type the rewrite sends and ``wire_key`` the key it
    sends the value under (by default the first of ``types`` and of ``keys``): an undocumented shape is
    rewritten into the documented one. ``strict``: the key alone makes a part this shape (a file part's key is
    too common a word: only its ``type`` does)."""

    api: Api
    kind: Kind
    types: tuple[str, ...]
    keys: tuple[str, ...]
    field: str | None
    wire: str = ""
    wire_key: str = ""
    strict: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "wire", self.wire or self.types[0])
        object.__setattr__(self, "wire_key", self.wire_key or self.keys[0])


SHAPES: tuple[Shape, ...] = (
    Shape("chat", "video", ("video_url", "input_video", "videoUrl"), ("video_url", "videoUrl"), "url"),
    Shape("chat", "image", ("image_url", "imageUrl"), ("image_url", "imageUrl"), "url"),
    Shape("chat", "audio", ("input_audio", "inputAudio"), ("input_audio", "inputAudio"), "data"),
    Shape("chat", "audio", ("audio_url",), ("audio_url",), "url", wire="input_audio", wire_key="input_audio"),
    Shape("chat", "file", ("file",), ("file",), "file_data", strict=False),
    Shape("responses", "video", ("input_video",), ("video_url", "videoUrl"), None),
    Shape("responses", "image", ("input_image",), ("image_url", "imageUrl"), None),
    Shape("responses", "audio", ("input_audio",), ("input_audio",), "data"),
    Shape("responses", "file", ("input_file",), ("file_data", "file_url"), None, strict=False),
)

# Every key and type above, as bytes: a body holding none of them carries no media and is never parsed.
MARKERS: tuple[bytes, ...] = tuple(
    sorted(
        {w.encode() for s in SHAPES for w in (*s.types, *s.keys) if w != "file"}
        | {b"file_data", b"fileData", b"file_url"}
    )
)


@redacted(url=short_url, source=short_url)
@dataclass(frozen=True, slots=True)
class MediaPart:
    """One media part: what kind it is, where it sits, what it points at.

    ``url`` is the URL, the data URL or (audio) the base64 data as written; for a value left in a request body
    (``source``) its first characters. ``shape`` says how it was written and how the rewrite writes it back.
    """

    pointer: str  # the part object, e.g. /messages/0/content/1 or /input/0/content/1
    key: str  # the key holding the value: video_url, videoUrl, image_url, input_audio, file, file_data, ...
    url: str
    url_pointer: str  # where the value's string sits
    api: Api = "chat"
    source: Text | None = None  # the whole value when it stays in a request body (a big data URL)
    type: str | None = None  # the part's `type`, as written (None when absent)
    shape: Shape = SHAPES[0]
    format: str | None = None  # audio: `input_audio.format` as written (None when absent or not a string)
    filename: str | None = None  # files: `filename` as written

    @property
    def kind(self) -> Kind:
        return self.shape.kind

    @property
    def value(self) -> Text:
        """The value's whole text, however it is held."""
        return self.url if self.source is None else self.source

    @property
    def holder(self) -> str:
        """The pointer of the object holding the value's siblings (``format``, ``filename``)."""
        return self.url_pointer.rsplit("/", 1)[0]


def _shape(api: Api, part: Mapping[str, Any]) -> tuple[Shape, list[str]] | None:
    """The shape a part is written in, and which of its keys are present (None: not a media part)."""
    kind = part.get("type")
    for shape in SHAPES:
        if shape.api != api:
            continue
        keys = [k for k in shape.keys if k in part]
        if kind in shape.types or (keys and shape.strict and kind not in _OTHER_TYPES[shape]):
            return shape, keys
    return None


def is_media_part(part: object, api: Api = "chat") -> bool:
    """Whether a content part is written as a media part (by its type or its key): nothing else is read."""
    return isinstance(part, Mapping) and _shape(api, part) is not None


# A part typed for one shape but holding another shape's key (`{"type": "text", "image_url": ...}`) is not that
# other shape: only untyped parts and parts typed for the shape are found by key.
_OTHER_TYPES = {s: {t for o in SHAPES if o.api == s.api and o is not s for t in o.types} - set(s.types) for s in SHAPES}


def _problem(message: str, pointer: str, fix: str | None = None) -> Diagnostic:
    return Diagnostic("invalid-request", message, pointer=pointer, fix=fix)


def find_media_parts(
    request: Mapping[str, Any],
    problems: list[Diagnostic],
    holes: Mapping[str, Hole] | None = None,
    api: Api | None = None,
) -> Iterator[MediaPart]:
    """Yield every media part; structural problems go to ``problems`` as ``invalid-request``.

    ``holes`` resolves the tokens of a body parsed by ``load_body`` back to the strings they stand for.
    """
    api = api_of(request, api)
    for pointer, part in _content_parts(request, problems, api):
        found = _shape(api, part)
        if found is None:
            continue
        shape, keys = found
        if len(keys) > 1 and shape.kind != "file":  # which one the upstream reads is anyone's guess
            problems.append(
                _problem(f"the part has both {' and '.join(f'`{k}`' for k in keys)}", pointer, f"Keep `{keys[0]}`.")
            )
            continue
        typed = part.get("type") if isinstance(part.get("type"), str) else None
        located = _value(shape, keys, part, pointer, problems)
        if located is None:
            continue
        key, value, at, holder = located
        fmt = holder.get("format") if shape.kind == "audio" else None
        name = holder.get("filename") if shape.kind == "file" else None
        hole = holes.get(value) if holes else None
        text = hole.text() if hole is not None else value
        # Inline data (a data URL, raw base64 audio) stays in the body, read in place, never copied; a URL is text.
        if not isinstance(text, str) and text[:5].lower() != "data:" and _is_url(text[:8]):
            text = text[0 : len(text)]
        source = None if isinstance(text, str) else text
        yield MediaPart(
            pointer,
            key,
            text if isinstance(text, str) else text[:512],
            at,
            api,
            source,
            typed,
            shape,
            fmt if isinstance(fmt, str) else None,
            name if isinstance(name, str) else None,
        )


def _is_url(start: str) -> bool:
    return start.lower().startswith(("http://", "https://"))


def _value(
    shape: Shape, keys: list[str], part: Mapping[str, Any], pointer: str, problems: list[Diagnostic]
) -> tuple[str, str, str, Mapping[str, Any]] | None:
    """(key, value, pointer of the value, the object holding it) of a part, or None with the problem said."""
    if not keys and "file_id" in part:
        return None  # an uploaded file's id: nothing to check
    if not keys:
        fix = f"Add `{_example(shape)}` to the part."
        problems.append(_problem(f"the `{part.get('type')}` part has no `{shape.keys[0]}`", pointer, fix))
        return None
    if shape.api == "responses" and shape.field is None:  # the value is a string on the part itself
        key = keys[0]
        value = part[key]
        if not isinstance(value, str):
            fix = f'Write `"{key}": "https://..."`.'
            problems.append(_problem(f"`{key}` must be a URL string", f"{pointer}/{escape(key)}", fix))
            return None
        return key, value, f"{pointer}/{escape(key)}", part
    key = keys[0]
    holder = part[key]
    assert shape.field is not None
    if shape.kind == "image" and isinstance(holder, str):  # `image_url: "<url>"`: taken as written
        return key, holder, f"{pointer}/{escape(key)}", part
    field = shape.field
    if shape.kind == "file" and isinstance(holder, Mapping):
        if field not in holder and "file_id" in holder:
            return None  # an uploaded file's id: nothing to check
        field = next((f for f in ("file_data", "fileData", "file_url") if f in holder), field)
    value = holder.get(field) if isinstance(holder, Mapping) else None
    if not isinstance(value, str):
        problems.append(
            _problem(
                f"`{key}` must be an object with a string `{field}`",
                f"{pointer}/{escape(key)}",
                f"Write `{_example(shape).replace(shape.keys[0], key, 1)}`.",
            )
        )
        return None
    return key, value, f"{pointer}/{escape(key)}/{escape(field)}", holder


def _example(shape: Shape) -> str:
    if shape.field is None:
        return f'"{shape.keys[0]}": "https://..."'
    value = '"<base64>", "format": "wav"' if shape.field == "data" else '"https://..."'
    return f'"{shape.keys[0]}": {{"{shape.field}": {value}}}'


def _content_parts(
    request: Mapping[str, Any], problems: list[Diagnostic], api: Api
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(pointer, part) of every content part of every message: chat `messages`, or Responses `input` items."""
    field = "input" if api == "responses" else "messages"
    messages = request.get(field)
    if api == "responses" and isinstance(messages, str):
        return  # a plain text input
    if not isinstance(messages, list):
        what = "`input` string or list" if api == "responses" else "`messages` list"
        problems.append(Diagnostic("invalid-request", f"the request has no {what}", pointer=""))
        return
    for m, message in enumerate(messages):
        if not isinstance(message, Mapping):
            problems.append(Diagnostic("invalid-request", "a message must be an object", pointer=f"/{field}/{m}"))
            continue
        if api == "responses" and message.get("type", "message") != "message":
            continue  # function calls, their outputs, reasoning items: no media in them
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            problems.append(
                Diagnostic(
                    "invalid-request",
                    "`content` must be a string or a list of parts",
                    pointer=f"/{field}/{m}/content",
                )
            )
            continue
        for p, part in enumerate(content):
            pointer = f"/{field}/{m}/content/{p}"
            if not isinstance(part, Mapping):
                problems.append(Diagnostic("invalid-request", "a content part must be an object", pointer=pointer))
                continue
            yield pointer, part
