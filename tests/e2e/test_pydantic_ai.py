"""pydantic-ai's OpenRouterModel through router's transport, against the strict fake OpenRouter.

``OpenRouterProvider(http_client=...)`` hands its client to ``openai.AsyncOpenAI``; pydantic-ai 2.x takes an
``httpx2.AsyncClient`` (a legacy ``httpx.AsyncClient`` still works but is deprecated there), so the httpx2 transport
is the one to use. ``Agent.run_sync`` drives the same async client, so one transport covers both. ``VideoUrl`` becomes
a ``video_url`` part with the URL as given (pydantic-ai downloads it only with ``force_download=True``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx2
import pytest
from docblocks import DOCS_KEY, DocsExample
from payloads import GEMINI, PROMPT, TEXT_ONLY, YOUTU_BE, YOUTUBE
from pydantic_ai import Agent, UserContent, VideoUrl
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.openrouter import OpenRouterModel, OpenRouterModelSettings
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.providers.openrouter import OpenRouterProvider
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router.transport import AsyncHttpx2RouterTransport

CaseUrl = Callable[[str], tuple[str, str]]
VERTEX = OpenRouterModelSettings(openrouter_provider={"only": ["google-vertex"]})


def _prompt(url: str) -> Sequence[UserContent]:
    return [PROMPT, VideoUrl(url=url)]


@pytest.fixture
def agent(upstream: FakeOpenRouter) -> Callable[..., Agent[None, str]]:
    """``agent(router, model=...)``: an Agent on an OpenRouterModel whose client carries router's httpx2 transport;
    ``agent(None)`` is the same Agent on pydantic-ai's own client."""

    def make(r: router.Router | None, model: str = GEMINI) -> Agent[None, str]:
        client = None if r is None else httpx2.AsyncClient(transport=AsyncHttpx2RouterTransport(r))
        provider = OpenRouterProvider(base_url=upstream.base_url, api_key="test", http_client=client)
        return Agent(OpenRouterModel(model, provider=provider))

    return make


def test_the_docs_example_sends_the_clip_inlined(
    upstream: FakeOpenRouter, docs_example: DocsExample, clip_sha: dict[str, str]
) -> None:
    """The lines docs/clients-frameworks.md gives pydantic-ai users, run as written with OpenRouter and the clip on
    loopback, send the clip inlined to Vertex and print the answer."""
    docs_example.run("clients-frameworks.md", "pydantic-ai (`OpenRouterModel`)")
    answer = docs_example.answer()
    assert answer["provider"] == "google-vertex"
    assert [(v["kind"], v["sha256"]) for v in answer["videos"]] == [("data", clip_sha["mp4"])]
    assert upstream.requests[-1].headers["authorization"] == f"Bearer {DOCS_KEY}"


async def test_run_sends_the_clip_inlined_to_vertex(
    agent: Callable[..., Agent[None, str]],
    local_router: router.Router,
    upstream: FakeOpenRouter,
    media_server: MediaServer,
    case_url: CaseUrl,
    clip_sha: dict[str, str],
) -> None:
    """A VideoUrl pinned to Vertex (``openrouter_provider``) reaches the upstream as a data URL of the clip."""
    url, target = case_url("/clip.mp4")
    result = await agent(local_router).run(_prompt(url), model_settings=VERTEX)
    seen = json.loads(result.output)
    assert seen["provider"] == "google-vertex"
    assert [(v["kind"], v["mime"], v["sha256"]) for v in seen["videos"]] == [("data", "video/mp4", clip_sha["mp4"])]
    assert media_server.hits(target) == 1


def test_run_sync_routes_a_youtube_link_to_ai_studio(
    agent: Callable[..., Agent[None, str]], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """``run_sync`` with a youtu.be VideoUrl reaches AI Studio as a watch?v= link, with ``provider.only`` set."""
    result = agent(local_router).run_sync(_prompt(YOUTU_BE))
    assert json.loads(result.output)["videos"] == [{"kind": "youtube", "id": "dQw4w9WgXcQ", "url": YOUTUBE}]
    assert upstream.requests[-1].json()["provider"] == {"only": ["google-ai-studio"]}


async def test_a_rejection_is_pydantic_ais_model_http_error(
    agent: Callable[..., Agent[None, str]], strict_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """A YouTube link pinned to Vertex surfaces as ModelHTTPError (400) carrying router's message; nothing is sent."""
    with pytest.raises(ModelHTTPError) as caught:
        await agent(strict_router).run(_prompt(YOUTUBE), model_settings=VERTEX)
    assert caught.value.status_code == 400
    body: Any = caught.value.body
    assert body["message"].startswith("request rejected: url-not-accepted:")
    assert "google-vertex takes no YouTube links" in str(caught.value)
    assert [d["rule"] for d in body["metadata"]["diagnostics"]] == ["url-not-accepted"]
    assert upstream.requests == []


async def test_a_text_request_is_byte_identical_to_pydantic_ai_without_router(
    agent: Callable[..., Agent[None, str]], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """A text-only run reaches the upstream with the very bytes pydantic-ai sends on its own client."""
    prompt = "Say hi. Mention video_url in passing."
    await agent(local_router, TEXT_ONLY).run(prompt)
    await agent(None, TEXT_ONLY).run(prompt)
    routed, direct = upstream.requests
    assert routed.body == direct.body


async def test_run_stream_arrives_chunk_by_chunk(
    agent: Callable[..., Agent[None, str]], local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl
) -> None:
    """``run_stream`` yields the first text of an inlined request while the upstream still holds back the rest."""
    url, _ = case_url("/clip.mpeg")
    upstream.stream_gate = gate = threading.Event()
    text = ""
    async with agent(local_router).run_stream(_prompt(url), model_settings=VERTEX) as result:
        async for delta in result.stream_text(delta=True, debounce_by=None):
            if delta and not text:
                assert upstream.stream_paused.is_set()
                gate.set()
            text += delta
    assert json.loads(text)["videos"][0]["mime"] == "video/mpeg"


async def test_openai_chat_model_refuses_a_video_url_before_sending(
    local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """pydantic-ai's plain OpenAIChatModel raises for a VideoUrl itself (only OpenRouterModel sends video), so no
    request is made."""
    client = httpx2.AsyncClient(transport=AsyncHttpx2RouterTransport(local_router))
    provider = OpenAIProvider(base_url=upstream.base_url, api_key="test", http_client=client)
    with pytest.raises(NotImplementedError, match="VideoUrl is not supported"):
        await Agent(OpenAIChatModel(GEMINI, provider=provider)).run(_prompt(YOUTUBE))
    assert upstream.requests == []
