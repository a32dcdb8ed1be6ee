"""The spans of a request's text the rewrite replaces, part by part and for the routing field.

Each kind of part is written back in the shape OpenRouter documents, touching only what must change:

- video and images: the URL becomes ``data:<type>;base64,...`` (downloaded, or the caller's own data URL under its
  documented type name, unwrapped); a YouTube link its canonical form; camelCase keys and legacy types renamed;
- audio: ``input_audio.data`` becomes bare base64 and ``format`` the format read from the bytes; an ``audio_url``
  part becomes an ``input_audio`` part;
- files: ``file_data`` (``file_url`` in the Responses API) becomes a PDF's data URL, with a ``filename`` when the
  part had none.

Media split to fit the route (a long video, a long recording, a PDF over the page limit) becomes several
consecutive parts of the same shape in place of one.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .._base.redact import redacted, sized
from .._judgement.facts import PartFacts
from .._judgement.plan import RoutePlan
from .._model.jsontext import key_spans, locate, skip_value, value_span
from .._model.parts import CAMEL, MediaPart, escape
from .pieces import Inline, Piece, copy_of

if TYPE_CHECKING:
    from .._fetch.spool import Media

__all__ = ["Edit", "dumps", "part_edits", "routing_edits"]


@redacted(pieces=sized)
@dataclass(frozen=True, slots=True)
class Edit:
    start: int
    end: int
    pieces: tuple[str | Piece, ...]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def part_edits(
    text: str, prefix: str, facts: PartFacts, action: str, media: Mapping[str, Sequence[Media]]
) -> list[Edit]:
    """The edits one part needs: ``media`` holds what goes inline in its place (a dry run inlines nothing).

    The part is looked for in the text only when something changes: a request of many parts that need nothing
    (image URLs a provider fetches) costs no walk of its text."""
    part = facts.part
    sent = media.get(part.pointer) if action == "inline" else None
    if sent is not None and len(sent) > 1:  # split: one part becomes several
        at = locate(text, prefix + part.pointer)
        return [Edit(at, skip_value(text, at), _split(part, sent))]
    edits = _naming_edits(text, prefix, part)
    if part.kind == "audio":
        return edits + _audio_edits(text, prefix, facts, sent[0] if sent else None)
    value = _url_value(facts, sent[0] if sent else None)
    if value is None:
        return edits
    edits.append(Edit(*value_span(text, prefix + part.url_pointer), value))
    if sent is not None and part.kind == "file":
        edits += _file_edits(text, prefix, part)
    return edits


def _naming_edits(text: str, prefix: str, part: MediaPart) -> list[Edit]:
    """camelCase keys renamed, and the part's ``type`` as documented: a video part always names it; other kinds
    only change a wrong one."""
    wire = part.shape.wire
    add_type = part.type is None and part.kind == "video"
    retype = part.type is not None and part.type != wire
    if part.key not in CAMEL and not add_type and not retype:
        return []
    at = locate(text, prefix + part.pointer)
    edits = (
        [Edit(a, b, (f'"{CAMEL[part.key]}"',)) for a, b in key_spans(text, at, part.key)] if part.key in CAMEL else []
    )
    if add_type:
        edits.append(Edit(at + 1, at + 1, (f'"type":"{wire}",',)))
    elif retype:
        edits.append(Edit(*value_span(text, f"{prefix}{part.pointer}/type"), (f'"{wire}"',)))
    return edits


def _url_value(facts: PartFacts, got: Media | None) -> tuple[str | Piece, ...] | None:
    """What is written in place of the URL's JSON string (None: it stays as written): the download inline, the
    caller's own data under its documented type name, a YouTube link's canonical form, a cleaned URL."""
    part = facts.part
    if got is not None:
        return (f'"data:{got.mime};base64,', Inline(got), '"')
    if facts.send_mime and facts.data is not None:
        data = facts.data
        return (f'"data:{facts.send_mime};base64,', copy_of(data.source, data.start), '"')
    if (yt := facts.info.canonical_youtube) and yt != part.url and part.kind == "video":
        return (dumps(yt),)
    if facts.url != part.url and part.source is None:
        return (dumps(facts.url),)
    return None


def _audio_edits(text: str, prefix: str, facts: PartFacts, got: Media | None) -> list[Edit]:
    """``input_audio`` with bare base64 and the format read from the bytes: a download, or the caller's own data
    written again (no ``data:`` prefix, no line breaks, the format's documented name)."""
    part = facts.part
    if got is not None:
        data: tuple[str | Piece, ...] = ('"', Inline(got), '"')
        fmt = got.content.format if got.content is not None else None
    elif facts.reshape and facts.data is not None and facts.content is not None:
        data = ('"', copy_of(facts.data.source, facts.data.start), '"')
        fmt = facts.content.format
    else:
        return []
    if part.shape.wire_key != part.key and part.key not in CAMEL:  # `audio_url: {url}` -> `input_audio: {...}`
        at = locate(text, prefix + part.pointer)
        edits = [Edit(a, b, (f'"{part.shape.wire_key}"',)) for a, b in key_spans(text, at, part.key)]
        holder = value_span(text, f"{prefix}{part.pointer}/{escape(part.key)}")
        return [*edits, Edit(*holder, ('{"data":', *data, f',"format":{dumps(fmt)}}}'))]
    span = value_span(text, prefix + part.url_pointer)
    edits = [Edit(*span, data)]
    if part.format is not None:
        edits.append(Edit(*value_span(text, f"{prefix}{part.holder}/format"), (dumps(fmt),)))
    else:
        edits.append(Edit(span[1], span[1], (f',"format":{dumps(fmt)}',)))
    return edits


def _file_edits(text: str, prefix: str, part: MediaPart) -> list[Edit]:
    """A file inlined where its URL was: under ``file_data`` (a ``file_url`` or ``fileData`` key is renamed), with a
    ``filename`` from the URL when the part named none (the APIs ask for one with ``file_data``)."""
    holder = locate(text, prefix + part.holder)
    field = part.url_pointer.rsplit("/", 1)[1]
    edits = [Edit(a, b, ('"file_data"',)) for a, b in key_spans(text, holder, field)] if field != "file_data" else []
    if part.filename is None:
        edits.append(Edit(holder + 1, holder + 1, (f'"filename":{dumps(_filename(part.url))},',)))
    return edits


def _filename(url: str) -> str:
    name = posixpath.basename(unquote(urlsplit(url).path)) if "://" in url else ""
    return name or "document.pdf"


def _split(part: MediaPart, sent: Sequence[Media]) -> tuple[str | Piece, ...]:
    """Consecutive parts in place of one (media split to fit the route), in the API's own shape."""
    pieces: list[str | Piece] = []
    for i, got in enumerate(sent):
        pieces += [("," if i else "") + _opening(part, got, i, len(sent)), Inline(got), _closing(part, got)]
    return tuple(pieces)


def _opening(part: MediaPart, got: Media, i: int, n: int) -> str:
    shape, api = part.shape, part.api
    if part.kind == "audio":
        return f'{{"type":"{shape.wire}","input_audio":{{"data":"'
    if part.kind == "file":
        stem, dot, ext = (part.filename or _filename(part.url)).rpartition(".")
        name = dumps(f"{stem or ext}-part{i + 1}of{n}.{ext if dot else 'pdf'}")
        head = f'{{"type":"{shape.wire}",' + ("" if api == "responses" else '"file":{')
        return head + f'"filename":{name},"file_data":"data:{got.mime};base64,'
    value = '"' if api == "responses" else '{"url":"'
    return f'{{"type":"{shape.wire}","{shape.wire_key}":{value}data:{got.mime};base64,'


def _closing(part: MediaPart, got: Media) -> str:
    if part.kind == "audio":
        fmt = got.content.format if got.content is not None else None
        return f'","format":{dumps(fmt)}}}}}'
    return '"}' if part.api == "responses" else '"}}'


def routing_edits(text: str, prefix: str, request: Mapping[str, Any], plan: RoutePlan) -> list[Edit]:
    if plan.providers is None:
        return []
    wanted: dict[str, list[str]] = {"only": list(plan.providers)}
    if plan.order is not None:
        wanted["order"] = list(plan.order)
    prefs = request.get("provider")
    if not isinstance(prefs, Mapping):
        root = locate(text, prefix)
        return [Edit(root + 1, root + 1, (f'"provider":{dumps(wanted)},',))]
    edits, inserted = [], []
    for key, value in wanted.items():
        if key in prefs:
            edits.append(Edit(*value_span(text, f"{prefix}/provider/{escape(key)}"), (dumps(value),)))
        else:
            inserted.append(f"{dumps(key)}:{dumps(value)}")
    if inserted:
        opening = locate(text, f"{prefix}/provider") + 1
        edits.append(Edit(opening, opening, (",".join(inserted) + ("," if prefs else ""),)))
    return edits
