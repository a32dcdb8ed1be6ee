"""Request + table -> facts about every video part and the diagnostics that need no provider choice.

Provider-dependent findings (which provider takes which URL) belong to ``plan.py``, which reads these facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .capabilities import CapabilityTable, Model
from .media import (
    DataUrl,
    DataUrlError,
    UrlInfo,
    canonical_mime,
    classify_url,
    compatible,
    extension_mime,
    metadata_block_reason,
    mp4_duration,
    parse_data_url,
    sniff,
)
from .request import VideoPart, find_video_parts
from .rules import Diagnostic, shorten

__all__ = ["Checked", "PartFacts", "check_request"]


@dataclass(frozen=True, slots=True)
class PartFacts:
    part: VideoPart
    info: UrlInfo
    mime: str | None = None  # best knowledge: sniffed, declared, or from the extension
    size: int | None = None  # decoded bytes (data URLs)
    duration: float | None = None
    data: DataUrl | None = None
    sendable: bool = True  # False once an intrinsic error rules the part out everywhere
    private: bool = False  # a private address the caller allowed: only inlining can deliver it


@dataclass(slots=True)
class Checked:
    request: Mapping[str, Any] | None
    model_id: str | None
    model: Model | None
    parts: list[PartFacts] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def check_request(
    request: Any, table: CapabilityTable, *, model: str | None = None, allow_private_urls: bool = False
) -> Checked:
    """Find the video parts and everything wrong with them that holds whichever provider is chosen."""
    if not isinstance(request, Mapping):
        kind = type(request).__name__ if request is not None else "null"
        return Checked(
            None,
            None,
            None,
            diagnostics=[Diagnostic("invalid-request", f"a chat-completion request is a JSON object, not {kind}")],
        )
    out = Checked(request, None, None)
    parts = list(find_video_parts(request, out.diagnostics))
    if not parts:
        return out
    _check_routing_fields(request, out.diagnostics)
    out.model_id = model or _model_id(request)
    _check_model(out, table)
    for part in parts:
        if part.key != "video_url":
            out.diagnostics.append(
                Diagnostic(
                    "camelcase-key",
                    "`videoUrl` is the SDK's spelling; the HTTP API reads `video_url`",
                    pointer=f"{part.pointer}/{part.key}",
                    fix="Rename the key to `video_url`.",
                )
            )
        out.parts.append(_part_facts(part, table, allow_private_urls, out.diagnostics))
    return out


def _check_routing_fields(request: Mapping[str, Any], diags: list[Diagnostic]) -> None:
    """The fields routing reads must have the types OpenRouter expects, or the route would be a guess."""

    def wrong(pointer: str, what: str) -> None:
        diags.append(
            Diagnostic("invalid-request", f"`{pointer[1:].replace('/', '.')}` must be {what}", pointer=pointer)
        )

    if "model" in request and not (isinstance(request["model"], str) and request["model"]):
        wrong("/model", "a model id string")
    if "provider" not in request:
        return
    prefs = request["provider"]
    if not isinstance(prefs, Mapping):
        wrong("/provider", "an object (`only`, `order`, `ignore`, ...)")
        return
    for key in ("only", "order", "ignore"):
        value = prefs.get(key)
        if key in prefs and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            wrong(f"/provider/{key}", "a list of provider slugs")
    if "allow_fallbacks" in prefs and not isinstance(prefs["allow_fallbacks"], bool):
        wrong("/provider/allow_fallbacks", "true or false")


def _model_id(request: Mapping[str, Any]) -> str | None:
    model = request.get("model")
    if isinstance(model, str) and model:
        return model
    models = request.get("models")
    if isinstance(models, Sequence) and models and isinstance(models[0], str):
        return models[0]
    return None


def _check_model(out: Checked, table: CapabilityTable) -> None:
    if out.model_id is None:
        out.diagnostics.append(Diagnostic("unknown-model", "the request names no model", pointer=""))
        return
    out.model = table.model(out.model_id)
    if out.model is None:
        out.diagnostics.append(
            Diagnostic("unknown-model", f"model {out.model_id!r} is not in the capability table", pointer="/model")
        )
    elif not out.model.takes_video:
        takes = ", ".join(out.model.input)
        out.diagnostics.append(
            Diagnostic(
                "model-lacks-video",
                f"model {out.model_id!r} does not take video input (it takes: {takes})",
                pointer="/model",
            )
        )


def _part_facts(part: VideoPart, table: CapabilityTable, allow_private: bool, diags: list[Diagnostic]) -> PartFacts:
    assert part.url is not None
    info = classify_url(part.url)
    at = part.url_pointer

    def reject(rule: str, message: str, **extra: Any) -> PartFacts:
        diags.append(Diagnostic(rule, message, pointer=at))
        return PartFacts(part, info, sendable=False, **extra)

    if info.kind == "data":
        return _data_facts(part, info, table, diags)
    if info.kind == "file":
        return reject(
            "blocked-url", f"{shorten(part.url)} names a local file; router never reads local paths named in a payload"
        )
    if info.kind in ("other", "invalid"):
        return reject(
            "url-not-accepted",
            f"{shorten(part.url) or 'the empty string'} is not an http(s), YouTube, gs:// or data URL",
        )
    if info.kind == "youtube" and info.youtube_id is None:
        return reject(
            "url-not-accepted",
            f"{shorten(part.url)} is a YouTube page but not a video link "
            "(expected watch?v=, youtu.be/, shorts/ or embed/)",
        )
    blocked = info.blocked if not allow_private else metadata_block_reason(info.host)
    if blocked:
        return reject("blocked-url", f"{shorten(part.url)} points at {blocked}")
    mime = extension_mime(part.url) if info.kind in ("http", "https") else None
    if mime and canonical_mime(mime) not in {canonical_mime(m) for m in table.openrouter.mime_types}:
        return reject(
            "unsupported-format",
            f"{shorten(part.url)} looks like {mime} (from its extension); "
            f"OpenRouter accepts {', '.join(table.openrouter.mime_types)}",
            mime=mime,
        )
    return PartFacts(part, info, mime=mime, private=bool(info.blocked))


def _data_facts(part: VideoPart, info: UrlInfo, table: CapabilityTable, diags: list[Diagnostic]) -> PartFacts:
    assert part.url is not None
    at = part.url_pointer

    def reject(rule: str, message: str, **extra: Any) -> PartFacts:
        diags.append(Diagnostic(rule, message, pointer=at))
        return PartFacts(part, info, sendable=False, **extra)

    try:
        data = parse_data_url(part.url)
    except DataUrlError as exc:
        return reject("malformed-data-url", f"malformed data URL {shorten(part.url)}: {exc}")
    if not data.base64:
        return reject("malformed-data-url", "the data URL is not base64-encoded (expected `;base64,`)")
    if not data.mime.startswith("video/"):
        return reject(
            "malformed-data-url",
            f"a video part carries {'a ' + data.mime if data.mime else 'an untyped'} data URL, not video/*",
        )
    sniffed = sniff(data.head())
    size = data.decoded_size
    if sniffed is None or not sniffed.startswith("video/"):
        what = f"look like {sniffed}" if sniffed else "are not a recognisable video container (corrupted?)"
        return reject("format-mismatch", f"declared {data.mime}, but the bytes {what}", data=data, size=size)
    if not compatible(data.mime, sniffed):
        return reject(
            "format-mismatch", f"declared {data.mime}, but the bytes are {sniffed}", data=data, size=size, mime=sniffed
        )
    if canonical_mime(data.mime) not in {canonical_mime(m) for m in table.openrouter.mime_types}:
        return reject(
            "unsupported-format",
            f"{data.mime} is not accepted by OpenRouter (accepted: {', '.join(table.openrouter.mime_types)})",
            data=data,
            size=size,
            mime=sniffed,
        )
    duration = mp4_duration(data.read) if sniffed in ("video/mp4", "video/mov", "video/3gpp") else None
    return PartFacts(part, info, mime=data.mime, size=size, duration=duration, data=data)
