"""Request + table -> facts about every video part and the diagnostics that need no provider choice.

Provider-dependent findings (which provider takes which URL) belong to ``plan.py``, which reads these facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._base.redact import redacted, short_url, sized
from .._base.rules import Diagnostic, shorten
from .._base.ssrf import host_refusal
from .._model.container import damage, mp4_duration
from .._model.jsontext import Hole
from .._model.media import (
    DataUrl,
    DataUrlError,
    UrlInfo,
    canonical_mime,
    classify_url,
    compatible,
    extension_mime,
    mime_alias,
    parse_data_url,
    sniff,
)
from .._model.request import Api, VideoPart, api_of, find_video_parts
from .._table.capabilities import CapabilityTable, Model

__all__ = ["Checked", "ModelRef", "PartFacts", "check_request"]


@dataclass(frozen=True, slots=True)
class ModelRef:
    """One model the request may reach: the primary, or a fallback of its ``models`` list."""

    id: str
    pointer: str  # /model, or /models/N
    model: Model | None  # None: not in the table


@redacted(url=short_url)
@dataclass(frozen=True, slots=True)
class PartFacts:
    part: VideoPart
    info: UrlInfo
    url: str  # the URL as it will be used and sent: surrounding whitespace stripped
    mime: str | None = None  # best knowledge: sniffed, declared, or from the extension
    size: int | None = None  # decoded bytes (data URLs)
    duration: float | None = None
    data: DataUrl | None = None
    sendable: bool = True  # False once an intrinsic error rules the part out everywhere
    private: bool = False  # a private address the caller allowed: only inlining can deliver it
    send_mime: str | None = None  # a data URL to send again as `data:<send_mime>;base64,` (spelling, wrapping)


@redacted(request=sized)
@dataclass(slots=True)
class Checked:
    request: Mapping[str, Any] | None
    api: Api = "chat"
    models: list[ModelRef] = field(default_factory=list)  # the primary first, then the fallbacks
    parts: list[PartFacts] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def primary(self) -> ModelRef | None:
        return self.models[0] if self.models else None

    @property
    def model_id(self) -> str | None:
        return self.models[0].id if self.models else None

    @property
    def model(self) -> Model | None:
        return self.models[0].model if self.models else None


def check_request(
    request: Any,
    table: CapabilityTable,
    *,
    model: str | None = None,
    allow_private_urls: bool = False,
    holes: Mapping[str, Hole] | None = None,
    api: Api | None = None,
    fitting: bool = False,
) -> Checked:
    """Find the video parts and everything wrong with them that holds whichever provider is chosen.

    ``api`` is the endpoint's (chat completions or Responses); None tells it by the request's shape.
    ``fitting``: the router fits videos to the route, so a URL's extension rules nothing out (a ``.mkv`` is
    downloaded and remuxed).
    """
    if not isinstance(request, Mapping):
        kind = type(request).__name__ if request is not None else "null"
        return Checked(
            None,
            diagnostics=[Diagnostic("invalid-request", f"a request is a JSON object, not {kind}")],
        )
    out = Checked(request, api_of(request, api))
    parts = list(find_video_parts(request, out.diagnostics, holes, out.api))
    if not parts:
        return out
    _check_routing_fields(request, out.diagnostics)
    _check_models(out, _models(request, model), table)
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
        if part.api == "chat" and part.type == "input_video":
            out.diagnostics.append(
                Diagnostic(
                    "legacy-video-part",
                    "`input_video` is a deprecated chat part type; providers other than Gemini refuse it",
                    pointer=f"{part.pointer}/type",
                    fix='Write `"type": "video_url"` (`router check --fix`, or send through router).',
                )
            )
        out.parts.append(_part_facts(part, table, allow_private_urls, out.diagnostics, fitting))
    return out


def _check_routing_fields(request: Mapping[str, Any], diags: list[Diagnostic]) -> None:
    """The fields routing reads must have the types OpenRouter expects, or the route would be a guess."""

    def wrong(pointer: str, what: str) -> None:
        diags.append(
            Diagnostic("invalid-request", f"`{pointer[1:].replace('/', '.')}` must be {what}", pointer=pointer)
        )

    if "model" in request and not (isinstance(request["model"], str) and request["model"]):
        wrong("/model", "a model id string")
    if "models" in request and not (
        isinstance(request["models"], list) and all(isinstance(m, str) and m for m in request["models"])
    ):
        wrong("/models", "a list of model id strings")
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


def _models(request: Mapping[str, Any], override: str | None) -> list[tuple[str, str]]:
    """(id, pointer) of every model the request may reach: ``model`` first, then ``models`` (fallbacks)."""
    if override:
        return [(override, "/model")]
    found: dict[str, str] = {}
    if isinstance(request.get("model"), str) and request["model"]:
        found[request["model"]] = "/model"
    listed = request.get("models")
    if isinstance(listed, Sequence) and not isinstance(listed, str):
        for i, m in enumerate(listed):
            if isinstance(m, str) and m:
                found.setdefault(m, f"/models/{i}")
    return list(found.items())


def _check_models(out: Checked, names: list[tuple[str, str]], table: CapabilityTable) -> None:
    if not names:
        out.diagnostics.append(Diagnostic("unknown-model", "the request names no model", pointer=""))
        return
    for model_id, pointer in names:
        ref = ModelRef(model_id, pointer, table.model(model_id))
        out.models.append(ref)
        role = "" if pointer in ("/model", "/models/0") else " (a fallback in `models`)"
        if ref.model is None:
            why = table.unknown_reason(model_id)
            message = f"model {model_id!r}{role} is not in the capability table" + (f" ({why})" if why else "")
            out.diagnostics.append(Diagnostic("unknown-model", message, pointer=pointer))
        elif not ref.model.takes_video:
            takes = ", ".join(ref.model.input)
            fix = None if not role else "Remove it from `models`, or replace it with a video-capable model."
            out.diagnostics.append(
                Diagnostic(
                    "model-lacks-video",
                    f"model {model_id!r}{role} does not take video input (it takes: {takes})"
                    + ("; if it is reached, the video is dropped" if role else ""),
                    pointer=pointer,
                    fix=fix,
                )
            )


def _part_facts(
    part: VideoPart, table: CapabilityTable, allow_private: bool, diags: list[Diagnostic], fitting: bool = False
) -> PartFacts:
    url = part.url.strip()
    info = classify_url(url)
    at = part.url_pointer

    def reject(rule: str, message: str, **extra: Any) -> PartFacts:
        diags.append(Diagnostic(rule, message, pointer=at))
        return PartFacts(part, info, url, sendable=False, **extra)

    if info.kind == "data":
        return _data_facts(part, info, url, table, diags, fitting)
    if info.kind == "file":
        return reject(
            "blocked-url", f"{shorten(url)} names a local file; router never reads local paths named in a payload"
        )
    if info.kind in ("other", "invalid"):
        return reject(
            "url-not-accepted",
            f"{shorten(url) or 'the empty string'} is not an http(s), YouTube, gs:// or data URL",
        )
    if info.kind == "youtube" and info.youtube_id is None:
        return reject(
            "url-not-accepted",
            f"{shorten(url)} is a YouTube page but not a video link (expected watch?v=, youtu.be/, shorts/ or embed/)",
        )
    refusal = host_refusal(info.host, allow_private=allow_private) if info.kind in ("http", "https") else None
    if refusal is not None:
        return reject("blocked-url", f"{shorten(url)} points at {refusal.reason}")
    mime = extension_mime(url) if info.kind in ("http", "https") else None
    if mime and canonical_mime(mime) not in {canonical_mime(m) for m in table.openrouter.mime_types} and not fitting:
        diags.append(
            Diagnostic(
                "unsupported-format",
                f"{shorten(url)} looks like {mime} (from its extension); "
                f"OpenRouter accepts {', '.join(table.openrouter.mime_types)}",
                pointer=at,
                fit=True,  # downloaded and remuxed into a container the route takes
            )
        )
        return PartFacts(part, info, url, sendable=False, mime=mime)
    return PartFacts(part, info, url, mime=mime, private=bool(info.blocked))


def _documented_form(data: DataUrl, accepted: Sequence[str], at: str, diags: list[Diagnostic]) -> str | None:
    """The type name a data URL is sent under when it is not written ``data:<documented name>;base64,<payload>``
    (another name for the type, parameters, a payload wrapped in lines), with the findings that say so; None
    when it goes out as written (or is fitted into another container)."""
    name = canonical_mime(data.mime)
    if name not in accepted:
        return None
    send = f"data:{name};base64"
    if data.header != send:
        alias = mime_alias(data.declared, accepted)
        why = [f"`{data.declared}` is not a type name OpenRouter documents; it means `{name}`"] if alias else []
        if data.params:
            why.append(f"OpenRouter documents no parameters (`;{';'.join(data.params)}`)")
        if not why:
            why.append(f"`{data.header[:80]},` is not spelt as OpenRouter documents it")
        diags.append(
            Diagnostic(
                "mime-alias",
                "; ".join(why),
                pointer=at,
                fix=f"Declare `{send},` (`router check --fix`, or send through router).",
            )
        )
    if data.breaks:
        breaks = f"{data.breaks:,} line-break character{'s' * (data.breaks != 1)}"
        diags.append(
            Diagnostic(
                "wrapped-base64",
                f"the base64 payload is wrapped in lines ({breaks}, as `base64` writes it by default); providers "
                "may refuse them, router sends it on one line",
                pointer=at,
            )
        )
    return name if data.header != send or data.breaks else None


def _data_facts(
    part: VideoPart, info: UrlInfo, url: str, table: CapabilityTable, diags: list[Diagnostic], fitting: bool = False
) -> PartFacts:
    at = part.url_pointer

    def reject(rule: str, message: str, fit: bool = False, **extra: Any) -> PartFacts:
        diags.append(Diagnostic(rule, message, pointer=at, fit=fit))
        return PartFacts(part, info, url, sendable=False, **extra)

    try:
        data = parse_data_url(part.source if part.source is not None else url)
    except DataUrlError as exc:
        return reject("malformed-data-url", f"malformed data URL {shorten(url)}: {exc}")
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
        return reject("format-mismatch", f"declared {data.declared}, but the bytes {what}", data=data, size=size)
    if not compatible(data.mime, sniffed):
        return reject(
            "format-mismatch",
            f"declared {data.declared}, but the bytes are {sniffed}",
            data=data,
            size=size,
            mime=sniffed,
        )
    if broken := damage(data.read, size, sniffed):
        return reject("format-mismatch", f"the {sniffed} video is {broken}", data=data, size=size, mime=sniffed)
    accepted = table.openrouter.mime_types
    if canonical_mime(data.mime) not in {canonical_mime(m) for m in accepted} and not fitting:
        return reject(
            "unsupported-format",
            f"{data.declared} is not accepted by OpenRouter (accepted: {', '.join(accepted)})",
            fit=True,  # remuxed (or re-encoded) into a container the route takes
            data=data,
            size=size,
            mime=sniffed,
        )
    send_mime = _documented_form(data, accepted, at, diags)
    duration = mp4_duration(data.read) if sniffed in ("video/mp4", "video/mov", "video/3gpp") else None
    mime = send_mime or canonical_mime(data.mime)
    return PartFacts(part, info, url, mime=mime, size=size, duration=duration, data=data, send_mime=send_mime)
