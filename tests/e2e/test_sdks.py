"""The real SDKs (openai sync and async, on httpx and httpx2; the official openrouter SDK) through router."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import httpx2
import openai
import pytest
from openrouter import OpenRouter
from openrouter import errors as openrouter_errors
from payloads import GEMINI, TEXT_ONLY, YOUTU_BE, YOUTUBE, video_messages
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router.transport import AsyncHttpx2RouterTransport, Httpx2RouterTransport

CaseUrl = Callable[[str], tuple[str, str]]


def _content_of(completion: Any) -> Any:
    return json.loads(completion.choices[0].message.content)


@pytest.fixture(params=["httpx", "httpx2"])
def sdk(request: pytest.FixtureRequest, upstream: FakeOpenRouter) -> Iterator[Callable[..., openai.OpenAI]]:
    """``sdk(router)``: an ``openai.OpenAI`` on a legacy ``httpx.Client`` or an ``httpx2.Client``."""
    made: list[openai.OpenAI] = []

    def make(r: router.Router, **kwargs: Any) -> openai.OpenAI:
        http_client: Any = (
            httpx.Client(transport=router.RouterTransport(r))
            if request.param == "httpx"
            else httpx2.Client(transport=Httpx2RouterTransport(r))
        )
        client = openai.OpenAI(
            base_url=upstream.base_url, api_key="test", http_client=http_client, timeout=10, **kwargs
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(params=["httpx", "httpx2"])
def async_sdk(request: pytest.FixtureRequest, upstream: FakeOpenRouter) -> Callable[..., openai.AsyncOpenAI]:
    """``async_sdk(router)``: an ``openai.AsyncOpenAI`` on a legacy ``httpx.AsyncClient`` or an ``httpx2`` one."""

    def make(r: router.Router, **kwargs: Any) -> openai.AsyncOpenAI:
        http_client: Any = (
            httpx.AsyncClient(transport=router.AsyncRouterTransport(r))
            if request.param == "httpx"
            else httpx2.AsyncClient(transport=AsyncHttpx2RouterTransport(r))
        )
        return openai.AsyncOpenAI(
            base_url=upstream.base_url, api_key="test", http_client=http_client, timeout=10, **kwargs
        )

    return make


# -- openai, sync -------------------------------------------------------------------------------------------


def test_youtube_shorts_to_gemini_goes_to_ai_studio(
    sdk: Callable[..., openai.OpenAI], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """A YouTube Shorts link to Gemini reaches AI Studio as a watch?v= link."""
    client = sdk(local_router)
    completion = client.chat.completions.create(
        model=GEMINI, messages=video_messages("https://www.youtube.com/shorts/dQw4w9WgXcQ")
    )
    seen = _content_of(completion)
    assert seen["provider"] == "google-ai-studio"
    assert seen["videos"] == [{"kind": "youtube", "id": "dQw4w9WgXcQ", "url": YOUTUBE}]
    assert upstream.requests[-1].json()["provider"]["only"] == ["google-ai-studio"]


def test_http_url_to_vertex_is_downloaded_and_inlined(
    sdk: Callable[..., openai.OpenAI],
    local_router: router.Router,
    upstream: FakeOpenRouter,
    case_url: CaseUrl,
    clip_sha: dict[str, str],
) -> None:
    """An http URL to Gemini pinned to Vertex arrives as a data URL holding exactly the clip's bytes."""
    url, _ = case_url("/clip.mp4")
    completion = sdk(local_router).chat.completions.create(
        model=GEMINI, messages=video_messages(url), extra_body={"provider": {"only": ["google-vertex"]}}
    )
    seen = _content_of(completion)
    assert seen["provider"] == "google-vertex"
    assert [(v["kind"], v["sha256"], v["mime"]) for v in seen["videos"]] == [("data", clip_sha["mp4"], "video/mp4")]


def test_rewritten_content_length_matches_bytes_received(
    sdk: Callable[..., openai.OpenAI], local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl
) -> None:
    """The Content-Length of the rewritten request is exactly the number of bytes the upstream read."""
    url, _ = case_url("/clip.webm")
    sdk(local_router).chat.completions.create(
        model=GEMINI, messages=video_messages(url), extra_body={"provider": {"only": ["google-vertex"]}}
    )
    seen = upstream.requests[-1]
    assert seen.status == 200
    assert seen.content_length == seen.body_size
    assert "transfer-encoding" not in seen.headers
    assert seen.headers["authorization"] == "Bearer test"


def test_text_only_request_is_byte_identical_to_a_plain_client(
    sdk: Callable[..., openai.OpenAI], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """A text-only request through router reaches the upstream with the bytes a plain client sends."""
    messages: Any = [{"role": "user", "content": "Say hi. Mention video_url in passing."}]
    sdk(local_router).chat.completions.create(model=TEXT_ONLY, messages=messages, temperature=0.25)
    with openai.OpenAI(base_url=upstream.base_url, api_key="test") as plain:
        plain.chat.completions.create(model=TEXT_ONLY, messages=messages, temperature=0.25)
    routed, direct = upstream.requests
    assert routed.body == direct.body


def test_video_to_text_only_model_raises_bad_request_and_sends_nothing(
    sdk: Callable[..., openai.OpenAI],
    local_router: router.Router,
    upstream: FakeOpenRouter,
    media_server: MediaServer,
    case_url: CaseUrl,
) -> None:
    """A video for a text-only model is the SDK's ordinary BadRequestError, and the upstream sees nothing."""
    url, target = case_url("/clip.mp4")
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(local_router).chat.completions.create(model=TEXT_ONLY, messages=video_messages(url))
    assert caught.value.status_code == 400
    body: Any = caught.value.body
    assert [d["rule"] for d in body["metadata"]["diagnostics"]] == ["model-lacks-video"]
    assert upstream.requests == []
    assert media_server.hits(target) == 0


def test_blocked_url_raises_bad_request_without_a_download(
    sdk: Callable[..., openai.OpenAI],
    strict_router: router.Router,
    upstream: FakeOpenRouter,
    media_server: MediaServer,
    case_url: CaseUrl,
) -> None:
    """A loopback URL with the default router is ``blocked-url``: no download, no upstream request."""
    url, target = case_url("/clip.mp4")
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(strict_router).chat.completions.create(
            model=GEMINI, messages=video_messages(url), extra_body={"provider": {"only": ["google-vertex"]}}
        )
    body: Any = caught.value.body
    assert "blocked-url" in [d["rule"] for d in body["metadata"]["diagnostics"]]
    assert media_server.hits(target) == 0
    assert upstream.requests == []


def test_sdk_does_not_retry_a_rejection(
    upstream: FakeOpenRouter, local_router: router.Router, media_server: MediaServer, case_url: CaseUrl
) -> None:
    """A 400 from router is final: one transport call, one download attempt, no upstream request."""
    calls = 0

    class Counting(router.RouterTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            return super().handle_request(request)

    url, target = case_url("/status/404")
    client = openai.OpenAI(
        base_url=upstream.base_url,
        api_key="test",
        max_retries=3,
        # openai 3.x annotates http_client as httpx2.Client but accepts a legacy httpx.Client at runtime
        http_client=httpx.Client(transport=Counting(local_router)),  # type: ignore[arg-type]
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=GEMINI, messages=video_messages(url), extra_body={"provider": {"only": ["google-vertex"]}}
        )
    body: Any = caught.value.body
    assert "unreachable-url" in [d["rule"] for d in body["metadata"]["diagnostics"]]
    assert calls == 1
    assert media_server.hits(target) == 1
    assert upstream.requests == []


def test_sdk_retry_of_an_upstream_error_resends_the_whole_body(
    sdk: Callable[..., openai.OpenAI],
    local_router: router.Router,
    upstream: FakeOpenRouter,
    media_server: MediaServer,
    case_url: CaseUrl,
) -> None:
    """A 5xx passes through, the SDK retries, and every attempt carries the full body; the video downloads once."""
    url, target = case_url("/clip.mp4")
    upstream.fail_with = (502, "bad gateway")
    with pytest.raises(openai.InternalServerError):
        sdk(local_router, max_retries=2).with_options(timeout=10).chat.completions.create(
            model=GEMINI, messages=video_messages(url), extra_body={"provider": {"only": ["google-vertex"]}}
        )
    assert [r.status for r in upstream.requests] == [502, 502, 502]
    assert len({r.body for r in upstream.requests}) == 1
    assert all(r.content_length == r.body_size for r in upstream.requests)
    assert media_server.hits(target) == 1


def test_streaming_response_arrives_chunk_by_chunk(
    sdk: Callable[..., openai.OpenAI], local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl
) -> None:
    """The SDK gets the first streamed chunk while the upstream still holds back the rest."""
    url, _ = case_url("/clip.mp4")
    upstream.stream_gate = gate = threading.Event()
    stream = sdk(local_router).chat.completions.create(
        model=GEMINI,
        messages=video_messages(url),
        stream=True,
        extra_body={"provider": {"only": ["google-vertex"]}},
    )
    text = ""
    for chunk in stream:
        delta = chunk.choices[0].delta.content if chunk.choices else None
        if delta and not text:
            assert upstream.stream_paused.is_set()
            gate.set()
        text += delta or ""
    assert gate.is_set()
    assert json.loads(text)["provider"] == "google-vertex"


def test_caller_request_is_not_mutated(
    sdk: Callable[..., openai.OpenAI], local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl
) -> None:
    """The caller's messages and provider preferences are unchanged after router rewrote what was sent."""
    url, _ = case_url("/clip.mp4")
    messages = video_messages(url)
    extra = {"provider": {"only": ["google-vertex"], "allow_fallbacks": False}}
    before = copy.deepcopy((messages, extra))
    sdk(local_router).chat.completions.create(model=GEMINI, messages=messages, extra_body=extra)
    assert (messages, extra) == before
    assert upstream.requests[-1].json()["messages"][0]["content"][1]["video_url"]["url"].startswith("data:video/mp4;")


def test_same_url_twice_downloads_once(
    sdk: Callable[..., openai.OpenAI],
    local_router: router.Router,
    upstream: FakeOpenRouter,
    media_server: MediaServer,
    case_url: CaseUrl,
) -> None:
    """Two requests naming the same URL share one download through the router's cache."""
    url, target = case_url("/clip.mp4")
    client = sdk(local_router)
    for _ in range(2):
        client.chat.completions.create(
            model=GEMINI, messages=video_messages(url), extra_body={"provider": {"only": ["google-vertex"]}}
        )
    assert media_server.hits(target) == 1
    first, second = (r.summary["videos"][0]["sha256"] for r in upstream.requests)
    assert first == second


def test_openai_default_client_needs_the_httpx2_transport(
    local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """``openai.DefaultHttpxClient`` is an httpx2 client in openai 3.x: an httpx transport in it says which to use."""
    client = openai.OpenAI(
        base_url=upstream.base_url,
        api_key="test",
        max_retries=0,
        http_client=openai.DefaultHttpxClient(transport=router.RouterTransport(local_router)),  # type: ignore[arg-type]
    )
    with pytest.raises(TypeError, match="Httpx2RouterTransport"):
        client.chat.completions.create(model=TEXT_ONLY, messages=[{"role": "user", "content": "hi"}])
    routed = openai.OpenAI(
        base_url=upstream.base_url,
        api_key="test",
        http_client=openai.DefaultHttpxClient(transport=Httpx2RouterTransport(local_router)),
    )
    completion = routed.chat.completions.create(model=GEMINI, messages=video_messages(YOUTU_BE))
    assert _content_of(completion)["provider"] == "google-ai-studio"
    assert len(upstream.requests) == 1


# -- openai, async ------------------------------------------------------------------------------------------


async def test_async_sdk_inlines_for_vertex(
    async_sdk: Callable[..., openai.AsyncOpenAI],
    local_router: router.Router,
    upstream: FakeOpenRouter,
    case_url: CaseUrl,
    clip_sha: dict[str, str],
) -> None:
    """The async SDK's request is downloaded and inlined through the async transport."""
    url, _ = case_url("/clip.mpeg")
    async with async_sdk(local_router) as client:
        completion = await client.chat.completions.create(
            model=GEMINI, messages=video_messages(url), extra_body={"provider": {"only": ["google-vertex"]}}
        )
    seen = _content_of(completion)
    assert [(v["sha256"], v["mime"]) for v in seen["videos"]] == [(clip_sha["mpeg"], "video/mpeg")]


async def test_async_sdk_streams_chunk_by_chunk(
    async_sdk: Callable[..., openai.AsyncOpenAI],
    local_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """The async SDK streams a YouTube answer chunk by chunk through the async transport."""
    upstream.stream_gate = gate = threading.Event()
    text = ""
    async with async_sdk(local_router) as client:
        stream = await client.chat.completions.create(model=GEMINI, messages=video_messages(YOUTU_BE), stream=True)
        async for chunk in stream:
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta and not text:
                assert upstream.stream_paused.is_set()
                gate.set()
            text += delta or ""
    assert json.loads(text)["provider"] == "google-ai-studio"


async def test_async_sdk_rejection_is_bad_request(
    async_sdk: Callable[..., openai.AsyncOpenAI], strict_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """The async SDK raises BadRequestError for a URL no provider can take, and nothing is sent."""
    async with async_sdk(strict_router, max_retries=3) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(
                model=GEMINI,
                messages=video_messages(YOUTUBE),
                extra_body={"provider": {"only": ["google-vertex"]}},
            )
    body: Any = caught.value.body
    assert [d["rule"] for d in body["metadata"]["diagnostics"]] == ["url-not-accepted"]
    assert upstream.requests == []


# -- the official openrouter SDK ----------------------------------------------------------------------------


@pytest.fixture
def openrouter_sdk(upstream: FakeOpenRouter, local_router: router.Router) -> Iterator[OpenRouter]:
    """The openrouter SDK with router's transports on both of its clients (sync and async)."""
    sdk = OpenRouter(
        api_key="test",
        server_url=upstream.base_url,
        client=httpx.Client(transport=router.RouterTransport(local_router)),
        async_client=httpx.AsyncClient(transport=router.AsyncRouterTransport(local_router)),
    )
    with sdk:
        yield sdk


def test_openrouter_sdk_inlines_for_vertex(
    openrouter_sdk: OpenRouter, upstream: FakeOpenRouter, case_url: CaseUrl, clip_sha: dict[str, str]
) -> None:
    """The openrouter SDK's chat.send goes through router: the clip arrives inline at Vertex."""
    url, _ = case_url("/clip.mp4")
    result = openrouter_sdk.chat.send(model=GEMINI, messages=video_messages(url), provider={"only": ["google-vertex"]})
    seen = _content_of(result)
    assert seen["provider"] == "google-vertex"
    assert seen["videos"][0]["sha256"] == clip_sha["mp4"]


async def test_openrouter_sdk_async_routes_youtube(openrouter_sdk: OpenRouter, upstream: FakeOpenRouter) -> None:
    """The openrouter SDK's async chat.send_async is routed: a Shorts link reaches AI Studio normalised."""
    result = await openrouter_sdk.chat.send_async(
        model=GEMINI, messages=video_messages("https://m.youtube.com/shorts/dQw4w9WgXcQ")
    )
    assert _content_of(result)["videos"][0]["url"] == YOUTUBE


def test_openrouter_sdk_streams_through_router(openrouter_sdk: OpenRouter, upstream: FakeOpenRouter) -> None:
    """The openrouter SDK's streamed answer arrives chunk by chunk through the sync transport."""
    upstream.stream_gate = gate = threading.Event()
    text = ""
    stream = openrouter_sdk.chat.send(model=GEMINI, messages=video_messages(YOUTU_BE), stream=True)
    with stream as events:
        for event in events:
            delta = event.choices[0].delta.content if event.choices else None
            if delta and not text:
                assert upstream.stream_paused.is_set()
                gate.set()
            text += delta or ""
    assert json.loads(text)["provider"] == "google-ai-studio"


def test_openrouter_sdk_rejection_is_its_bad_request_error(
    openrouter_sdk: OpenRouter, upstream: FakeOpenRouter
) -> None:
    """A rejection surfaces as the openrouter SDK's own BadRequestResponseError, with router's message."""
    with pytest.raises(openrouter_errors.BadRequestResponseError) as caught:
        openrouter_sdk.chat.send(model=TEXT_ONLY, messages=video_messages(YOUTUBE))
    assert "model-lacks-video" in str(caught.value)
    assert upstream.requests == []
