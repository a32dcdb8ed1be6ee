"""What a provider takes of each kind of media, as written in the table and as resolved for one request.

Video rules sit at a provider's top level (``url_kinds``, ``max_video_bytes``, ...), as they always have; audio,
images and files each have a section of their own (``image: {max_bytes: 5MiB, ...}``). A section names only what
the provider documents: every field it leaves out is OpenRouter's (``openrouter.image``, ...), and a ``models:``
entry inside a section overrides it for the models whose id matches a glob (Claude on Vertex takes images as
base64 only, Gemini on Vertex fetches URLs). :func:`resolve` flattens all of that into :class:`Rules`, the one
record the judge reads.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .._base.kinds import Kind

__all__ = ["Limit", "MediaRules", "Rules", "UrlKind", "resolve"]

UrlKind = Literal["youtube", "https", "http", "gs"]
Limit = int | Literal["unknown"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def size(value: Any) -> Any:
    """Accept ``100MB``/``25 MiB`` strings for byte limits; leave everything else to pydantic."""
    if isinstance(value, str) and value != "unknown" and (m := _SIZE.match(value)):
        return int(float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()])
    return value


@classmethod  # type: ignore[misc]  # pydantic binds it to each model that validates with it
def name_fields(cls: type[BaseModel], value: dict[str, str]) -> dict[str, str]:
    """``sources:`` and ``unknown:`` may only name the entry's own fields."""
    unknown = sorted(set(value) - set(cls.model_fields))
    if unknown:
        raise ValueError(f"names unknown field(s): {', '.join(unknown)}")
    return value


class Strict(BaseModel):
    # defer_build: the validators are built when the first table is loaded, not at `import router` (about 30 ms).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class MediaRules(Strict):
    """One kind of media (audio, images or files) at one provider, or OpenRouter's defaults for it.

    A field left out (None) is inherited: from OpenRouter's section for a provider, from the provider's section
    for a ``models:`` override. ``unknown`` means the value was looked for and not found (the reason is in
    ``unknown:``); no limit is then assumed.
    """

    url_kinds: tuple[UrlKind, ...] | None = None  # the URL kinds fetched upstream; the rest are inlined
    data_urls: bool | None = None
    mime_types: tuple[str, ...] | None = None  # images and files; audio names formats instead
    formats: tuple[str, ...] | None = None  # audio: `input_audio.format` names (wav, mp3, ...)
    max_bytes: Limit | None = None  # one part, decoded
    max_base64_bytes: Limit | None = None  # one part, as base64 (Anthropic counts images that way)
    max_total_bytes: Limit | None = None  # every part of this kind in one request, decoded
    max_count: Limit | None = None  # parts of this kind in one request
    max_duration_s: Limit | None = None
    max_side: Limit | None = None  # pixels on the longer side
    many_over: int | None = None  # with more images than this in a request...
    max_side_many: Limit | None = None  # ...each may have at most this many pixels on its longer side
    max_pages: Limit | None = None
    encrypted_pdfs: bool | None = None  # files: whether a PDF with a password or permissions is taken
    source: str | None = None
    sources: dict[str, str] = Field(default_factory=dict)
    unknown: dict[str, str] = Field(default_factory=dict)
    notes: str = ""
    models: dict[str, MediaRules] = Field(default_factory=dict)  # model-id glob -> what differs for those

    _sized = field_validator("max_bytes", "max_base64_bytes", "max_total_bytes", mode="before")(size)

    _named = field_validator("sources", "unknown")(name_fields)


_LIMITS = (
    "max_bytes",
    "max_base64_bytes",
    "max_total_bytes",
    "max_count",
    "max_duration_s",
    "max_side",
    "max_side_many",
    "max_pages",
)


@dataclass(frozen=True, slots=True)
class Rules:
    """What one provider takes of one kind of media for one model, every field resolved (None: no limit known).

    ``formats`` are MIME types for video, images and files (empty: any), and ``input_audio.format`` names for
    audio. ``documented`` is False for a provider router has no rules for: only OpenRouter's apply.
    """

    kind: Kind
    url_kinds: tuple[str, ...]
    data_urls: bool
    formats: tuple[str, ...]
    max_bytes: int | None = None
    max_base64_bytes: int | None = None
    max_total_bytes: int | None = None
    max_count: int | None = None
    max_duration_s: int | None = None
    max_side: int | None = None
    many_over: int | None = None
    max_side_many: int | None = None
    max_pages: int | None = None
    encrypted_pdfs: bool = True
    documented: bool = True
    unknown: Mapping[str, str] = field(default_factory=dict)

    def inline_cap(self, request_bytes: int | None) -> int | None:
        """The largest part (decoded bytes) these rules and the provider's request cap let go inline: base64 grows
        a payload by a third, so a cap on encoded bytes allows 3/4 of it."""
        caps = [c for c in (self.max_bytes, self.max_total_bytes) if c is not None]
        caps += [c * 3 // 4 for c in (self.max_base64_bytes, request_bytes) if c is not None]
        return min(caps) if caps else None


def _known(value: Limit | None) -> int | None:
    return value if isinstance(value, int) else None


def resolve(kind: Kind, layers: list[MediaRules], model_id: str | None, documented: bool = True) -> Rules:
    """Flatten OpenRouter's section, then the provider's, then each ``models:`` override matching ``model_id``
    (later wins, field by field) into the rules the judge reads."""
    found: dict[str, Any] = {}
    unknown: dict[str, str] = {}
    for layer in _with_overrides(layers, model_id):
        for name in MediaRules.model_fields:
            value = getattr(layer, name)
            if name in ("source", "sources", "notes", "models", "unknown") or value is None:
                continue
            found[name] = value
        unknown.update(layer.unknown)
    formats = found.get("formats") if kind == "audio" else found.get("mime_types")
    return Rules(
        kind,
        tuple(found.get("url_kinds", ())),
        bool(found.get("data_urls", True)),
        tuple(formats or ()),
        **{name: _known(found.get(name)) for name in _LIMITS},
        many_over=found.get("many_over"),
        encrypted_pdfs=bool(found.get("encrypted_pdfs", True)),
        documented=documented,
        unknown=unknown,
    )


def _with_overrides(layers: list[MediaRules], model_id: str | None) -> list[MediaRules]:
    out: list[MediaRules] = []
    for layer in layers:
        out.append(layer)
        if model_id is None:
            continue
        bare = model_id.lstrip("~").split(":", 1)[0]
        out += [over for glob, over in layer.models.items() if fnmatch.fnmatchcase(bare, glob)]
    return out
