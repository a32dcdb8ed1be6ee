"""The rule catalogue and the one diagnostic record every renderer prints.

Rule names are public (output, suppressions, docs): never rename one without a deprecation path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .kinds import Kind

Severity = Literal["error", "warning"]
# Who repairs a finding: `router check --fix` in the file ("fix"), the rewrite when the request is sent through
# router ("rewrite"), or a router that fits videos to the route, `--fit` / Router(fit=True) ("fit").
FixedBy = Literal["fix", "rewrite", "fit"]

# Said after a rule's own fix when fitting the video to the route would lift the finding.
FIT_HINT = (
    "Or let router fit it to the route: `--fit` (Router(fit=True)) remuxes or re-encodes a video, transcodes "
    "audio and downscales or converts an image within the provider's limits; `--fit-trim` / `--fit-split` also "
    "cut a video or a recording that is too long, and split a PDF over the page limit."
)

__all__ = ["RULES", "Diagnostic", "FixedBy", "Rule", "Severity", "scrub", "shorten"]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    severity: Severity
    summary: str
    explanation: str
    fix: str
    fixed_by: tuple[FixedBy, ...] = ()

    @property
    def fixable(self) -> bool:
        """Something repairs it (``--fix`` or the rewrite): the "(fixable)" of the rules table."""
        return bool(self.fixed_by)


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule(
            "invalid-json",
            "error",
            "the file is not JSON / JSONL",
            "The payload could not be parsed as JSON (or, for .jsonl files, one line could not).",
            "Fix the JSON syntax at the reported position.",
        ),
        Rule(
            "invalid-request",
            "error",
            "not a chat-completion (or Responses) request",
            "A chat-completion request is a JSON object with a `messages` list; each message's `content` is "
            "a string or a list of parts: a video part carries `video_url: {url: ...}`, an image part "
            "`image_url: {url: ...}`, an audio part `input_audio: {data, format}`, a file part `file: {filename, "
            "file_data}`. A Responses API request has an `input` (a string, or a list of messages whose items "
            "carry `video_url`, `image_url`, `input_audio` or `file_data`/`file_url`).",
            "Give the request a `messages` list (or an `input`) and well-formed content parts.",
        ),
        Rule(
            "unknown-model",
            "warning",
            "the model is not in the capability table",
            "Without the model's modalities and providers, router cannot tell whether it takes video or "
            "where to route it; the parts are still checked on their own.",
            "Check the model id (`router models --modality video`) or add it to a capabilities override.",
        ),
        Rule(
            "model-lacks-video",
            "error",
            "the model does not take video input",
            "The model's `input_modalities` has no `video`, so the video would be dropped or refused.",
            "Use a video-capable model (`router models --modality video`).",
        ),
        Rule(
            "model-lacks-audio",
            "error",
            "the model does not take audio input",
            "The model's `input_modalities` has no `audio`, so the recording would be dropped or refused.",
            "Use a model that takes audio (`router models --modality audio`).",
        ),
        Rule(
            "model-lacks-image",
            "error",
            "the model does not take image input",
            "The model's `input_modalities` has no `image`, so the image would be dropped or refused.",
            "Use a model that takes images (`router models --modality image`).",
        ),
        Rule(
            "model-lacks-file",
            "error",
            "the model does not take this file",
            "The model's `input_modalities` has no `file` and OpenRouter's file-parser cannot stand in: the file "
            "is not a PDF, or the request asks for the `native` engine only. (A PDF to such a model is parsed to "
            "text by the file-parser plugin, mistral-ocr by default, and is not a finding.)",
            "Use a model that takes files (`router models --modality file`), or send a PDF with a parsing engine "
            '(`plugins: [{"id": "file-parser", "pdf": {"engine": "pdf-text"}}]`).',
        ),
        Rule(
            "unknown-provider",
            "error",
            "a named provider is not in the capability table",
            "A provider named with `--provider` or in the request's `provider` preferences is unknown, so "
            "its video rules cannot be checked.",
            "Use a provider slug from `router providers` (a variant tag such as `google-vertex/us-east5` "
            "follows its base slug).",
        ),
        Rule(
            "url-needs-inline",
            "warning",
            "the provider does not fetch this URL; router will download and inline it",
            "The provider takes no URL of this kind (audio is never taken as a URL) but accepts base64, so router "
            "downloads the file and sends it inline when it rewrites the request.",
            "Nothing to do when sending through router; otherwise send it as base64 (a data URL).",
            fixed_by=("rewrite",),
        ),
        Rule(
            "url-not-accepted",
            "error",
            "no provider can take this URL, even after rewriting",
            "The URL kind is not accepted by the provider and cannot be inlined (a YouTube page is never "
            "downloaded; `gs://` needs credentials; `ftp:` and other schemes are not video URLs).",
            "Route to a provider that takes this URL kind, or send the video as a data URL.",
        ),
        Rule(
            "blocked-url",
            "error",
            "the URL points at a private, loopback, link-local or metadata address, or a local file",
            "router never fetches private network addresses or reads local files named in a payload: that "
            "would let a payload exfiltrate internal data.",
            "Use a public URL, or pass --allow-private-urls (Router(allow_private_urls=True)) for local development.",
        ),
        Rule(
            "unreachable-url",
            "error",
            "the media could not be downloaded",
            "A download needed for inlining failed: an HTTP error status, a host with no address, no connection, "
            "a TLS certificate that does not verify, too many redirects, a timeout, or a server that broke off the "
            "download. 408, 425, 429, 5xx, timeouts and lost connections are transient (worth a retry); failures are "
            "never cached. A download over the cap is `too-large`, one whose bytes are not the part's kind "
            "`format-mismatch`.",
            "Check that the URL is public and not expired; retry transient failures.",
        ),
        Rule(
            "unsupported-format",
            "error",
            "the format is not accepted",
            "OpenRouter documents video/mp4, video/mpeg, video/mov and video/webm for video; png, jpeg, webp and "
            "gif for images; wav, mp3, aiff, aac, ogg, flac, m4a, pcm16 and pcm24 for audio. Some providers take "
            "fewer (Anthropic and OpenAI no HEIC, xAI only jpeg and png, OpenAI only wav and mp3 and only PDF files).",
            "Convert it (for example `ffmpeg -i in.mkv out.mp4`, an image to PNG or JPEG, audio to mp3) or pick a "
            "provider that accepts it.",
        ),
        Rule(
            "malformed-data-url",
            "error",
            "the data URL is malformed",
            "A data URL reads `data:<type>;base64,<payload>`: the payload must be valid base64 and the type the "
            "part's kind (video/*, image/*; `input_audio.data` carries the base64 alone).",
            "Re-encode the file with a correct `data:<type>;base64,` prefix.",
        ),
        Rule(
            "format-mismatch",
            "error",
            "the bytes are not what the MIME type says",
            "The format read from the bytes differs from the declared MIME type (or `input_audio.format`), or the "
            "bytes are not the part's kind at all (HTML, another kind of media, a cut or corrupted file). A wrong "
            "audio format may be silently ignored upstream, and the model answers as if no audio was sent.",
            "Declare the real type, or re-encode the file.",
        ),
        Rule(
            "too-large",
            "error",
            "a part or the request is over the provider's limit",
            "A part's bytes, pixels, pages or duration, the number of parts of a kind, or the encoded request "
            "exceeds what the provider accepts; the message says which.",
            "Send smaller, shorter or fewer files, or route to a provider with a higher limit.",
        ),
        Rule(
            "no-provider-accepts",
            "error",
            "no provider that serves this model can take the request",
            "Every candidate provider (after the request's own preferences) refuses some part, even after inlining.",
            "Change the parts or the provider preferences as the per-provider reasons say.",
        ),
        Rule(
            "fallback-unusable",
            "warning",
            "a fallback model in `models` cannot take the request as router sends it",
            "OpenRouter tries the models of `models` in turn when the first one fails. router routes the "
            "request (`provider.only`) to the providers that take its video; a fallback none of whose providers "
            "takes the request, as rewritten, fails in turn if it is ever reached.",
            "Remove the fallback, or send a video every model's providers take (smaller, or as a URL they fetch).",
        ),
        Rule(
            "nonstandard-part",
            "warning",
            "an audio part written in a shape OpenRouter does not document",
            "OpenRouter reads audio from `input_audio: {data: <base64>, format: <name>}` only. An `audio_url` "
            "part, a `data:` URL in `input_audio.data`, or no `format` may be refused or ignored upstream; "
            "router sends the documented shape, with the format read from the bytes.",
            "Send `input_audio` with bare base64 and its format (send through router, which does it for you).",
            fixed_by=("rewrite",),
        ),
        Rule(
            "camelcase-key",
            "warning",
            "SDK-style `videoUrl` (`imageUrl`, `inputAudio`) key in a wire payload",
            "The HTTP API expects `video_url` (`image_url`, `input_audio`); the camelCase spelling is the SDKs' "
            "and is ignored on the wire.",
            "Rename the key to its snake_case spelling (`router check --fix`, or send through router).",
            fixed_by=("fix", "rewrite"),
        ),
        Rule(
            "legacy-video-part",
            "warning",
            "a chat content part of the deprecated type `input_video`",
            'OpenRouter\'s chat completions spec marks `{"type": "input_video", "video_url": {...}}` as '
            "deprecated; in practice only Gemini tolerated it and other providers answered 400. The Responses "
            "API's `input_video` items are not affected.",
            'Write `"type": "video_url"` (`router check --fix`, or send through router).',
            fixed_by=("fix", "rewrite"),
        ),
        Rule(
            "mime-alias",
            "warning",
            "the MIME type (or audio format) is spelt in a way OpenRouter does not document",
            "OpenRouter documents exactly video/mp4, video/mpeg, video/mov and video/webm, as "
            "`data:<type>;base64,` (and image/png, image/jpeg, image/webp, image/gif for images; format names "
            "such as `wav` and `mp3` for audio). Other names for the same thing (`video/quicktime`, what Python's "
            "`mimetypes` says for .mov; `video/x-m4v`; `image/jpg`; `VIDEO/MP4`; an audio `format` of `audio/wav` "
            'or `mpeg`) and parameters (`;codecs="avc1.42E01E"`, `;name=clip.mp4`) may be refused upstream. router '
            "sends the documented name and nothing else.",
            "Declare the documented name, without parameters (`router check --fix`, or send through router).",
            fixed_by=("fix", "rewrite"),
        ),
        Rule(
            "wrapped-base64",
            "warning",
            "the data URL's base64 is wrapped in lines",
            "`base64 clip.mp4` (and MIME encoders, RFC 2045) break base64 into lines of 76 characters. Decoders "
            "that follow RFC 2045 skip the line breaks, but a data URL is one line and providers may refuse "
            "them. router checks the payload without them and sends it on one line; any other character that "
            "is not base64 is still `malformed-data-url`.",
            "Encode without line breaks (`base64 -w 0`), or let router unwrap it (`router check --fix`, or send "
            "through router).",
            fixed_by=("fix", "rewrite"),
        ),
    )
}


_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[/\\]*")


def _without_userinfo(text: str) -> str:
    """Cut ``user:password@`` however the URL is spelt: a password may hold ``/``, ``?`` or ``#`` too, so
    everything up to the last ``@`` of the authority-looking part goes when it looks like credentials."""
    scheme = _SCHEME.match(text)
    if scheme is None or "@" not in text:
        return text
    rest = text[scheme.end() :]
    at = rest.rfind("@")
    before = rest[:at]
    # `host/@user/clip.mp4` is a path with an @ in it; `user:pass@host`, `user@host`, `u:p/w@host` are not.
    if ":" in before or not any(c in before for c in "/?#"):
        return text[: scheme.end()] + rest[at + 1 :]
    return text


# The start of bare base64 (what `input_audio.data` holds): no URL runs this long without a `.` or a `:`.
_BARE_BASE64 = re.compile(r"[A-Za-z0-9+/]{64}")


def shorten(text: str, limit: int = 80) -> str:
    """Shorten URLs for messages: data URLs keep only their prefix, bare base64 shows none of itself; credentials
    (``user:pass@``), query strings (signatures, tokens) and fragments are cut, so neither payloads nor secrets
    reach messages and logs."""
    text = text.strip()
    if text[:5].lower() == "data:":
        comma = text.find(",")  # no copy of a 100 MB payload to count it
        return f"{text[: min(comma, 60)]},…({len(text) - comma - 1} chars)" if comma >= 0 else text[:40] + "…"
    if _BARE_BASE64.match(text):
        return "inline base64 data"
    text = _without_userinfo(text)
    cut = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=-1)
    text = text[: cut + 1] + "…" if cut >= 0 else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


# A URL in free text (`scheme://...`), or a data URL with payload characters after its comma. Shortened ones
# (`...;base64,…(N chars)`, `https://host/a?…`) shorten to themselves: scrubbing twice changes nothing.
_URL_IN_TEXT = re.compile(
    r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`]*[^\s'\"<>`.,:;!?)\]]"  # trailing punctuation is the sentence's
    r"|\bdata:[^\s,]{0,256},[A-Za-z0-9+/=%_-]+"
)


def scrub(text: str) -> str:
    """Free text (a message, an exception's words) with every URL in it shown through ``shorten``."""
    return _URL_IN_TEXT.sub(lambda m: shorten(m.group()), text) if ":" in text else text


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding. The severity is the rule's: a rule has one severity everywhere (output, exit status)."""

    rule: str
    message: str
    pointer: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None
    fix: str | None = None
    # provider -> why it refused, when the finding is about a route (the 400 answer's metadata carries it)
    reasons: Mapping[str, str] = field(default_factory=dict, compare=False)
    fit: bool = False  # fitting the media to the route (`--fit`) would lift it
    kind: Kind | None = None  # the kind of media part it is about (None: the request as a whole)

    def __post_init__(self) -> None:
        rule = RULES[self.rule]  # an unknown rule name is a bug, not a runtime condition
        fix = f"{rule.fix} {FIT_HINT}" if self.fit else rule.fix
        # Words from anywhere (a library's exception, a provider's reason) show URLs the one way, as messages do.
        object.__setattr__(self, "message", scrub(self.message))
        object.__setattr__(self, "fix", scrub(self.fix) if self.fix is not None else fix)
        if self.reasons:
            object.__setattr__(self, "reasons", {k: scrub(v) for k, v in self.reasons.items()})

    @property
    def severity(self) -> Severity:
        return RULES[self.rule].severity

    @property
    def fixed_by(self) -> tuple[FixedBy, ...]:
        by = RULES[self.rule].fixed_by
        return (*by, "fit") if self.fit else by

    @property
    def fixable(self) -> bool:
        return bool(self.fixed_by)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON record (field order is part of the output contract)."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "pointer": self.pointer,
            "rule": self.rule,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
        }
