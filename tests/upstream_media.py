"""The fake OpenRouter's rules for audio, images and files: what its providers would refuse, judged on their own.

Like ``upstream.py`` this imports nothing from ``router``: it reads the wire format as OpenRouter documents it and
the bytes as the providers would (a few magic numbers, a PNG or JPEG header, PDF page objects), so a test that
passes here proves router sent what a real upstream takes.

- audio: ``{"type": "input_audio", "input_audio": {"data": <bare base64>, "format": <name>}}`` only (an
  ``audio_url`` part, a URL or a ``data:`` prefix in ``data`` are refused: "direct URLs are not supported for audio
  content"); the bytes must be the declared format, and the format one the provider takes;
- images: ``{"type": "image_url", "image_url": {"url": ...}}`` (Responses: ``input_image`` with ``image_url``);
  http(s) URLs are fetched by every provider but Bedrock and Claude on Vertex ("URL sources are not supported"),
  data URLs read exactly ``data:image/<png|jpeg|webp|gif>;base64,`` and must be what they say; Anthropic (Claude
  anywhere) refuses more than 5 MiB of base64 per image and sides over 8000 px (2000 px past 20 images), xAI
  takes jpeg and png only, Bedrock 3.75 MB;
- files: ``{"type": "file", "file": {"filename", "file_data"}}`` (Responses: ``input_file`` with ``file_data`` or
  ``file_url``); a URL is fetched by OpenRouter; a data URL ``data:application/pdf;base64,`` must hold a PDF;
  Claude, Bedrock and OpenAI take at most 100 pages, and Claude no encrypted PDF ("Standard PDF (no
  passwords/encryption)"). A model without file input gets PDFs read by the file-parser plugin, unless the request
  asks for the ``native`` engine.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Mapping
from typing import Any

__all__ = ["MediaRejection", "accept_part", "file_parser_reads", "media_parts", "model_takes"]

AUDIO_FORMATS = {
    "openai": {"wav", "mp3"},
    "google-ai-studio": {"wav", "mp3", "aiff", "aac", "ogg", "flac"},
    "google-vertex": {"wav", "mp3", "aac", "flac", "m4a", "ogg"},
}
ALL_AUDIO = {"wav", "mp3", "aiff", "aac", "ogg", "flac", "m4a", "pcm16", "pcm24"}
IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif"}
_PAGE = re.compile(rb"/Type\s*/Page(?![s\w])")


class MediaRejection(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


def model_takes(model: str, kind: str) -> bool:
    """Which models take which media, for the models the tests use."""
    if model.startswith("google/"):
        return True
    if model.startswith(("anthropic/", "x-ai/")):
        return kind in ("image", "file")
    if model.startswith("openai/gpt-4o-audio") or model.startswith("openai/gpt-audio"):
        return kind in ("audio", "image", "file")
    if model.startswith("openai/gpt-4o") or model.startswith("openai/gpt-5"):
        return kind in ("image", "file")
    return False


def file_parser_reads(request: Mapping[str, Any], files: list[Mapping[str, Any]], responses: bool) -> bool:
    """Whether OpenRouter's file-parser plugin reads these files for a model without file input: every one a PDF (a
    ``data:application/pdf`` URL, or a URL to a ``.pdf``) and no ``native`` engine asked for."""
    plugins = request.get("plugins")
    for plugin in plugins if isinstance(plugins, list) else []:
        pdf = plugin.get("pdf") if isinstance(plugin, Mapping) and plugin.get("id") == "file-parser" else None
        if isinstance(pdf, Mapping) and pdf.get("engine") == "native":
            return False
    for part in files:
        holder = part if responses else part.get("file")
        url = holder.get("file_data", holder.get("file_url")) if isinstance(holder, Mapping) else None
        if not isinstance(url, str) or not url.startswith(("data:application/pdf;", "http://", "https://")):
            return False
        if not url.startswith("data:") and not url.split("?", 1)[0].lower().endswith(".pdf"):
            return False
    return True


def media_parts(parts: list[Mapping[str, Any]], responses: bool) -> list[tuple[str, Mapping[str, Any]]]:
    """(kind, part) of every audio, image and file part of one message's content; refuses undocumented shapes."""
    found = []
    for part in parts:
        kind = part.get("type")
        if kind in ("audio_url", "imageUrl") or "imageUrl" in part or "inputAudio" in part:
            raise MediaRejection(f"unknown content part {kind or next(iter(part), '?')!r}")
        if kind == "input_audio":
            found.append(("audio", part))
        elif kind == ("input_image" if responses else "image_url"):
            found.append(("image", part))
        elif kind == ("input_file" if responses else "file"):
            found.append(("file", part))
    return found


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaRejection(f"Base64 decoding failed for {what}: {exc}") from None


def _data_url(url: str, family: str) -> tuple[str, bytes]:
    head, comma, payload = url.partition(",")
    params = head[5:].split(";")
    if not comma or params[1:] != ["base64"] or not params[0].startswith(family):
        raise MediaRejection(f"data URLs must read data:{family}<type>;base64,<payload>")
    return params[0].lower(), _base64(payload, "the data URL")


def _audio_format(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE6 == 0xE2):
        return "mp3"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if data[4:8] == b"ftyp":
        return "m4a"
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0:
        return "aac"
    return None


def _image(data: bytes) -> tuple[str, int, int] | None:
    """Type and pixel size from the header (PNG, JPEG, GIF, WebP)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if data[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", data[6:10])
        return "image/gif", width, height
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", 0, 0
    if data[:2] == b"\xff\xd8":
        at = 2
        while at + 9 < len(data):
            marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[at + 5 : at + 9])
                return "image/jpeg", width, height
            at += 2 + length
        return "image/jpeg", 0, 0
    return None


def _claude(model: str) -> bool:
    return model.startswith("anthropic/")


def accept_part(
    provider: str, model: str, kind: str, part: Mapping[str, Any], count: int, responses: bool
) -> dict[str, Any]:
    """What ``provider`` makes of one audio, image or file part (``count``: parts of that kind in the request)."""
    base = provider.split("/", 1)[0]
    if kind == "audio":
        return _audio(base, part)
    if kind == "image":
        return _image_part(base, model, part, count, responses)
    return _file(base, model, part, responses)


def _audio(base: str, part: Mapping[str, Any]) -> dict[str, Any]:
    holder = part.get("input_audio")
    if not isinstance(holder, Mapping) or not isinstance(holder.get("data"), str):
        raise MediaRejection("an input_audio part needs input_audio.data")
    data_text, fmt = holder["data"], holder.get("format")
    if data_text.startswith(("http://", "https://")):
        raise MediaRejection("direct URLs are not supported for audio content")
    if data_text.startswith("data:"):
        raise MediaRejection('Base64 decoding failed for "data:audio/..." (send bare base64)')
    taken = AUDIO_FORMATS.get(base, ALL_AUDIO)
    if fmt not in taken:
        raise MediaRejection(f"Invalid value: {fmt!r}. Supported values are: {', '.join(sorted(taken))}.")
    data = _base64(data_text, "input_audio.data")
    real = _audio_format(data)
    if real is not None and real != fmt:
        raise MediaRejection(
            f"The audio file could not be decoded or its format is not supported ({real} sent as {fmt})."
        )
    return {"kind": "audio", "format": fmt, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _image_part(base: str, model: str, part: Mapping[str, Any], count: int, responses: bool) -> dict[str, Any]:
    holder = part.get("image_url")
    url = holder if isinstance(holder, str) else holder.get("url") if isinstance(holder, Mapping) else None
    if not isinstance(url, str):
        raise MediaRejection("an image part needs image_url.url" if not responses else "input_image needs image_url")
    base64_only = base == "amazon-bedrock" or (base == "google-vertex" and _claude(model))
    if not url.startswith("data:"):
        if base64_only:
            raise MediaRejection("image.source.base64.data: URL sources are not supported")
        return {"kind": "image", "url": url}
    mime, data = _data_url(url, "image/")
    if mime not in IMAGE_TYPES:
        raise MediaRejection(f"unsupported image type {mime}")
    found = _image(data)
    if found is None or found[0] != mime:
        raise MediaRejection("Could not process image")
    _, width, height = found
    if base == "xai" and mime not in ("image/jpeg", "image/png"):
        raise MediaRejection(f"xAI takes jpg/jpeg or png, not {mime}")
    if base == "amazon-bedrock" and len(data) > 3_750_000:
        raise MediaRejection(f"image exceeds 3.75 MB: {len(data)} bytes")
    if _claude(model):
        encoded = len(url.partition(",")[2])
        if encoded > 5 * 2**20:
            raise MediaRejection(f"image exceeds 5 MB maximum: {encoded} bytes > {5 * 2**20} bytes")
        side = 2000 if count > 20 else 8000
        if max(width, height) > side:
            raise MediaRejection(f"At least one of the image dimensions exceed max allowed size: {side} pixels")
    return {"kind": "image", "mime": mime, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _file(base: str, model: str, part: Mapping[str, Any], responses: bool) -> dict[str, Any]:
    holder = part if responses else part.get("file")
    if not isinstance(holder, Mapping):
        raise MediaRejection("a file part needs file.file_data")
    url = holder.get("file_data") if "file_data" in holder else holder.get("file_url")
    if not isinstance(url, str):
        raise MediaRejection("a file part needs file_data (or, in the Responses API, file_url)")
    if not url.startswith("data:"):  # OpenRouter fetches a PDF URL itself, whatever the provider
        return {"kind": "file", "url": url}
    mime, data = _data_url(url, "")
    if mime == "application/pdf":
        if data[:5] != b"%PDF-":
            raise MediaRejection("The PDF specified was not valid.")
        if _claude(model) and b"/Encrypt" in data:
            raise MediaRejection("The PDF specified is password protected or encrypted.")
        pages = len(_PAGE.findall(data))
        if (_claude(model) or base in ("amazon-bedrock", "openai")) and pages > 100:
            raise MediaRejection("A maximum of 100 PDF pages may be provided.")
    return {"kind": "file", "mime": mime, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
