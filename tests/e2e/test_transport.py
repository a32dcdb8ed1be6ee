"""The transports on the wire: what passes through untouched, what is rewritten, what never leaves."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import httpx2
import pytest
from payloads import GEMINI, TEXT_ONLY, YOUTU_BE, text_request, video_request
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router._fetch.fetcher import Fetcher, Media
from router._model.parts import MARKERS
from router._transports.core import mentions_media
from router.transport import AsyncHttpx2RouterTransport, Httpx2RouterTransport

AUTH = {"Authorization": "Bearer test"}
CaseUrl = Callable[[str], tuple[str, str]]


def _client(r: router.Router, **kwargs: Any) -> httpx.Client:
    return httpx.Client(transport=router.RouterTransport(r), headers=AUTH, timeout=10, **kwargs)


def _aclient(r: router.Router) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=router.AsyncRouterTransport(r), headers=AUTH, timeout=10)


def _summary(response: httpx.Response | httpx2.Response) -> Any:
    return json.loads(response.json()["choices"][0]["message"]["content"])


# -- pass through -------------------------------------------------------------------------------------------


def test_what_the_router_did_is_logged_safely(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl, caplog: pytest.LogCaptureFixture
) -> None:
    """The ``router`` logger says what was inlined and where it was routed, never the key or a query string;
    a pass-through logs nothing."""
    url, _ = case_url("/clip.mp4")
    caplog.set_level(logging.INFO, logger="router")
    with _client(local_router) as client:
        client.post(upstream.chat_url, json=text_request())
        assert caplog.records == []
        assert client.post(upstream.chat_url, json=video_request(url, only=["google-vertex"])).status_code == 200
    [record] = caplog.records
    assert record.name == "router"
    assert record.getMessage().startswith(f"routed a media request: inlined {url.split('?')[0]}?… (")
    assert record.getMessage().endswith("route: provider.only = ['google-vertex']")
    assert "case=" not in caplog.text
    assert "Bearer" not in caplog.text


def test_text_only_body_is_forwarded_byte_identical(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """A request without video reaches the upstream with exactly the bytes the caller sent."""
    body = b'{ "model" : "openai/gpt-4o-mini",\n  "messages": [{"role": "user", "content": "hi \\u00e9"}] }'
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert upstream.requests[-1].body == body


def test_body_without_video_is_never_parsed(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """Broken JSON without a video marker is the upstream's business: it is forwarded, not judged."""
    body = b'{"model": "openai/gpt-4o-mini", "messages": [ oops'
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, content=body)
    assert response.status_code == 400
    assert "invalid JSON body" in response.json()["error"]["message"]  # the upstream's words, not router's
    assert upstream.requests[-1].body == body


def test_video_word_in_text_only_is_forwarded_byte_identical(
    upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """A body that only mentions ``video_url`` in its text has no part to route and goes out untouched."""
    body = json.dumps(text_request(text="what is video_url?"), indent=1)
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, content=body.encode())
    assert response.status_code == 200
    assert upstream.requests[-1].body == body.encode()


def test_other_endpoints_pass_through_unparsed(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """A POST to another endpoint is forwarded as is, even when it mentions video and is not JSON."""
    body = b'{"video_url": not json at all'
    with _client(local_router) as client:
        response = client.post(f"{upstream.base_url}/embeddings", content=body)
    assert response.status_code == 404  # the upstream answered, so router let it through
    assert upstream.requests[-1].path == "/api/v1/embeddings"
    assert upstream.requests[-1].body == body


# -- rewrite ------------------------------------------------------------------------------------------------


def test_rewritten_body_has_exact_length_and_caller_headers(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl, clip_sha: dict[str, str]
) -> None:
    """A caller's chunked body is rewritten and sent with an exact Content-Length, its other headers kept."""
    url, _ = case_url("/clip.mp4")
    raw = json.dumps(video_request(url, only=["google-vertex"])).encode()

    def chunks() -> Iterator[bytes]:
        yield raw[:50]
        yield raw[50:]

    with _client(local_router) as client:
        response = client.post(upstream.chat_url, content=chunks(), headers={"X-Title": "e2e"})
    assert response.status_code == 200, response.text
    seen = upstream.requests[-1]
    assert "transfer-encoding" not in seen.headers
    assert seen.content_length == seen.body_size > len(raw)
    assert seen.headers["authorization"] == "Bearer test"
    assert seen.headers["x-title"] == "e2e"
    assert seen.summary["videos"][0]["sha256"] == clip_sha["mp4"]


def test_wrapped_transport_receives_the_rewritten_request(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl
) -> None:
    """``wrapped`` is what sends: it gets one Content-Length header, the new one, and a streamed body."""
    sent: list[httpx.Request] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return super().handle_request(request)

    url, _ = case_url("/clip.webm")
    transport = router.RouterTransport(local_router, wrapped=Recording())
    with httpx.Client(transport=transport, headers=AUTH) as client:
        response = client.post(upstream.chat_url, json=video_request(url, only=["google-vertex"]))
    assert response.status_code == 200, response.text
    (request,) = sent
    assert request.headers.get_list("content-length") == [str(upstream.requests[-1].body_size)]
    assert not isinstance(request.stream, httpx.ByteStream)  # streamed, not materialised


def test_youtube_shorts_link_is_normalised_and_routed_to_ai_studio(
    upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """A Shorts link to Gemini goes to AI Studio as a watch?v= link, the one provider that fetches YouTube."""
    request = video_request("https://youtube.com/shorts/dQw4w9WgXcQ")
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, json=request)
    assert response.status_code == 200, response.text
    sent = upstream.requests[-1].json()
    assert sent["provider"]["only"] == ["google-ai-studio"]
    assert sent["messages"][0]["content"][1]["video_url"]["url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def test_sdk_spelling_video_url_key_is_renamed(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl, clip_sha: dict[str, str]
) -> None:
    """A ``videoUrl`` part (which the upstream refuses) is sent as ``video_url`` with the video inlined."""
    url, _ = case_url("/clip.mp4")
    request = video_request(url, only=["google-vertex"])
    part = request["messages"][0]["content"][1]
    part["videoUrl"] = part.pop("video_url")
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, json=request)
    assert response.status_code == 200, response.text
    assert _summary(response)["videos"][0]["sha256"] == clip_sha["mp4"]


# -- rejection ----------------------------------------------------------------------------------------------


def test_rejection_is_an_openrouter_shaped_400_that_never_leaves(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl, media_server: Any
) -> None:
    """A video for a text-only model is answered 400 locally, with diagnostics, and nothing is downloaded."""
    url, target = case_url("/clip.mp4")
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, json=video_request(url, model=TEXT_ONLY))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400
    assert "model-lacks-video" in error["message"]
    assert [d["rule"] for d in error["metadata"]["diagnostics"]] == ["model-lacks-video"]
    assert response.headers["x-should-retry"] == "false"
    assert upstream.requests == []
    assert media_server.hits(target) == 0


def test_malformed_json_that_mentions_video_is_rejected(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """Broken JSON that mentions a video part gets router's ``invalid-json`` 400, not a trip upstream."""
    body = b'{"model": "google/gemini-2.5-flash", "messages": [{"type": "video_url", "video_url": {'
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, content=body)
    assert response.status_code == 400
    diagnostics = response.json()["error"]["metadata"]["diagnostics"]
    assert [d["rule"] for d in diagnostics] == ["invalid-json"]
    assert diagnostics[0]["line"] == 1
    assert upstream.requests == []


def test_non_utf8_body_that_mentions_video_is_rejected(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """A body that is not UTF-8 text is an ``invalid-json`` 400, not a crash inside the client."""
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, content=b'{"video_url": "\xff\xfe"}')
    assert response.status_code == 400
    assert response.json()["error"]["metadata"]["diagnostics"][0]["rule"] == "invalid-json"
    assert upstream.requests == []


def test_deeply_nested_body_that_mentions_video_is_a_400(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """A body nested past the parser's recursion limit is ``invalid-json``, not an exception in the client."""
    body = b'{"video_url": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, content=body)
    assert response.status_code == 400
    assert response.json()["error"]["metadata"]["diagnostics"][0]["message"] == "not valid JSON: nested too deeply"
    assert upstream.requests == []


def test_escaped_video_key_does_not_slip_past_the_screen(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl
) -> None:
    """``"vide\\u006f_url"`` is ``video_url`` to the upstream's parser, so it is routed like one."""
    url, _ = case_url("/clip.mp4")
    body = json.dumps(video_request(url, model=TEXT_ONLY)).replace('"video_url"', '"vide\\u006f_url"').encode()
    assert b"video_url" not in body
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, content=body)
    assert response.status_code == 400
    assert [d["rule"] for d in response.json()["error"]["metadata"]["diagnostics"]] == ["model-lacks-video"]
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("body", "seen"),
    [*((b'{"' + marker + b'": {}}', True) for marker in MARKERS),
     (b'{"vide\\u006F_url": {}}', True),
     (b'{"input\\u005fvideo": {}}', True),
     (b'{"content": "a video about caf\\u00e9 \\u003cb\\u003e"}', False),
     (b'{"content": "no such thing"}', False)],
)  # fmt: skip
def test_screen_spots_every_spelling_of_a_video_key(body: bytes, seen: bool) -> None:
    """The byte screen finds each marker, escaped or not, and lets ordinary text (escaped non-ASCII) go."""
    assert mentions_media(body) is seen


def test_escaped_text_without_video_still_passes_through(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """An escaped letter makes the screen parse the body; with no video part in it, it is forwarded as sent."""
    body = b'{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "\\u0076ideo_url?"}]}'
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, content=body)
    assert response.status_code == 200
    assert upstream.requests[-1].body == body


# -- responses ----------------------------------------------------------------------------------------------


def test_streamed_response_is_not_buffered(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl
) -> None:
    """The first SSE event reaches the caller while the upstream still holds back the rest."""
    url, _ = case_url("/clip.mp4")
    upstream.stream_gate = gate = threading.Event()
    lines = []
    with (
        _client(local_router) as client,
        client.stream("POST", upstream.chat_url, json=video_request(url, only=["google-vertex"], stream=True)) as r,
    ):
        assert r.status_code == 200
        for line in r.iter_lines():
            if '"content": "{' in line:  # the first content chunk
                assert upstream.stream_paused.is_set()
                gate.set()
            lines.append(line)
    assert gate.is_set()
    assert [line for line in lines if line][-1] == "data: [DONE]"


def test_upstream_errors_pass_through_untouched(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl
) -> None:
    """An error the upstream answers reaches the caller as the upstream wrote it."""
    url, _ = case_url("/clip.mp4")
    upstream.fail_with = (503, "provider overloaded")
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, json=video_request(url, only=["google-vertex"]))
    assert response.status_code == 503
    assert response.json() == {"error": {"code": 503, "message": "provider overloaded", "metadata": {}}}


# -- async --------------------------------------------------------------------------------------------------


async def test_async_transport_downloads_without_blocking_the_loop(
    upstream: FakeOpenRouter, local_router: router.Router, media_server: MediaServer, clip_sha: dict[str, str]
) -> None:
    """While the download runs, the event loop keeps running: the media server holds the clip until a task on the
    same loop opens its gate, which a download blocking the loop would never let happen."""
    gate = media_server.gate()

    async def open_when_held() -> None:
        await asyncio.to_thread(gate.arrived.wait, 30)
        gate.open()  # runs on the loop, while the transport awaits the held download

    opener = asyncio.create_task(open_when_held())
    async with _aclient(local_router) as client:
        url = media_server.url(f"/clip.mp4?gate={gate.name}")
        response = await client.post(upstream.chat_url, json=video_request(url, only=["google-vertex"]))
    await opener
    assert response.status_code == 200, response.text
    assert _summary(response)["videos"][0]["sha256"] == clip_sha["mp4"]


async def test_async_transport_uses_only_the_async_fetcher(
    upstream: FakeOpenRouter, table: Any, case_url: CaseUrl, clip_sha: dict[str, str]
) -> None:
    """The async transport never calls the blocking ``Fetcher.fetch``."""

    class AsyncOnly(Fetcher):
        def fetch(self, url: str, **kwargs: Any) -> Media:
            raise AssertionError("blocking fetch called on the event loop")

    with AsyncOnly(allow_private_urls=True) as fetcher:
        r = router.Router(table, allow_private_urls=True, fetcher=fetcher)
        url, _ = case_url("/clip.mov")
        async with _aclient(r) as client:
            response = await client.post(upstream.chat_url, json=video_request(url, only=["google-vertex"]))
    assert response.status_code == 200, response.text
    assert _summary(response)["videos"][0]["sha256"] == clip_sha["mov"]


async def test_async_transport_routes_a_big_body(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """A body over a megabyte (parsed off the event loop) is routed like any other."""
    request = video_request(YOUTU_BE)
    request["messages"].insert(0, {"role": "system", "content": "x" * 3_000_000})
    async with _aclient(local_router) as client:
        response = await client.post(upstream.chat_url, json=request)
    assert response.status_code == 200, response.text
    assert upstream.requests[-1].json()["provider"]["only"] == ["google-ai-studio"]
    assert upstream.requests[-1].body_size > 3_000_000


async def test_async_rejection_never_leaves(upstream: FakeOpenRouter, strict_router: router.Router) -> None:
    """The async transport answers a rejected request itself, as the sync one does."""
    async with _aclient(strict_router) as client:
        response = await client.post(upstream.chat_url, json=video_request("ftp://example.com/a.mp4"))
    assert response.status_code == 400
    assert [d["rule"] for d in response.json()["error"]["metadata"]["diagnostics"]] == ["url-not-accepted"]
    assert upstream.requests == []


# -- httpx2 -------------------------------------------------------------------------------------------------


def test_httpx2_transport_inlines_for_vertex(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl, clip_sha: dict[str, str]
) -> None:
    """The httpx2 transport rewrites like the httpx one: exact length, the clip's bytes upstream."""
    url, _ = case_url("/clip.mp4")
    with httpx2.Client(transport=Httpx2RouterTransport(local_router), headers=AUTH, timeout=10) as client:
        response = client.post(upstream.chat_url, json=video_request(url, only=["google-vertex"]))
    assert response.status_code == 200, response.text
    assert _summary(response)["videos"][0]["sha256"] == clip_sha["mp4"]
    seen = upstream.requests[-1]
    assert seen.content_length == seen.body_size


async def test_async_httpx2_transport_rejects_and_passes_through(
    upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """The async httpx2 transport answers rejections itself and forwards text-only bodies byte for byte."""
    transport = AsyncHttpx2RouterTransport(local_router)
    async with httpx2.AsyncClient(transport=transport, headers=AUTH, timeout=10) as client:
        rejected = await client.post(upstream.chat_url, json=video_request("gs://bucket/a.mp4", model=TEXT_ONLY))
        assert upstream.requests == []
        body = b'{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'
        passed = await client.post(upstream.chat_url, content=body)
    assert rejected.status_code == 400
    assert rejected.json()["error"]["metadata"]["diagnostics"][0]["rule"] == "model-lacks-video"
    assert passed.status_code == 200
    assert upstream.requests[-1].body == body


def test_missing_httpx2_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without httpx2 the httpx2 transports fail with the pip command that fixes it."""
    monkeypatch.setitem(sys.modules, "httpx2", None)
    monkeypatch.delitem(sys.modules, "router._transports.httpx2_transport", raising=False)
    monkeypatch.delattr(router._transports, "httpx2_transport", raising=False)
    from router import transport

    with pytest.raises(ImportError, match=r"pip install 'router\[httpx2\]'"):
        transport.Httpx2RouterTransport  # noqa: B018 - the attribute access is the import


def test_gemini_request_without_pin_is_planned_for_both_google_providers(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl, clip_sha: dict[str, str]
) -> None:
    """An http URL to Gemini without a pin is inlined and routed to both Google providers, Vertex first, so the
    upstream's first choice (Vertex, which takes no URL) gets the video inline."""
    url, _ = case_url("/clip.mp4")
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, json=video_request(url, model=GEMINI))
    assert response.status_code == 200, response.text
    assert upstream.requests[-1].json()["provider"] == {"only": ["google-vertex", "google-ai-studio"]}
    summary = _summary(response)
    assert summary["provider"] == "google-vertex"
    assert [(v["kind"], v["sha256"]) for v in summary["videos"]] == [("data", clip_sha["mp4"])]
