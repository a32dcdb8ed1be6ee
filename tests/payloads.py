"""The requests tests send, built by keyword: chat completions and Responses API requests carrying media.

    video_request(url)                                 # a text part, then one video part per URL
    video_request(url, model=TEXT_ONLY, only=["google-vertex"], key="videoUrl", stream=True)
    video_messages(url)                                # the same messages, for SDK calls that take them apart
    responses_request(url)                             # the Responses API shape: `input` items, URL strings
    text_request()                                     # a request without any video
    audio_request(b64, fmt="wav")                      # `input_audio` parts (bare base64 or a URL, and a format)
    audio_request(url, key="audio_url", api="responses", model=AUDIO_MODEL)
    file_request(url, filename="report.pdf")           # `file` parts (Responses: `input_file` items)
    image_request(url, only=["anthropic"])             # a text part, then one image part per URL (Claude)
    image_request(url, api="responses")                # the same as `input_image` items of a Responses request
    mixed_request(video_part(url), audio_part(b64, "m4a"), image_part(url))  # several kinds in one message

The text part comes first, so a request's first media part is at ``/messages/0/content/1`` (Responses:
``/input/0/content/1``). Shapes only one test needs (a batch line, a LiteLLM call) stay in that test.
"""

from __future__ import annotations

from typing import Any, Literal

GEMINI = "google/gemini-2.5-flash"  # takes video; served by google-vertex and google-ai-studio
TEXT_ONLY = "openai/gpt-4o-mini"  # takes no video
YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"  # the canonical form router normalises links to
YOUTU_BE = "https://youtu.be/dQw4w9WgXcQ"  # a short link to the same video
Api = Literal["chat", "responses"]
AUDIO_MODEL = "openai/gpt-audio"  # takes audio, served by openai (wav and mp3 only) and azure
CLAUDE = (
    "anthropic/claude-sonnet-4.5"  # images and PDFs (100 pages), no video; anthropic, amazon-bedrock, google-vertex
)
PROMPT = "What happens in this video?"


def video_messages(*urls: str, key: str = "video_url", text: str = PROMPT) -> list[dict[str, Any]]:
    """One user message: a text part, then a video part per URL under ``key`` (``videoUrl``: the SDK spelling)."""
    parts = [{"type": "text", "text": text}, *({"type": "video_url", key: {"url": url}} for url in urls)]
    return [{"role": "user", "content": parts}]


def video_request(
    *urls: str, model: str = GEMINI, only: list[str] | None = None, key: str = "video_url", **extra: Any
) -> dict[str, Any]:
    """A chat-completion request: ``model``, ``video_messages(*urls, key=key)``, then ``extra`` fields;
    ``only`` is short for ``provider={"only": only}``."""
    return _request({"model": model, "messages": video_messages(*urls, key=key), **extra}, only)


def responses_request(
    *urls: str, model: str = GEMINI, only: list[str] | None = None, key: str = "video_url", **extra: Any
) -> dict[str, Any]:
    """A Responses API request: one input message with an `input_text` item, then an `input_video` item per URL
    (``{"type": "input_video", key: url}``: a URL string, not an object)."""
    content = [{"type": "input_text", "text": PROMPT}, *({"type": "input_video", key: url} for url in urls)]
    return _request({"model": model, "input": [{"role": "user", "content": content}], **extra}, only)


def _request(request: dict[str, Any], only: list[str] | None) -> dict[str, Any]:
    """``request`` with ``provider={"only": only}`` when ``only`` is given."""
    if only is not None:
        assert "provider" not in request, "give `only` or `provider`, not both"
        request["provider"] = {"only": only}
    return request


def _with_parts(
    parts: list[dict[str, Any]], model: str, api: Api, text: str, only: list[str] | None, extra: dict[str, Any]
) -> dict[str, Any]:
    """One user message (chat) or input item (Responses): a text part, then ``parts``."""
    field, text_type = ("input", "input_text") if api == "responses" else ("messages", "text")
    content = [{"type": text_type, "text": text}, *parts]
    return _request({"model": model, field: [{"role": "user", "content": content}], **extra}, only)


def audio_part(data: str, fmt: str | None = "wav", *, key: str = "input_audio") -> dict[str, Any]:
    """``{"type": "input_audio", "input_audio": {"data": data, "format": fmt}}`` (``fmt=None``: no format); with
    ``key="audio_url"`` the undocumented ``{"type": "audio_url", "audio_url": {"url": data}}``."""
    if key == "audio_url":
        return {"type": "audio_url", "audio_url": {"url": data}}
    return {"type": "input_audio", "input_audio": {"data": data} if fmt is None else {"data": data, "format": fmt}}


def audio_request(
    *data: str,
    model: str = GEMINI,
    fmt: str | None = "wav",
    key: str = "input_audio",
    api: Api = "chat",
    only: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A request with an audio part per ``data`` (bare base64, a data URL or a URL: ``audio_part``), in either API
    (the Responses API's `input_audio` item has the chat part's shape)."""
    parts = [audio_part(d, fmt, key=key) for d in data]
    return _with_parts(parts, model, api, "Transcribe this recording.", only, extra)


def file_part(
    url: str, filename: str | None = "report.pdf", *, api: Api = "chat", key: str = "file_data"
) -> dict[str, Any]:
    """A file part: ``{"type": "file", "file": {"filename", "file_data": url}}``, or the Responses API's
    ``{"type": "input_file", "filename", key: url}`` (``key``: ``file_data`` or ``file_url``); ``filename=None``
    leaves the name out."""
    named = {} if filename is None else {"filename": filename}
    if api == "responses":
        return {"type": "input_file", **named, key: url}
    return {"type": "file", "file": {**named, "file_data": url}}


def file_request(
    *urls: str,
    model: str = CLAUDE,
    filename: str | None = "report.pdf",
    key: str = "file_data",
    api: Api = "chat",
    only: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A request with a file part per URL or data URL (``file_part``), in either API."""
    parts = [file_part(u, filename, api=api, key=key) for u in urls]
    return _with_parts(parts, model, api, "Summarise this document.", only, extra)


def text_request(model: str = TEXT_ONLY, text: str = "hi", **extra: Any) -> dict[str, Any]:
    """A chat-completion request with no video part: what router must pass through untouched."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def video_part(url: str) -> dict[str, Any]:
    """A video part as chat completions write it."""
    return {"type": "video_url", "video_url": {"url": url}}


def image_part(url: str, api: Api = "chat") -> dict[str, Any]:
    """An image part: ``image_url`` holding ``{"url": url}`` in chat, an `input_image` item (a URL string) in the
    Responses API."""
    if api == "responses":
        return {"type": "input_image", "image_url": url}
    return {"type": "image_url", "image_url": {"url": url}}


def mixed_request(
    *parts: dict[str, Any], model: str = GEMINI, only: list[str] | None = None, api: Api = "chat", **extra: Any
) -> dict[str, Any]:
    """One user message: a text part, then ``parts`` (any kinds); chat completions, or ``api="responses"``."""
    return _with_parts(list(parts), model, api, "What is in these?", only, extra)


def image_request(
    *urls: str, model: str = CLAUDE, only: list[str] | None = None, api: Api = "chat", **extra: Any
) -> dict[str, Any]:
    """A request for ``model`` with a text part, then an image part per URL (``image_part``)."""
    return mixed_request(*(image_part(url, api) for url in urls), model=model, only=only, api=api, **extra)
