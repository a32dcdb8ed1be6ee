"""LangChain's ChatOpenAI through router's transports, against the strict fake OpenRouter.

ChatOpenAI hands its ``http_client`` and ``http_async_client`` to the openai SDK, which takes an ``httpx`` or an
``httpx2`` client (openai 3.x is built on httpx2; langchain-openai builds its own defaults from httpx2 too), so
both pairs of transports are tried. Video goes in as the OpenAI-format block OpenRouter documents,
``{"type": "video_url", "video_url": {"url": ...}}``, which langchain-openai passes through to the wire as written.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import openai
import pytest
from docblocks import DOCS_KEY, DocsExample
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_openai import ChatOpenAI
from payloads import GEMINI, PROMPT, TEXT_ONLY, YOUTU_BE, YOUTUBE
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router.transport import AsyncHttpx2RouterTransport, Httpx2RouterTransport

CaseUrl = Callable[[str], tuple[str, str]]
VERTEX = {"provider": {"only": ["google-vertex"]}}


def _video(url: str) -> list[BaseMessage]:
    """One user message: a text block, then the video as an OpenAI-format ``video_url`` block."""
    return [HumanMessage(content=[{"type": "text", "text": PROMPT}, {"type": "video_url", "video_url": {"url": url}}])]


def _seen(message: BaseMessage) -> Any:
    """The fake upstream's summary of what it received, from the model's answer."""
    return json.loads(message.text)


@pytest.fixture(params=["httpx", "httpx2"])
def chat(request: pytest.FixtureRequest, upstream: FakeOpenRouter) -> Callable[..., ChatOpenAI]:
    """``chat(router, model=..., **kwargs)``: a ChatOpenAI whose sync and async clients carry router's transports."""

    def make(r: router.Router, model: str = GEMINI, **kwargs: Any) -> ChatOpenAI:
        if request.param == "httpx":
            clients: dict[str, Any] = {
                "http_client": httpx.Client(transport=router.RouterTransport(r)),
                "http_async_client": httpx.AsyncClient(transport=router.AsyncRouterTransport(r)),
            }
        else:
            clients = {
                "http_client": httpx2.Client(transport=Httpx2RouterTransport(r)),
                "http_async_client": httpx2.AsyncClient(transport=AsyncHttpx2RouterTransport(r)),
            }
        return ChatOpenAI(base_url=upstream.base_url, api_key="test", model=model, **clients, **kwargs)

    return make


async def test_the_docs_example_sends_the_clip_inlined(
    upstream: FakeOpenRouter, docs_example: DocsExample, clip_sha: dict[str, str]
) -> None:
    """The lines docs/clients-frameworks.md gives LangChain users, run as written with OpenRouter and the clip on
    loopback, send the clip inlined to Vertex through the sync client, and ``ainvoke`` does through the async one."""
    scope = docs_example.run("clients-frameworks.md", "LangChain (`ChatOpenAI`)")
    answers = [docs_example.answer(), _seen(await scope["llm"].ainvoke(scope["messages"]))]
    for answer in answers:
        assert answer["provider"] == "google-vertex"
        assert [(v["kind"], v["sha256"]) for v in answer["videos"]] == [("data", clip_sha["mp4"])]
    assert [r.headers["authorization"] for r in upstream.requests] == [f"Bearer {DOCS_KEY}"] * 2


def test_invoke_sends_the_clip_inlined_to_vertex(
    chat: Callable[..., ChatOpenAI],
    local_router: router.Router,
    upstream: FakeOpenRouter,
    media_server: MediaServer,
    case_url: CaseUrl,
    clip_sha: dict[str, str],
) -> None:
    """``invoke`` with an http URL pinned to Vertex (``extra_body``) reaches the upstream as a data URL of the clip."""
    url, target = case_url("/clip.mp4")
    answer = chat(local_router, extra_body=VERTEX).invoke(_video(url))
    seen = _seen(answer)
    assert seen["provider"] == "google-vertex"
    assert [(v["kind"], v["mime"], v["sha256"]) for v in seen["videos"]] == [("data", "video/mp4", clip_sha["mp4"])]
    assert upstream.requests[-1].json()["messages"][0]["content"][1]["video_url"]["url"].startswith("data:video/mp4;")
    assert media_server.hits(target) == 1


async def test_ainvoke_routes_a_youtube_link_to_ai_studio(
    chat: Callable[..., ChatOpenAI], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """``ainvoke`` with a youtu.be link reaches AI Studio as a watch?v= link, with ``provider.only`` set."""
    answer = await chat(local_router).ainvoke(_video(YOUTU_BE))
    assert _seen(answer)["videos"] == [{"kind": "youtube", "id": "dQw4w9WgXcQ", "url": YOUTUBE}]
    assert upstream.requests[-1].json()["provider"] == {"only": ["google-ai-studio"]}


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_a_rejection_is_the_openai_bad_request_error_langchain_raises(
    chat: Callable[..., ChatOpenAI], strict_router: router.Router, upstream: FakeOpenRouter, mode: str
) -> None:
    """A YouTube link pinned to Vertex surfaces as openai.BadRequestError with router's message; nothing is sent."""
    model, messages = chat(strict_router, extra_body=VERTEX, max_retries=3), _video(YOUTUBE)
    call = model.ainvoke(messages) if mode == "ainvoke" else asyncio.to_thread(model.invoke, messages)
    with pytest.raises(openai.BadRequestError) as caught:
        await call
    assert "request rejected: url-not-accepted" in str(caught.value)
    assert "google-vertex takes no YouTube links" in str(caught.value)
    body: Any = caught.value.body
    assert [d["rule"] for d in body["metadata"]["diagnostics"]] == ["url-not-accepted"]
    assert upstream.requests == []


def test_a_text_request_is_byte_identical_to_langchain_without_router(
    chat: Callable[..., ChatOpenAI], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """A text-only invoke reaches the upstream with the very bytes ChatOpenAI sends on its own clients."""
    messages = [HumanMessage(content="Say hi. Mention video_url in passing.")]
    chat(local_router, model=TEXT_ONLY, temperature=0.25).invoke(messages)
    ChatOpenAI(base_url=upstream.base_url, api_key="test", model=TEXT_ONLY, temperature=0.25).invoke(messages)
    routed, direct = upstream.requests
    assert routed.body == direct.body


def test_stream_arrives_chunk_by_chunk(
    chat: Callable[..., ChatOpenAI], local_router: router.Router, upstream: FakeOpenRouter, case_url: CaseUrl
) -> None:
    """``stream`` yields the first chunk of an inlined request while the upstream still holds back the rest."""
    url, _ = case_url("/clip.webm")
    upstream.stream_gate = gate = threading.Event()
    text = ""
    for chunk in chat(local_router, extra_body=VERTEX).stream(_video(url)):
        if chunk.text and not text:
            assert upstream.stream_paused.is_set()
            gate.set()
        text += chunk.text
    assert gate.is_set()
    assert json.loads(text)["videos"][0]["mime"] == "video/webm"


async def test_astream_arrives_chunk_by_chunk(
    chat: Callable[..., ChatOpenAI], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """``astream`` yields the first chunk of a routed YouTube request while the upstream holds back the rest."""
    upstream.stream_gate = gate = threading.Event()
    text = ""
    async for chunk in chat(local_router).astream(_video(YOUTU_BE)):
        if chunk.text and not text:
            assert upstream.stream_paused.is_set()
            gate.set()
        text += chunk.text
    assert json.loads(text)["provider"] == "google-ai-studio"


@pytest.mark.parametrize(
    "block",
    [
        {"type": "video", "url": YOUTUBE},
        {"type": "video", "url": YOUTUBE, "mime_type": "video/mp4"},
        {"type": "video", "base64": "AAAAIGZ0eXA=", "mime_type": "video/mp4"},
    ],
    ids=["url", "url-with-mime", "base64"],
)
def test_langchains_standard_video_block_is_refused_by_langchain_openai(
    chat: Callable[..., ChatOpenAI], local_router: router.Router, upstream: FakeOpenRouter, block: dict[str, str]
) -> None:
    """LangChain's standard ``{"type": "video", ...}`` block never reaches the wire with ChatOpenAI: langchain-openai
    raises ValueError for it (so the documented shape is the OpenAI-format ``video_url`` block)."""
    message = HumanMessage(content=[{"type": "text", "text": PROMPT}, block])
    with pytest.raises(ValueError, match="Block of type video is not supported"):
        chat(local_router).invoke([message])
    assert upstream.requests == []


@pytest.mark.parametrize(
    "block",
    [{"type": "video_url", "video_url": {"url": YOUTUBE}}, {"type": "input_video", "video_url": YOUTUBE}],
    ids=["video_url", "input_video"],
)
def test_the_responses_api_mode_drops_video_blocks_before_router_sees_them(
    chat: Callable[..., ChatOpenAI], local_router: router.Router, upstream: FakeOpenRouter, block: dict[str, Any]
) -> None:
    """With ``use_responses_api=True`` langchain-openai leaves a video block out of ``input`` without a word, so
    the upstream gets the text alone (why the docs say to keep ChatOpenAI on chat completions for video)."""
    message = HumanMessage(content=[{"type": "text", "text": PROMPT}, block])
    chat(local_router, use_responses_api=True).invoke([message])
    (sent,) = upstream.requests
    assert sent.path.endswith("/responses")
    assert sent.json()["input"][0]["content"] == [{"type": "input_text", "text": PROMPT}]
