"""aiohttp through router, as its users write it: the openai SDK's aiohttp client (``openai.DefaultAioHttpClient``,
an httpx2 client over an aiohttp transport) and a plain ``aiohttp.ClientSession`` with router's client middleware."""

from __future__ import annotations

import gzip
import json
import sys
import threading
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import openai
import pytest
from docblocks import DOCS_KEY, DocsExample
from httpx_aiohttp.httpx2 import AiohttpTransport
from payloads import GEMINI, TEXT_ONLY, video_messages, video_request
from servers import MediaServer, Sink
from upstream import FakeOpenRouter

import router

CaseUrl = Callable[[str], tuple[str, str]]
AUTH = {"Authorization": "Bearer test"}


def _video_url(received: Any) -> str:
    url: str = received.json()["messages"][0]["content"][1]["video_url"]["url"]
    return url


# -- openai.DefaultAioHttpClient ----------------------------------------------------------------------------


def _openai(r: router.Router, upstream: FakeOpenRouter, **kwargs: Any) -> tuple[openai.AsyncOpenAI, AiohttpTransport]:
    """What a user writes: the router's httpx2 transport around the aiohttp one, in openai's aiohttp client."""
    aio = AiohttpTransport()
    transport = router.AsyncHttpx2RouterTransport(r, wrapped=aio)
    http_client = openai.DefaultAioHttpClient(transport=transport)
    return openai.AsyncOpenAI(base_url=upstream.base_url, api_key="test", http_client=http_client, **kwargs), aio


async def test_the_docs_example_of_openais_aiohttp_client_sends_the_clip_inlined(
    upstream: FakeOpenRouter, docs_example: DocsExample, clip_sha: dict[str, str]
) -> None:
    """The client docs/clients-http.md builds for openai's aiohttp client, made as written with OpenRouter on
    loopback, sends a clip's URL inlined through aiohttp."""
    client = docs_example.run("clients-http.md", "openai's aiohttp client", names_the_clip=False)["client"]
    async with client:
        messages = video_messages(docs_example.clip_url)
        completion = await client.chat.completions.create(model=GEMINI, messages=messages)
    answer = json.loads(completion.choices[0].message.content or "")
    assert [(v["kind"], v["sha256"]) for v in answer["videos"]] == [("data", clip_sha["mp4"])]
    assert upstream.requests[-1].headers["authorization"] == f"Bearer {DOCS_KEY}"


async def test_openai_aiohttp_client_inlines_a_video_url(
    local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl, clip_sha: dict[str, str]
) -> None:
    """Through aiohttp, a clip's URL for Vertex arrives as a data URL of its bytes with an exact Content-Length."""
    url, _ = case_url("/clip.mp4")
    client, aio = _openai(local_router, upstream)
    async with client:
        completion = await client.chat.completions.create(
            model=GEMINI, messages=video_messages(url), extra_body={"provider": {"only": ["google-vertex"]}}
        )
        assert isinstance(aio.client, aiohttp.ClientSession)  # aiohttp sent it
    assert json.loads(completion.choices[0].message.content or "")["videos"][0]["sha256"] == clip_sha["mp4"]
    seen = upstream.requests[-1]
    assert _video_url(seen).startswith("data:video/mp4;base64,")
    assert seen.content_length == seen.body_size
    assert "transfer-encoding" not in seen.headers


async def test_openai_aiohttp_client_rejection_is_bad_request(
    local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl, media_server: MediaServer
) -> None:
    """A video for a text-only model is the SDK's BadRequestError with the router's message, never retried or sent."""
    url, target = case_url("/clip.mp4")
    client, _ = _openai(local_router, upstream, max_retries=3)
    async with client:
        with pytest.raises(openai.BadRequestError, match="model-lacks-video") as caught:
            await client.chat.completions.create(model=TEXT_ONLY, messages=video_messages(url))
    body: Any = caught.value.body
    assert body["message"].startswith("request rejected: model-lacks-video")
    assert upstream.requests == []
    assert media_server.hits(target) == 0


async def test_openai_aiohttp_client_streams_chunk_by_chunk(
    local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl
) -> None:
    """The first streamed chunk reaches the SDK while the upstream still holds back the rest."""
    url, _ = case_url("/clip.mp4")
    upstream.stream_gate = gate = threading.Event()
    text = ""
    client, _ = _openai(local_router, upstream)
    async with client:
        stream = await client.chat.completions.create(
            model=GEMINI,
            messages=video_messages(url),
            stream=True,
            extra_body={"provider": {"only": ["google-vertex"]}},
        )
        async for chunk in stream:
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta and not text:
                assert upstream.stream_paused.is_set()
                gate.set()
            text += delta or ""
    assert json.loads(text)["provider"] == "google-vertex"


# -- aiohttp.ClientSession(middlewares=[...]) ---------------------------------------------------------------


def _session(r: router.Router) -> aiohttp.ClientSession:
    """What a user writes: the router's middleware on the session."""
    return aiohttp.ClientSession(middlewares=[router.AiohttpMiddleware(r)], headers=AUTH)


def test_the_docs_example_sends_the_clip_inlined(
    upstream: FakeOpenRouter, docs_example: DocsExample, clip_sha: dict[str, str]
) -> None:
    """The lines docs/clients-http.md gives aiohttp users, run as written with OpenRouter and the clip on loopback,
    send the clip inlined with the key from the environment and print the answer."""
    docs_example.run("clients-http.md", "aiohttp")
    answer = docs_example.answer()
    assert [(v["kind"], v["sha256"]) for v in answer["videos"]] == [("data", clip_sha["mp4"])]
    seen = upstream.requests[-1]
    assert seen.headers["authorization"] == f"Bearer {DOCS_KEY}"
    assert seen.content_length == seen.body_size


async def test_session_inlines_a_video_url_with_an_exact_length(
    local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl, clip_sha: dict[str, str]
) -> None:
    """``session.post(url, json=...)``: the clip arrives as a data URL, with an exact Content-Length, not chunked."""
    url, _ = case_url("/clip.mp4")
    async with (
        _session(local_router) as session,
        session.post(upstream.chat_url, json=video_request(url, only=["google-vertex"])) as response,
    ):
        assert response.status == 200, await response.text()
    seen = upstream.requests[-1]
    assert seen.summary["videos"][0]["sha256"] == clip_sha["mp4"]
    assert _video_url(seen).startswith("data:video/mp4;base64,")
    assert seen.content_length == seen.body_size
    assert "transfer-encoding" not in seen.headers
    assert seen.headers["authorization"] == "Bearer test"


async def test_session_routes_a_youtube_link(local_router: router.Router, upstream: FakeOpenRouter) -> None:
    """A YouTube Shorts link to Gemini goes out as a watch?v= link with ``provider.only`` set to AI Studio."""
    async with (
        _session(local_router) as session,
        session.post(upstream.chat_url, json=video_request("https://youtube.com/shorts/dQw4w9WgXcQ")) as response,
    ):
        assert response.status == 200
    assert upstream.requests[-1].json()["provider"]["only"] == ["google-ai-studio"]
    assert _video_url(upstream.requests[-1]) == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


async def test_session_rejection_is_a_client_response_error(
    local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl, media_server: MediaServer
) -> None:
    """A rejection raises ``aiohttp.ClientResponseError`` (status 400, the router's message): nothing is downloaded
    or sent."""
    url, target = case_url("/clip.mp4")
    async with _session(local_router) as session:
        with pytest.raises(aiohttp.ClientResponseError) as caught:
            await session.post(upstream.chat_url, json=video_request(url, model=TEXT_ONLY))
    assert caught.value.status == 400
    assert caught.value.message.startswith("request rejected: model-lacks-video")
    assert caught.value.request_info.url.path == "/api/v1/chat/completions"
    assert caught.value.headers is not None
    assert caught.value.headers["X-Should-Retry"] == "false"
    assert upstream.requests == []
    assert media_server.hits(target) == 0


async def test_session_sends_a_text_request_byte_for_byte(
    local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """A text request reaches the upstream with the bytes the caller gave, and ``json=`` as a plain session sends it."""
    body = b'{ "model" : "openai/gpt-4o-mini",\n  "messages": [{"role": "user", "content": "video_url \\u00e9"}] }'
    request = {"model": TEXT_ONLY, "messages": [{"role": "user", "content": "Mention video_url. é"}]}
    async with _session(local_router) as session, aiohttp.ClientSession(headers=AUTH) as plain:
        async with session.post(upstream.chat_url, data=body) as response:
            assert response.status == 200
        async with session.post(upstream.chat_url, json=request), plain.post(upstream.chat_url, json=request):
            pass
    sent, routed, direct = upstream.requests
    assert sent.body == body
    assert routed.body == direct.body == json.dumps(request).encode()


async def test_session_rewrites_a_streamed_body_with_an_exact_length(
    local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl, clip_sha: dict[str, str]
) -> None:
    """A video request the caller streams (an async generator, chunked) goes out inlined with a Content-Length."""
    url, _ = case_url("/clip.webm")
    raw = json.dumps(video_request(url, only=["google-vertex"])).encode()

    async def pieces() -> AsyncIterator[bytes]:
        yield raw[:50]
        yield raw[50:]

    async with _session(local_router) as session, session.post(upstream.chat_url, data=pieces()) as response:
        assert response.status == 200, await response.text()
    seen = upstream.requests[-1]
    assert "transfer-encoding" not in seen.headers
    assert seen.content_length == seen.body_size > len(raw)
    assert seen.summary["videos"][0]["sha256"] == clip_sha["webm"]


async def test_session_compression_is_dropped_for_a_rewrite_only(
    local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl
) -> None:
    """With ``compress=``, a video request is checked as the JSON it is and goes out plain with an exact length
    (as the httpx transports send a rewrite); a text request goes out compressed, as aiohttp was told."""
    url, _ = case_url("/clip.mp4")
    text = {"model": TEXT_ONLY, "messages": [{"role": "user", "content": "hi"}]}
    async with _session(local_router) as session:
        async with session.post(
            upstream.chat_url, json=video_request(url, only=["google-vertex"]), compress="gzip"
        ) as response:
            assert response.status == 200, await response.text()
        routed = upstream.requests[-1]
        async with session.post(upstream.chat_url, json=text, compress="gzip") as response:
            assert response.status == 400  # the fake upstream reads no compressed bodies: it saw gzip
    assert "content-encoding" not in routed.headers
    assert routed.content_length == routed.body_size
    assert _video_url(routed).startswith("data:video/mp4;base64,")
    passed = upstream.requests[-1]
    assert passed.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(passed.body)) == text


async def test_session_relays_a_stream_event_by_event(
    local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl
) -> None:
    """Reading ``response.content`` line by line, the first SSE event arrives while the upstream holds the rest."""
    url, _ = case_url("/clip.mp4")
    upstream.stream_gate = gate = threading.Event()
    lines = []
    request = video_request(url, only=["google-vertex"], stream=True)
    async with _session(local_router) as session, session.post(upstream.chat_url, json=request) as response:
        assert response.status == 200
        async for line in response.content:
            if b'"content": "{' in line:  # the first content chunk
                assert upstream.stream_paused.is_set()
                gate.set()
            lines.append(line.strip())
    assert gate.is_set()
    assert [line for line in lines if line][-1] == b"data: [DONE]"


async def test_session_other_endpoints_pass_through(local_router: router.Router, upstream: FakeOpenRouter) -> None:
    """A POST to another endpoint is forwarded as sent, even when it mentions a video and is not JSON."""
    body = b'{"video_url": not json at all'
    async with _session(local_router) as session, session.post(f"{upstream.base_url}/embeddings", data=body) as r:
        assert r.status == 404
    assert upstream.requests[-1].body == body


async def test_session_inlines_a_60_mb_video_in_flat_memory(
    local_router: router.Router, media_server: MediaServer
) -> None:
    """Inlining a 60 MB video (80 MB of base64) through the middleware allocates a few megabytes at most: the body
    is streamed from the spool with its exact Content-Length, never joined."""
    size = 60_000_000
    request = video_request(media_server.url(f"/big?n={size}"), model=GEMINI, only=["google-vertex"])
    with Sink() as sink:
        async with _session(local_router) as session:
            tracemalloc.start()
            try:
                async with session.post(sink.chat_url, json=request) as response:
                    assert response.status == 200
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    [(got, headers)] = sink.received
    assert got == int(headers["content-length"]) > size * 4 // 3
    assert "transfer-encoding" not in headers
    assert peak < 12 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_missing_aiohttp_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without aiohttp, ``router.AiohttpMiddleware`` fails with the pip command that fixes it."""
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    monkeypatch.delitem(sys.modules, "router._transports.aiohttp_middleware", raising=False)
    monkeypatch.delattr(router._transports, "aiohttp_middleware", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'router\[aiohttp\]'"):
        router.AiohttpMiddleware  # noqa: B018 - the attribute access is the import
