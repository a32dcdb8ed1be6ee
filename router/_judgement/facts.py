"""One media part -> what it is (a URL of some kind, or inline data and what its bytes hold) and the findings that
hold whichever provider is chosen: a local path, a malformed data URL, bytes that are not what they claim, a format
OpenRouter takes from nobody.

Inline data is read in place (``DataUrl.read``: a few small reads, never the whole payload) and identified by the
same ``identify`` the fetcher uses for downloads, so a data URL and a download of the same file get one verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._base.kinds import Kind
from .._base.redact import redacted, short_url
from .._base.rules import Diagnostic, shorten
from .._base.ssrf import host_refusal
from .._model.audio import AUDIO_MIME, canonical_format, format_of_mime
from .._model.content import Content, NotTheContent, identify
from .._model.image import canonical_image_mime
from .._model.media import (
    DataUrl,
    DataUrlError,
    UrlInfo,
    canonical_mime,
    canonical_mimes,
    classify_url,
    compatible,
    extension_mime,
    parse_base64,
    parse_data_url,
)
from .._model.parts import MediaPart
from .._table.capabilities import CapabilityTable

__all__ = ["PartFacts", "part_facts"]

_A = {"video": "a video", "audio": "an audio", "image": "an image", "file": "a file"}


@redacted(url=short_url)
@dataclass(frozen=True, slots=True)
class PartFacts:
    part: MediaPart
    info: UrlInfo
    url: str  # the URL (or inline data) as it will be used and sent: surrounding whitespace stripped
    mime: str | None = None  # best knowledge: from the bytes, declared, or from the extension
    size: int | None = None  # decoded bytes (inline data)
    duration: float | None = None
    data: DataUrl | None = None
    sendable: bool = True  # False once an intrinsic error rules the part out everywhere
    private: bool = False  # a private address the caller allowed: only inlining can deliver it
    send_mime: str | None = None  # inline data to send again as `data:<send_mime>;base64,` (spelling, wrapping)
    content: Content | None = None  # what inline data holds (pixels, pages, an audio format)
    reshape: bool = False  # audio to send again in the documented shape (bare base64, the format from the bytes)

    @property
    def kind(self) -> Kind:
        return self.part.kind


def accepted_types(table: CapabilityTable, kind: Kind) -> tuple[str, ...]:
    """What OpenRouter takes of ``kind`` from every provider: MIME types (audio: format names; files: any)."""
    return table.rules(None, kind).formats


def part_facts(
    part: MediaPart,
    accepted: tuple[str, ...],
    allow_private: bool,
    diags: list[Diagnostic],
    fitting: bool = False,
) -> PartFacts:
    """The facts of one part, with its intrinsic findings appended to ``diags``. ``accepted``: what OpenRouter takes
    of the part's kind (``accepted_types``, looked up once per request). ``fitting``: the router fits media to the
    route, so a format OpenRouter refuses is converted rather than ruled out."""
    url = part.url.strip()
    if part.kind == "audio" and part.shape.field == "data" and not _is_url(url):
        return _inline_audio(part, url, accepted, diags, fitting)
    info = classify_url(url)
    at = part.url_pointer

    def reject(rule: str, message: str, **extra: Any) -> PartFacts:
        diags.append(Diagnostic(rule, message, pointer=at, kind=part.kind))
        return PartFacts(part, info, url, sendable=False, **extra)

    if info.kind == "data":
        return _data_facts(part, info, url, accepted, diags, fitting)
    if info.kind == "file":
        return reject(
            "blocked-url", f"{shorten(url)} names a local file; router never reads local paths named in a payload"
        )
    if info.kind in ("other", "invalid"):
        return reject("url-not-accepted", f"{shorten(url) or 'the empty string'} is not {_URLS[part.kind]}")
    if info.kind == "youtube" and part.kind == "video" and info.youtube_id is None:
        return reject(
            "url-not-accepted",
            f"{shorten(url)} is a YouTube page but not a video link (expected watch?v=, youtu.be/, shorts/ or embed/)",
        )
    if info.kind == "youtube" and part.kind != "video":  # a web page like any other, to whoever fetches it
        info = classify_url("https://" + url.split("://", 1)[-1])
    blocked = _blocked(info, allow_private)
    if blocked is not None:
        return reject("blocked-url", f"{shorten(url)} points at {blocked}")
    reshape = part.shape.wire_key != part.shape.keys[0] or part.kind == "audio"  # an `audio_url`, or audio data
    if part.kind == "audio":  # a URL in `input_audio.data` or an `audio_url` part: never taken upstream
        diags.append(_nonstandard(part, f"audio is never sent as a URL ({shorten(url)})"))
    mime = extension_mime(url, part.kind) if info.kind in ("http", "https") else None
    names = canonical_mimes(accepted) if part.kind != "audio" else frozenset()
    if mime and names and canonical_mime(mime) not in names and not fitting:
        diags.append(
            Diagnostic(
                "unsupported-format",
                f"{shorten(url)} looks like {mime} (from its extension); OpenRouter accepts {', '.join(accepted)}",
                pointer=at,
                fit=True,  # downloaded and converted into a format the route takes
                kind=part.kind,
            )
        )
        return PartFacts(part, info, url, sendable=False, mime=mime)
    return PartFacts(part, info, url, mime=mime, private=bool(info.blocked), reshape=reshape)


def _blocked(info: UrlInfo, allow_private: bool) -> str | None:
    """Why an http(s) URL's host is refused: ``classify_url`` judged it already for a router that allows no private
    address, so it is asked again only for one that does."""
    if info.kind not in ("http", "https"):
        return None
    if not allow_private:
        return info.blocked
    refusal = host_refusal(info.host, allow_private=True)
    return refusal.reason if refusal else None


_URLS = {
    "video": "an http(s), YouTube, gs:// or data URL",
    "image": "an http(s) or data URL",
    "audio": "base64 audio or an http(s) URL",
    "file": "an http(s) or data URL",
}


def _is_url(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://", "data:", "file:", "gs://"))


def _nonstandard(part: MediaPart, why: str) -> Diagnostic:
    return Diagnostic(
        "nonstandard-part",
        f"{why}; router sends `input_audio` with bare base64 and the format read from the bytes",
        pointer=part.pointer,
        kind="audio",
    )


def documented_form(
    data: DataUrl, accepted: Sequence[str], at: str, diags: list[Diagnostic], kind: Kind = "video"
) -> str | None:
    """The type name a data URL is sent under when it is not written ``data:<documented name>;base64,<payload>``
    (another name for the type, parameters, a payload wrapped in lines), with the findings that say so; None
    when it goes out as written (or is fitted into another format)."""
    name = canonical_image_mime(data.mime) if kind == "image" else canonical_mime(data.mime)
    if accepted and name not in accepted:
        return None
    send = f"data:{name};base64"
    if data.header and data.header != send:
        alias = name != data.declared.strip()
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
                kind=kind,
            )
        )
    _wrapped(data, at, diags, kind)
    return name if (data.header and data.header != send) or data.breaks else None


def _wrapped(data: DataUrl, at: str, diags: list[Diagnostic], kind: Kind) -> None:
    if data.breaks:
        breaks = f"{data.breaks:,} line-break character{'s' * (data.breaks != 1)}"
        diags.append(
            Diagnostic(
                "wrapped-base64",
                f"the base64 payload is wrapped in lines ({breaks}, as `base64` writes it by default); providers "
                "may refuse them, router sends it on one line",
                pointer=at,
                kind=kind,
            )
        )


def _data_facts(
    part: MediaPart,
    info: UrlInfo,
    url: str,
    accepted: tuple[str, ...],
    diags: list[Diagnostic],
    fitting: bool = False,
) -> PartFacts:
    at, kind = part.url_pointer, part.kind

    def reject(rule: str, message: str, fit: bool = False, **extra: Any) -> PartFacts:
        diags.append(Diagnostic(rule, message, pointer=at, fit=fit, kind=kind))
        return PartFacts(part, info, url, sendable=False, **extra)

    try:
        data = parse_data_url(part.source if part.source is not None else url)
    except DataUrlError as exc:
        return reject("malformed-data-url", f"malformed data URL {shorten(url)}: {exc}")
    if not data.base64:
        return reject("malformed-data-url", "the data URL is not base64-encoded (expected `;base64,`)")
    if kind == "audio":  # `input_audio.data` carries bare base64: the prefix goes, the type names the format
        declared = canonical_format(part.format) if part.format else format_of_mime(data.mime)
        odd = ["`input_audio.data` holds a data URL, not bare base64"]
        return _audio_facts(part, info, url, data, declared, accepted, diags, fitting, odd)
    family = {"video": "video/", "image": "image/"}.get(kind)
    if family and not data.mime.startswith(family):
        what = f"a {data.mime}" if data.mime else "an untyped"
        return reject("malformed-data-url", f"{_A[kind]} part carries {what} data URL, not {family}*")
    size = data.decoded_size
    try:
        content = identify(kind, data.read, size, declared=canonical_mime(data.mime) if data.mime else None)
    except NotTheContent as exc:
        said = str(exc) if exc.damaged else f"declared {data.declared or 'no type'}, but {exc}"
        return reject("format-mismatch", said, data=data, size=size)
    declared = canonical_image_mime(data.mime) if kind == "image" else canonical_mime(data.mime)
    if kind != "file" and not (compatible(declared, content.mime) or declared == content.mime):
        return reject(
            "format-mismatch",
            f"declared {data.declared}, but the bytes are {content.mime}",
            data=data,
            size=size,
            mime=content.mime,
        )
    if kind == "file" and declared == "application/pdf" and content.mime != declared:
        return reject("format-mismatch", f"declared {data.declared}, but the bytes are not a PDF", data=data, size=size)
    if accepted and declared not in canonical_mimes(accepted) and not fitting:
        return reject(
            "unsupported-format",
            f"{data.declared} is not accepted by OpenRouter (accepted: {', '.join(accepted)})",
            fit=True,  # remuxed, re-encoded or converted into a format the route takes
            data=data,
            size=size,
            mime=content.mime,
        )
    send_mime = documented_form(data, accepted, at, diags, kind) if kind != "file" else _file_form(data, at, diags)
    mime = send_mime or (content.mime if kind == "file" else declared)
    return PartFacts(part, info, url, mime, size, content.duration, data, send_mime=send_mime, content=content)


def _file_form(data: DataUrl, at: str, diags: list[Diagnostic]) -> str | None:
    """A file's data URL goes out under its own type; only wrapped base64 makes it be written again."""
    return documented_form(data, (), at, diags, "file") if data.breaks else None


def _inline_audio(
    part: MediaPart, text: str, accepted: tuple[str, ...], diags: list[Diagnostic], fitting: bool
) -> PartFacts:
    """``input_audio.data`` as OpenRouter documents it: bare base64, typed by ``format``."""
    declared = canonical_format(part.format) if part.format else None
    info = UrlInfo("data")
    try:
        data = parse_base64(part.source if part.source is not None else text, AUDIO_MIME.get(declared or "", ""))
    except DataUrlError as exc:
        diags.append(
            Diagnostic("malformed-data-url", f"`input_audio.data` is not base64: {exc}", part.url_pointer, kind="audio")
        )
        return PartFacts(part, info, text, sendable=False)
    return _audio_facts(part, info, text, data, declared, accepted, diags, fitting)


def _audio_facts(
    part: MediaPart,
    info: UrlInfo,
    url: str,
    data: DataUrl,
    declared: str | None,
    accepted: tuple[str, ...],
    diags: list[Diagnostic],
    fitting: bool,
    odd: list[str] | None = None,
) -> PartFacts:
    """The facts of inline audio; ``odd`` says how its shape departs from the documented one already."""
    odd = list(odd or [])
    at = part.url_pointer
    fmt_at = f"{part.holder}/format" if part.format is not None else at
    size = data.decoded_size
    try:
        content = identify("audio", data.read, size, declared=declared)
    except NotTheContent as exc:
        said = f"declared {part.format}" if part.format else "no format declared"
        diags.append(Diagnostic("format-mismatch", str(exc) if exc.damaged else f"{said}, but {exc}", at, kind="audio"))
        return PartFacts(part, info, url, size=size, data=data, sendable=False)
    reshape = bool(odd) or data.breaks > 0
    if part.format is None:
        odd.append("`input_audio` names no `format`")
        reshape = True
    elif declared is None:
        diags.append(
            Diagnostic(
                "format-mismatch",
                f"`format` is {part.format!r}, which names no audio format; the bytes are {content.format}",
                pointer=fmt_at,
                kind="audio",
            )
        )
        return PartFacts(part, info, url, size=size, data=data, sendable=False, content=content)
    elif declared != content.format:
        diags.append(
            Diagnostic(
                "format-mismatch",
                f"`format` says {part.format}, but the bytes are {content.format} (a wrong format may be silently "
                "ignored upstream)",
                pointer=fmt_at,
                kind="audio",
            )
        )
        return PartFacts(part, info, url, size=size, data=data, sendable=False, content=content)
    elif part.format != declared:
        diags.append(
            Diagnostic(
                "mime-alias",
                f"`format` is {part.format!r}; OpenRouter's name for it is `{declared}`",
                pointer=fmt_at,
                fix=f'Write `"format": "{declared}"` (send through router, which does it for you).',
                kind="audio",
            )
        )
        reshape = True
    if odd:
        diags.append(_nonstandard(part, "; ".join(odd)))
    _wrapped(data, at, diags, "audio")
    if content.format not in accepted and not fitting:
        diags.append(
            Diagnostic(
                "unsupported-format",
                f"{content.format} audio is not accepted by OpenRouter (accepted: {', '.join(accepted)})",
                pointer=fmt_at,
                fit=True,  # transcoded to a format the route takes
                kind="audio",
            )
        )
        return PartFacts(part, info, url, content.mime, size, content.duration, data, sendable=False, content=content)
    return PartFacts(part, info, url, content.mime, size, content.duration, data, content=content, reshape=reshape)
