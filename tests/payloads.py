"""The requests tests send, built by keyword: chat completions and Responses API requests carrying videos.

    video_request(url)                                 # a text part, then one video part per URL
    video_request(url, model=TEXT_ONLY, only=["google-vertex"], key="videoUrl", stream=True)
    video_messages(url)                                # the same messages, for SDK calls that take them apart
    responses_request(url)                             # the Responses API shape: `input` items, URL strings
    text_request()                                     # a request without any video

The text part comes first, so a request's first video part is at ``/messages/0/content/1`` (Responses:
``/input/0/content/1``). Shapes only one test needs (a batch line, a LiteLLM call) stay in that test.
"""

from __future__ import annotations

from typing import Any

GEMINI = "google/gemini-2.5-flash"  # takes video; served by google-vertex and google-ai-studio
TEXT_ONLY = "openai/gpt-4o-mini"  # takes no video
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
