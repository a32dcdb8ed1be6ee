"""The requests tests send, built by keyword: chat completions and Responses API requests carrying media.

    video_request(url)                                 # a text part, then one video part per URL
    video_request(url, model=TEXT_ONLY, only=["google-vertex"], key="videoUrl", stream=True)
    video_messages(url)                                # the same messages, for SDK calls that take them apart
    responses_request(url)                             # the Responses API shape: `input` items, URL strings
    text_request()                                     # a request without any video
    image_request(url, only=["anthropic"])             # a text part, then one image part per URL (Claude)
    image_request(url, api="responses")                # the same as `input_image` items of a Responses request
    mixed_request(video_part(url), audio_part(b64, "m4a"), image_part(url))  # several kinds in one message

The text part comes first, so a request's first media part is at ``/messages/0/content/1`` (Responses:
``/input/0/content/1``). Shapes only one test needs (a batch line, a LiteLLM call) stay in that test.
"""

from __future__ import annotations

from typing import Any

GEMINI = "google/gemini-2.5-flash"  # takes video; served by google-vertex and google-ai-studio
TEXT_ONLY = "openai/gpt-4o-mini"  # takes no video
CLAUDE = "anthropic/claude-sonnet-4.5"  # takes images, no video; served by anthropic, amazon-bedrock, google-vertex
YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"  # the canonical form router normalises links to
YOUTU_BE = "https://youtu.be/dQw4w9WgXcQ"  # a short link to the same video
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
    request: dict[str, Any] = {"model": model, "messages": video_messages(*urls, key=key), **extra}
    if only is not None:
        assert "provider" not in extra, "give `only` or `provider`, not both"
        request["provider"] = {"only": only}
    return request


def responses_request(
    *urls: str, model: str = GEMINI, only: list[str] | None = None, key: str = "video_url", **extra: Any
) -> dict[str, Any]:
    """A Responses API request: one input message with an `input_text` item, then an `input_video` item per URL
    (``{"type": "input_video", key: url}``: a URL string, not an object)."""
    content = [{"type": "input_text", "text": PROMPT}, *({"type": "input_video", key: url} for url in urls)]
    request: dict[str, Any] = {"model": model, "input": [{"role": "user", "content": content}], **extra}
    if only is not None:
        assert "provider" not in extra, "give `only` or `provider`, not both"
        request["provider"] = {"only": only}
    return request


def text_request(model: str = TEXT_ONLY, text: str = "hi", **extra: Any) -> dict[str, Any]:
    """A chat-completion request with no video part: what router must pass through untouched."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def video_part(url: str) -> dict[str, Any]:
    return {"type": "video_url", "video_url": {"url": url}}


def audio_part(data: str, fmt: str) -> dict[str, Any]:
    """An `input_audio` part as OpenRouter documents it: bare base64 and the format's name."""
    return {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}


def image_part(url: str, api: str = "chat") -> dict[str, Any]:
    """An image part: ``image_url`` holding ``{"url": url}`` in chat, an `input_image` item (a URL string) in the
    Responses API."""
    if api == "responses":
        return {"type": "input_image", "image_url": url}
    return {"type": "image_url", "image_url": {"url": url}}


def mixed_request(
    *parts: dict[str, Any], model: str = GEMINI, only: list[str] | None = None, api: str = "chat", **extra: Any
) -> dict[str, Any]:
    """One user message: a text part, then ``parts`` (any kinds); chat completions, or ``api="responses"``."""
    text = {"type": "input_text" if api == "responses" else "text", "text": "What is in these?"}
    field = "input" if api == "responses" else "messages"
    request: dict[str, Any] = {"model": model, field: [{"role": "user", "content": [text, *parts]}], **extra}
    if only is not None:
        assert "provider" not in extra, "give `only` or `provider`, not both"
        request["provider"] = {"only": only}
    return request


def image_request(
    *urls: str, model: str = CLAUDE, only: list[str] | None = None, api: str = "chat", **extra: Any
) -> dict[str, Any]:
    """A request for ``model`` with a text part, then an image part per URL (``image_part``)."""
    return mixed_request(*(image_part(url, api) for url in urls), model=model, only=only, api=api, **extra)
